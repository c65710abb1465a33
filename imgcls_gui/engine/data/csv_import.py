"""The CSV importer: one row per image, labels in one column or as 0/1 columns (one per label).

Written for the CSVs people actually have: Excel's cp1252 and BOMs, CRLF, ``;`` or tab separators,
several labels in one quoted cell, Windows paths. ``datasets.load_dataset`` dispatches here.
"""

from __future__ import annotations

import codecs
import csv
import dataclasses
import io
import os
import re
from pathlib import Path

from ..errors import DatasetError
from .images import NotRegularFileError, is_image_path, open_regular_file
from .samples import SPLIT_NAMES, LabeledDataset, Problem, Sample

_DELIMITERS = (",", ";", "\t")
_LABEL_SEPARATORS = (";", "|", ",")
_PATH_COLUMNS = frozenset(
    {"path", "filepath", "file", "filename", "filenames", "files", "image", "images", "img", "imagepath", "imagename",
     "imagefile", "imgpath"}
)
_LABEL_COLUMNS = frozenset({"label", "labels", "class", "classes", "category", "categories", "tag", "tags", "target"})
_SPLIT_COLUMNS = frozenset({"split", "subset", "set", "partition"})
_POSITIVE = frozenset({"1", "1.0", "true", "yes"})
_NEGATIVE = frozenset({"", "0", "0.0", "-1", "false", "no"})  # -1: the CelebA convention for "absent"


@dataclasses.dataclass(frozen=True)
class _Columns:
    """Which column holds what, decided once from the header and the values."""

    names: list[str]
    path: int
    labels: list[int]  # one column (labels in a cell) or several 0/1 columns
    one_hot: bool
    split: int | None
    split_on_spaces: bool


def read_csv_dataset(
    csv_path: str | os.PathLike[str],
    *,
    images_root: str | os.PathLike[str] | None = None,
    multilabel_hint: bool = False,
) -> LabeledDataset:
    """Image paths and labels from a CSV, task as detected; unusable rows become Problems (``file.csv:line``).

    ``multilabel_hint`` (the user chose multilabel) lets space-separated words in a label cell count as labels.
    """
    csv_path = Path(csv_path).resolve()
    rows = _read_rows(csv_path)
    if not rows:
        raise DatasetError(f"{csv_path}: the CSV is empty; it needs a column of image paths and one of labels.")
    header_present = not is_image_path(rows[0][1][0].strip())
    names = [c.strip() for c in rows[0][1]] if header_present else [f"column {i + 1}" for i in range(len(rows[0][1]))]
    data = rows[1:] if header_present else rows
    if not data:
        raise DatasetError(f"{csv_path}: the CSV has a header but no rows.")
    columns = _choose_columns(names, [row for _, row in data], multilabel_hint)
    bases = [Path(images_root).resolve()] if images_root else [csv_path.parent, csv_path.parent / "images"]

    samples: list[Sample] = []
    problems: list[Problem] = []
    first_line: dict[Path, int] = {}
    for line, row in data:
        where = f"{csv_path}:{line}"
        sample = _row_sample(row, columns, bases, where, problems)
        if sample is None:
            continue
        if sample.path in first_line:
            reason = f"{sample.path.name} is listed again (first at line {first_line[sample.path]}); row ignored"
            problems.append(Problem(where, reason, "bad-row"))
            continue
        first_line[sample.path] = line
        samples.append(sample)
    if not samples:
        unnamed = "" if _normalized(names[columns.path]) in _PATH_COLUMNS else (
            f" No column is named like a path column (path, file, filename, image), so {names[columns.path]!r} was taken."
        )
        raise DatasetError(
            f"{csv_path}: none of the {len(data)} paths in column {names[columns.path]!r} is an existing file "
            f"(looked in {' and '.join(str(b) for b in bases)}). Set the images folder (images_root) to where they are."
            + unnamed
        )
    if columns.one_hot:
        classes = [names[i] for i in columns.labels]
    else:
        classes = sorted({label for sample in samples for label in sample.labels})
    several = columns.one_hot or any(len(sample.labels) > 1 for sample in samples)
    return LabeledDataset(bases[0], "csv", samples, classes, "multilabel" if several else "multiclass", problems)


def _read_rows(csv_path: Path) -> list[tuple[int, list[str]]]:
    """(first line number, cells) for every non-blank record, after guessing the encoding and delimiter."""
    try:
        with open_regular_file(csv_path) as handle:  # a FIFO named labels.csv would block the read forever
            raw = handle.read()
    except NotRegularFileError as exc:
        raise DatasetError(f"{csv_path}: is {exc.what}, not a CSV file.") from exc
    except OSError as exc:
        raise DatasetError(f"{csv_path}: cannot read the CSV ({exc.strerror or exc}).") from exc
    text = _decode(raw)
    if "\x00" in text:
        raise DatasetError(f"{csv_path}: this is not a text CSV file (it contains binary data).")
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=_sniff_delimiter(text))
    rows: list[tuple[int, list[str]]] = []
    line = 1
    try:
        for row in reader:
            if any(cell.strip() for cell in row):
                rows.append((line, row))
            line = reader.line_num + 1
    except csv.Error as exc:
        raise DatasetError(f"{csv_path}:{line}: not a readable CSV ({exc}).") from exc
    return rows


