"""Inference input and output: finding image files, decoding them in parallel, writing result tables.

Decoding ends in ``preprocess.eval_transform``, the rule training evaluation uses, so a file gives
the same tensor here as in validation. Small JPEGs take a faster decoder (torchvision's libjpeg-turbo
binding) that yields the same pixels as Pillow; every other file, and anything unusual about a
JPEG, goes through ``images.load_image``, which also produces the error text for unreadable files.
"""

from __future__ import annotations

import csv
import io
import json
import os
import warnings
from collections import deque
from collections.abc import Callable, Collection, Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..data import images
from ..checkpoint import atomic_write_text
from ..errors import DatasetError, ImageReadError, ImgclsError
from ..data.preprocess import Preprocessing

if TYPE_CHECKING:
    import torch

    from .predict import Prediction

# Batches decoded ahead of the model: enough to hide a slow file, small enough to bound memory.
BATCHES_AHEAD = 2

# torchvision 0.29 deprecates its decoders in favour of TorchCodec; until that is a dependency the
# JPEG fast path stays (falling back to Pillow if the decoder disappears) without a warning per file.
warnings.filterwarnings("ignore", message="The image decoding and encoding capabilities of TorchVision",
                        category=DeprecationWarning)


def iter_image_paths(inputs: Iterable[str | os.PathLike[str]], recursive: bool = True,
                     skip: Iterable[str | os.PathLike[str]] = ()) -> list[Path]:
    """Files named directly (whatever their extension) plus image files inside the named folders,
    leaving out the folders in ``skip`` (e.g. where predict sorts into) wherever they are met.

    Folders are walked in sorted order so results are stable; hidden files and folders (``.x``,
    macOS ``._x`` resource forks) are skipped. A path that does not exist is an error, because a
    mistyped folder must not quietly produce an empty result.
    """
    found: list[Path] = []
    seen: set[Path] = set()
    skipped = {Path(folder).resolve() for folder in skip}
    for item in inputs:
        path = Path(item)
        if path.is_dir():
            candidates: Iterable[Path] = _images_in(path, recursive, skipped)
        elif path.exists():
            candidates = (path,)
        else:
            raise DatasetError(f"{path}: no such file or folder; check the path.")
        for candidate in candidates:
            if candidate not in seen:
                seen.add(candidate)
                found.append(candidate)
    return found


def _images_in(folder: Path, recursive: bool, skipped: Collection[Path] = ()) -> Iterator[Path]:
    if skipped and folder.resolve() in skipped:
        return
    for root, dirs, files in os.walk(folder):
        dirs[:] = sorted(d for d in dirs if not d.startswith(".")) if recursive else []
        if skipped:
            dirs[:] = [d for d in dirs if Path(root, d).resolve() not in skipped]
        for name in sorted(files):
            if not name.startswith(".") and images.is_image_path(name):
                yield Path(root, name)


def load_model_input(path: str | os.PathLike[str], pre: Preprocessing, transform: Any = None) -> "torch.Tensor":
    """One file → the (3, H, W) float tensor the model sees, exactly as training evaluation makes it.

    Like the trainer's validation set, JPEGs decode in draft mode at ``pre.resize_size``. Pillow's
    draft only shrinks a JPEG whose shorter side is at least twice that, so below that size the
    faster decoder returns identical pixels. ``transform`` is ``eval_transform(pre)``, passed in so
    a batch builds it once. Raises ``ImageReadError`` for unreadable files.
    """
    from ..data.preprocess import eval_transform

    transform = transform or eval_transform(pre)
    pixels = _decode_small_jpeg(Path(path), pre.resize_size)
    if pixels is None:
        pixels = images.load_image(path, draft_size=pre.resize_size)
    return transform(pixels)


def _decode_small_jpeg(path: Path, draft_size: int) -> "torch.Tensor | None":
    """Upright RGB uint8 (3, H, W) for an ordinary JPEG smaller than draft scaling affects; else None."""
    try:
        with images.open_regular_file(path) as handle:  # a FIFO or device is left to load_image to name
            header = images.open_image_header(handle)  # parses the header only
            width, height = header.size
            images.check_dimensions(path, width, height, draft_size)
            # CMYK (Adobe's inverted variant among them) is rare enough to leave to Pillow's handling.
            if header.format != "JPEG" or header.mode not in ("RGB", "L") or min(width, height) >= 2 * draft_size:
                return None
            handle.seek(0)
            data = handle.read()
    except Exception:  # whatever is wrong, load_image will say it properly
        return None
    import torch

    try:
        from torchvision.io import ImageReadMode, decode_jpeg
    except ImportError:  # a torchvision without its decoders: Pillow does the work
        return None
    try:
        return decode_jpeg(torch.frombuffer(bytearray(data), dtype=torch.uint8), mode=ImageReadMode.RGB,
                           apply_exif_orientation=True)
    except RuntimeError:  # truncated or corrupt: load_image reports why
        return None


@dataclass(frozen=True)
class DecodedBatch:
    """One batch of files: ``tensor`` stacks the readable ones (rows in ``ok`` order), errors by position."""

    paths: tuple[Path, ...]
    tensor: "torch.Tensor | None"  # (len(ok), 3, H, W) or None when no file of the batch was readable
    ok: tuple[int, ...]  # positions in ``paths`` of the rows of ``tensor``
    errors: dict[int, str]  # position in ``paths`` → why the file could not be used


def default_decode_workers() -> int:
    """One decoding thread per logical CPU (Pillow and torch release the GIL while decoding), at most 8."""
    return max(1, min(8, os.cpu_count() or 1))


def decoded_batches(
    paths: Sequence[str | os.PathLike[str]], pre: Preprocessing, batch_size: int, *, workers: int | None = None
) -> Iterator[DecodedBatch]:
    """Yield batches in input order while later batches decode on a thread pool (overlapping the model)."""
    import torch

    from ..data.preprocess import eval_transform

    if batch_size < 1:
        raise ImgclsError(f"batch size must be at least 1 (got {batch_size}).")
    transform = eval_transform(pre)
    chunks = (tuple(Path(p) for p in paths[i : i + batch_size]) for i in range(0, len(paths), batch_size))
    pool = ThreadPoolExecutor(workers or default_decode_workers(), thread_name_prefix="imgcls-decode")
    in_flight: deque[tuple[tuple[Path, ...], list[Future]]] = deque()

    def submit_next() -> None:
        chunk = next(chunks, None)
        if chunk is not None:
            in_flight.append((chunk, [pool.submit(_decode_or_reason, p, pre, transform) for p in chunk]))

    try:
        for _ in range(BATCHES_AHEAD + 1):
            submit_next()
        while in_flight:
            chunk, futures = in_flight.popleft()
            submit_next()
            results = [f.result() for f in futures]
            ok = tuple(i for i, r in enumerate(results) if not isinstance(r, str))
            errors = {i: r for i, r in enumerate(results) if isinstance(r, str)}
            tensor = torch.stack([results[i] for i in ok]) if ok else None
            yield DecodedBatch(chunk, tensor, ok, errors)
    finally:  # also runs when the consumer stops early: queued files are dropped, not decoded
        pool.shutdown(wait=True, cancel_futures=True)


def _decode_or_reason(path: Path, pre: Preprocessing, transform: Any) -> "torch.Tensor | str":
    try:
        return load_model_input(path, pre, transform)
    except ImageReadError as exc:
        return exc.reason
    except Exception as exc:  # one odd file must never end a run over thousands
        return f"cannot be used ({type(exc).__name__}: {exc})"


# -- result tables ---------------------------------------------------------------------------------

def prediction_rows(predictions: Sequence["Prediction"], top_k: int | None = None) -> tuple[list[str], list[list[Any]]]:
    """Header and rows of the CSV: path, label, score, top<i>_label, top<i>_prob..., error."""
    k = top_k if top_k is not None else max((len(p.top_k) for p in predictions), default=0)
    header = ["path", "label", "score"]
    for i in range(1, k + 1):
        header += [f"top{i}_label", f"top{i}_prob"]
    header.append("error")
    rows = []
    for p in predictions:
        ranked = list(p.top_k[:k]) + [("", None)] * (k - len(p.top_k[:k]))
        row: list[Any] = [str(p.path), p.label, _number(p.score)]
        for label, prob in ranked:
            row += [label, _number(prob)]
        row.append(p.error or "")
        rows.append(row)
    return header, rows


# A spreadsheet runs a cell starting with one of these as a formula (CSV injection); file names and the
# class names inside a shared model are anyone's text. OWASP's advice: start such a cell with a quote.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def spreadsheet_safe(cell: Any) -> Any:
    """``cell`` with a single quote in front when a spreadsheet would read it as a formula."""
    return "'" + cell if isinstance(cell, str) and cell.startswith(FORMULA_STARTS) else cell