def _decode(raw: bytes) -> str:
    """UTF-8 (BOM or not) first; Excel on Windows writes cp1252; latin-1 decodes anything as a last resort.

    A UTF-16/32 byte-order mark wins over all of them: Excel's "Unicode text" export is UTF-16.
    """
    for bom, encoding in ((codecs.BOM_UTF32_LE, "utf-32"), (codecs.BOM_UTF32_BE, "utf-32"),
                          (codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16")):
        if raw.startswith(bom):
            try:
                return raw.decode(encoding)
            except UnicodeDecodeError:
                break  # a BOM-like start of a binary file; the checks below refuse it
    for encoding in ("utf-8-sig", "cp1252"):
        try:
            return raw.decode(encoding)
        except UnicodeDecodeError:
            continue
    return raw.decode("latin-1")


def _sniff_delimiter(text: str) -> str:
    """The delimiter that splits the header into the most columns and gives the other lines the same count."""
    lines = [line for line in text.splitlines() if line.strip()][:20]
    best, best_score = ",", (0.0, 0)
    for delimiter in _DELIMITERS:
        counts = [len(row) for row in csv.reader(lines, delimiter=delimiter)]
        if not counts or counts[0] < 2:
            continue
        score = (sum(c == counts[0] for c in counts) / len(counts), counts[0])
        if score > best_score:
            best, best_score = delimiter, score
    return best


def _normalized(name: str) -> str:
    return re.sub(r"[^a-z0-9]", "", name.lower())


def _choose_columns(names: list[str], rows: list[list[str]], multilabel_hint: bool) -> _Columns:
    normalized = [_normalized(n) for n in names]
    path = next((i for i, n in enumerate(normalized) if n in _PATH_COLUMNS), 0)
    split = next((i for i, n in enumerate(normalized) if n in _SPLIT_COLUMNS and i != path), None)
    others = [i for i in range(len(names)) if i not in (path, split)]
    values = {_cell(row, i).lower() for row in rows for i in others}
    if len(others) >= 2 and values <= _POSITIVE | _NEGATIVE and values & _POSITIVE:
        return _Columns(names, path, others, True, split, False)
    if not others:
        return _Columns(names, path, [], False, split, False)
    label = next((i for i in others if normalized[i] in _LABEL_COLUMNS), others[0])
    cells = [_cell(row, label) for row in rows]
    return _Columns(names, path, [label], False, split, _spaces_separate_labels(cells, multilabel_hint))


def _spaces_separate_labels(cells: list[str], multilabel_hint: bool) -> bool:
    """Split "cat dog" into two labels only when that reading is supported, so "golden retriever" stays one class.

    Supported means: the user asked for multilabel, or some word of a multi-word cell is a label on its own
    elsewhere in the column. Cells using ; | or , are never split on spaces.
    """
    if any(sep in cell for cell in cells for sep in _LABEL_SEPARATORS):
        return False
    multi_word = [cell.split() for cell in cells if len(cell.split()) > 1]
    if not multi_word:
        return False
    if multilabel_hint:
        return True
    single = {cell for cell in cells if cell and len(cell.split()) == 1}
    return any(word in single for words in multi_word for word in words)


def _cell(row: list[str], index: int) -> str:
    return row[index].strip() if index < len(row) else ""


def _row_sample(row: list[str], columns: _Columns, bases: list[Path], where: str, problems: list[Problem]) -> Sample | None:
    if len(row) > len(columns.names) and not any(cell.strip() for cell in row[len(columns.names):]):
        row = row[: len(columns.names)]  # spreadsheets often leave trailing empty cells
    if len(row) != len(columns.names):
        problems.append(Problem(
            where, f"has {len(row)} fields but the header has {len(columns.names)}; quote cells that contain the delimiter", "bad-row"
        ))
        return None
    cell = _cell(row, columns.path)
    if not cell:
        problems.append(Problem(where, f"no image path in column {columns.names[columns.path]!r}", "bad-row"))
        return None
    path = _resolve(cell, bases)
    if path is None:
        problems.append(Problem(where, f"image {cell!r} not found (looked in {' and '.join(map(str, bases))})", "missing"))
        return None
    split = SPLIT_NAMES.get(_cell(row, columns.split).lower()) if columns.split is not None else None
    return Sample(path, _row_labels(row, columns), split)


def _row_labels(row: list[str], columns: _Columns) -> tuple[str, ...]:
    if columns.one_hot:
        return tuple(sorted(columns.names[i] for i in columns.labels if _cell(row, i).lower() in _POSITIVE))
    if not columns.labels:
        return ()
    cell = _cell(row, columns.labels[0])
    separator = next((sep for sep in _LABEL_SEPARATORS if sep in cell), None)
    if separator is not None:
        parts = cell.split(separator)
    else:
        parts = cell.split() if columns.split_on_spaces else [cell]
    return tuple(sorted({part.strip() for part in parts if part.strip()}))


def _resolve(cell: str, bases: list[Path]) -> Path | None:
    """The first existing file for ``cell`` among ``bases``; Windows separators are accepted everywhere."""
    relative = Path(cell.replace("\\", "/")) if os.sep == "/" else Path(cell)
    for base in bases:
        candidate = Path(os.path.normpath(base / relative))  # absolute `relative` replaces `base`
        if candidate.is_file():
            return candidate
    return None