def write_csv(predictions: Sequence["Prediction"], path: str | os.PathLike[str], top_k: int | None = None) -> None:
    """CSV (UTF-8, one row per file), written through a temp file so a crash never leaves half a table.
    Text cells that a spreadsheet would run as a formula get a leading quote (JSON stays exact)."""
    header, rows = prediction_rows(predictions, top_k)
    buffer = io.StringIO()
    # RFC 4180 line ends: the csv module quotes a cell holding a character of the line terminator, so a
    # file name with a bare CR stays in its cell (with "\n" as terminator it split the row).
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(header)
    writer.writerows([spreadsheet_safe(cell) for cell in row] for row in rows)
    atomic_write_text(path, buffer.getvalue())


def append_csv(predictions: Sequence["Prediction"], path: str | os.PathLike[str], top_k: int) -> None:
    """Add rows to a results CSV as they come (``imgcls predict --watch``), writing the header into a new
    file. Each call ends with the rows on disk (fsync), so a crash loses at most the batch being written;
    a row cut short by a crash is dropped before the next rows go in, never glued to them."""
    header, rows = prediction_rows(predictions, top_k)
    path = Path(path)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerows([spreadsheet_safe(cell) for cell in row] for row in rows)
    try:
        with open(path, "a+b") as handle:  # writes go to the end, wherever the reads below leave the position
            handle.truncate(_complete_rows_length(handle))
            handle.seek(0)
            first = handle.readline().decode("utf-8", errors="replace")
            existing = next(csv.reader([first]), None) if first else None
            if existing is not None and existing != header:
                raise ImgclsError(f"{path}: its columns ({', '.join(existing)}) differ from this run's "
                                  f"({', '.join(header)}); use the same --top-k as before, or another --out file.")
            text = buffer.getvalue()
            if existing is None:
                text = _header_line(header) + text
            handle.write(text.encode("utf-8"))
            handle.flush()
            os.fsync(handle.fileno())
    except OSError as exc:
        raise ImgclsError(f"{path}: could not add results ({exc.strerror or exc}); the rows written before are "
                          "intact. Free disk space or choose another --out file.") from exc


def _header_line(header: list[str]) -> str:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\r\n").writerow(header)
    return buffer.getvalue()


def predicted_paths(path: str | os.PathLike[str]) -> set[Path]:
    """The files a results CSV already has rows for (absolute), so a restarted watch skips them;
    an empty set when the file does not exist yet."""
    path = Path(path)
    if not path.is_file():
        return set()
    try:
        with open(path, encoding="utf-8", newline="") as handle:
            reader = csv.reader(handle)
            header = next(reader, None)
            if not header or header[0] != "path":
                raise ImgclsError(f"{path}: not an imgcls results table (its first column is not 'path'); "
                                  "choose another --out file.")
            cells = [row[0] for row in reader if row]
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise ImgclsError(f"{path}: cannot read the results written so far ({exc}); choose another --out file.") from exc
    return {Path(os.path.abspath(_unquote_formula(cell))) for cell in cells}


def _complete_rows_length(handle: Any) -> int:
    """Bytes up to the last line end: what a crash mid-row left after it is cut off."""
    handle.seek(0, os.SEEK_END)
    size = handle.tell()
    if size == 0:
        return 0
    handle.seek(max(0, size - (1 << 20)))
    tail = handle.read()
    end = tail.rfind(b"\n")
    return size if end == len(tail) - 1 else size - len(tail) + end + 1


def _unquote_formula(cell: str) -> str:
    """Undo ``spreadsheet_safe``'s leading quote."""
    return cell[1:] if cell.startswith("'") and cell[1:].startswith(FORMULA_STARTS) else cell


def write_json(predictions: Sequence["Prediction"], path: str | os.PathLike[str]) -> None:
    """A JSON list with the CSV's fields per file; ``top_k`` as a list of {label, prob}."""
    payload = [p.to_dict() for p in predictions]
    atomic_write_text(path, json.dumps(payload, indent=2, ensure_ascii=False) + "\n")


def write_predictions(predictions: Sequence["Prediction"], path: str | os.PathLike[str], top_k: int | None = None) -> None:
    """Write CSV or JSON by the file's extension."""
    if output_writer(path) is write_json:
        write_json(predictions, path)
    else:
        write_csv(predictions, path, top_k)


def output_writer(path: str | os.PathLike[str]) -> Callable[..., None]:
    """The writer for ``path``'s extension; checked before a long run starts, not after it."""
    suffix = Path(path).suffix.lower()
    if suffix == ".csv":
        return write_csv
    if suffix == ".json":
        return write_json
    raise ImgclsError(f"{path}: output must end in .csv or .json.")


def _number(value: float | None) -> str:
    return "" if value is None else f"{value:.6f}"
