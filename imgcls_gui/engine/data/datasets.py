"""Dataset importers: a folder per class, train/val/test folders, a CSV of paths and labels, Pascal VOC.

Each importer returns a ``LabeledDataset``. Rows or files that cannot be used become ``Problem``
entries instead of exceptions, so one bad line never hides a thousand good images; only a dataset
that cannot be used at all raises ``DatasetError``. File contents are not decoded here (that is
``health.health_report``'s job), so importing 10,000 images takes a directory walk, not a decode.
"""

from __future__ import annotations

import dataclasses
import os
import stat
from pathlib import Path
from xml.etree.ElementTree import ParseError

from defusedxml import DefusedXmlException
from defusedxml import ElementTree as SafeElementTree

from .csv_import import read_csv_dataset
from ..errors import DatasetError
from .images import IMAGE_EXTENSIONS, describe_special_file, is_image_path
from .samples import SPLIT_NAMES, LabeledDataset, Problem, Sample, SplitName

__all__ = [
    "detect_format", "load_dataset", "open_dataset", "require_trainable", "import_folder", "import_split_folders", "import_csv",
    "import_voc",
]

# Folders that file managers, macOS and NAS boxes create next to real data; never classes.
_IGNORED_DIRS = frozenset({"__MACOSX", "@eaDir", "__pycache__", "$RECYCLE.BIN", "System Volume Information"})
_FORMATS = ("folder", "split-folders", "csv", "voc")
_LAYOUT_HELP = (
    "Accepted layouts: a folder with one subfolder per class (cats/, dogs/, ...); train/ and val/ (or test/) "
    "folders that each hold class subfolders; a CSV file of image paths and labels; a Pascal VOC folder with "
    "JPEGImages/ and Annotations/."
)


def detect_format(path: str | os.PathLike[str]) -> str:
    """Guess the layout of ``path``: "folder", "split-folders", "csv" or "voc"; DatasetError if none fits."""
    path = Path(path)
    if not path.exists():
        raise DatasetError(f"{path}: not found. Choose an existing folder or CSV file.")
    _refuse_special_file(path)
    if path.is_file():
        if path.suffix.lower() in (".csv", ".tsv"):
            return "csv"
        raise DatasetError(f"{path}: a dataset file must be a .csv of image paths and labels. {_LAYOUT_HELP}")
    if (path / "JPEGImages").is_dir() and (path / "Annotations").is_dir():
        return "voc"
    splits = _split_dirs(path)
    if "train" in splits and len(splits) > 1 and any(_class_dirs(d) for d in splits.values()):
        return "split-folders"
    if _class_dirs(path):
        return "folder"
    loose = sum(1 for entry in os.scandir(path) if entry.is_file() and is_image_path(entry.name))
    hint = f" Its {loose} images have no label: move them into one subfolder per class." if loose else ""
    raise DatasetError(f"{path}: cannot tell how this folder is labeled.{hint} {_LAYOUT_HELP}")


def load_dataset(
    path: str | os.PathLike[str],
    *,
    format: str = "auto",
    images_root: str | os.PathLike[str] | None = None,
    task: str = "auto",
) -> LabeledDataset:
    """Import the dataset at ``path`` in ``format`` ("auto" detects it); ``task`` overrides the detected one."""
    path = Path(path)
    if not path.exists():
        raise DatasetError(f"{path}: not found. Choose an existing folder or CSV file.")
    _refuse_special_file(path)
    if format == "auto":
        format = detect_format(path)
    if format not in _FORMATS:
        raise DatasetError(f"{path}: unknown dataset format {format!r}; use one of auto, {', '.join(_FORMATS)}.")
    if format == "csv":
        dataset = import_csv(path, images_root=images_root, task=task)
    else:
        if not path.is_dir():
            raise DatasetError(f"{path}: the {format} format needs a folder, not a file.")
        importer = {"folder": import_folder, "split-folders": import_split_folders, "voc": import_voc}[format]
        dataset = _with_task(importer(path), task)
    if not dataset.samples:
        raise DatasetError(
            f"{path}: no images found (looked for {', '.join(sorted(IMAGE_EXTENSIONS))} files as a {format} dataset)."
        )
    return dataset


def open_dataset(path: str, format: str = "auto", images_root: str | None = None, task: str = "auto") -> LabeledDataset:
    """A dataset from a folder/CSV/VOC path, or from an imgcls project folder (project.sqlite)."""
    if Path(path, "project.sqlite").is_file():
        from ..project.store import Project  # the project store builds on samples, never on this module

        with Project.open(path, read_only=True) as project:
            return project.to_labeled_dataset()
    return load_dataset(path, format=format, images_root=images_root, task=task)


def require_trainable(ds: LabeledDataset) -> None:
    """Raise DatasetError unless ``ds`` has labeled images in at least two classes."""
    labeled = ds.labeled
    if not labeled:
        hint = " (a CSV needs a label column such as label, class or tags, or one 0/1 column per class)" \
            if ds.format == "csv" else ""
        raise DatasetError(f"{ds.root}: none of its {len(ds.samples)} images has a label{hint}; label some images first.")
    present = sorted({label for sample in labeled for label in sample.labels})
    if len(present) < 2:
        only = f"only one class {present[0]!r}" if present else "no class"
        raise DatasetError(
            f"{ds.root}: {only} has labeled images; a classifier needs at least two classes. "
            "Add images of another class."
        )


def import_folder(root: str | os.PathLike[str]) -> LabeledDataset:
    """root/<class>/**/<image>: nested folders count for their top-level class; loose images in root are ignored."""
    root = Path(root).resolve()
    samples = _scan_classes(root, split=None)
    return LabeledDataset(root, "folder", samples, _classes_of(samples), "multiclass")


def import_split_folders(root: str | os.PathLike[str]) -> LabeledDataset:
    """root/{train,val,test}/<class>/...: each sample keeps the split its folder names; classes are the union."""
    root = Path(root).resolve()
    samples: list[Sample] = []
    for split, folder in _split_dirs(root).items():
        samples.extend(_scan_classes(folder, split=split))
    return LabeledDataset(root, "split-folders", samples, _classes_of(samples), "multiclass")


def import_csv(
    csv_path: str | os.PathLike[str],
    *,
    images_root: str | os.PathLike[str] | None = None,
    task: str = "auto",
) -> LabeledDataset:
    """A CSV of image paths and labels (one label column, or 0/1 columns per label); see ``csv_import``."""
    return _with_task(read_csv_dataset(csv_path, images_root=images_root, multilabel_hint=task == "multilabel"), task)


def import_voc(root: str | os.PathLike[str]) -> LabeledDataset:
    """Pascal VOC: labels are the distinct <object><name>s of Annotations/<id>.xml (parsed without entities)."""
    root = Path(root).resolve()
    image_dir, annotation_dir = root / "JPEGImages", root / "Annotations"
    if not image_dir.is_dir():
        raise DatasetError(f"{root}: a VOC dataset needs a JPEGImages/ folder beside Annotations/.")
    splits = _voc_image_sets(root / "ImageSets" / "Main")
    problems: list[Problem] = []
    samples: list[Sample] = []
    image_ids: set[str] = set()
    for entry in sorted(os.scandir(image_dir), key=lambda e: e.name):
        if not entry.is_file() or _is_hidden(entry.name) or not is_image_path(entry.name):
            continue
        image_id = Path(entry.name).stem
        image_ids.add(image_id)
        labels = _voc_labels(annotation_dir / f"{image_id}.xml", problems)
        samples.append(Sample(Path(entry.path), labels, splits.get(image_id)))
    if annotation_dir.is_dir():
        for xml in sorted(annotation_dir.glob("*.xml")):
            if xml.stem not in image_ids:
                problems.append(Problem(str(xml), f"no image {xml.stem}.* in JPEGImages/; annotation ignored", "missing"))
    single = all(len(s.labels) == 1 for s in samples if s.labels)
    return LabeledDataset(root, "voc", samples, _classes_of(samples), "multiclass" if single else "multilabel", problems)


def _with_task(ds: LabeledDataset, task: str) -> LabeledDataset:
    """Apply a task the user chose over the detected one; multiclass is impossible if an image has two labels."""
    if task == "auto" or task == ds.task:
        return ds
    if task not in ("multiclass", "multilabel"):
        raise DatasetError(f"{ds.root}: unknown task {task!r}; use auto, multiclass or multilabel.")
    if task == "multiclass":
        several = [s for s in ds.samples if len(s.labels) > 1]
        if several:
            raise DatasetError(
                f"{ds.root}: task multiclass was chosen but {len(several)} images have several labels "
                f"(e.g. {several[0].path.name}: {', '.join(several[0].labels)}); choose multilabel."
            )
    return dataclasses.replace(ds, task=task)


def _refuse_special_file(path: Path) -> None:
    """A FIFO or device given as the dataset would block the CSV reader or fail deep in a folder walk."""
    mode = path.stat().st_mode
    if not (stat.S_ISREG(mode) or stat.S_ISDIR(mode)):
        raise DatasetError(f"{path}: is {describe_special_file(mode)}, not a folder or CSV file. {_LAYOUT_HELP}")


def _is_hidden(name: str) -> bool:
    return name.startswith(".") or name in _IGNORED_DIRS


def _split_dirs(root: Path) -> dict[SplitName, Path]:
    """The train/val/test folders directly inside ``root`` (case-insensitive, valid/validation/testing too)."""
    found: dict[SplitName, Path] = {}
    for entry in sorted(os.scandir(root), key=lambda e: e.name):
        split = SPLIT_NAMES.get(entry.name.lower())
        if split and split not in found and entry.is_dir():
            found[split] = Path(entry.path)
    return found


def _class_dirs(root: Path) -> list[Path]:
    """Subfolders of ``root`` that hold at least one image somewhere below them."""
    return [
        Path(entry.path)
        for entry in sorted(os.scandir(root), key=lambda e: e.name)
        if entry.is_dir() and not _is_hidden(entry.name) and _has_image_below(Path(entry.path))
    ]


def _has_image_below(folder: Path) -> bool:
    for _, dirnames, filenames in os.walk(folder):
        dirnames[:] = [d for d in dirnames if not _is_hidden(d)]
        if any(is_image_path(name) and not _is_hidden(name) for name in filenames):
            return True
    return False


def _scan_classes(root: Path, split: SplitName | None) -> list[Sample]:
    """One Sample per image under each class folder of ``root``, in a stable (sorted) order."""
    samples: list[Sample] = []
    for entry in sorted(os.scandir(root), key=lambda e: e.name):
        if not entry.is_dir() or _is_hidden(entry.name):
            continue
        for dirpath, dirnames, filenames in os.walk(entry.path):
            dirnames[:] = sorted(d for d in dirnames if not _is_hidden(d))
            folder = Path(dirpath)
            samples.extend(
                Sample(folder / name, (entry.name,), split)
                for name in sorted(filenames)
                if is_image_path(name) and not _is_hidden(name)
            )
    return samples


def _classes_of(samples: list[Sample]) -> list[str]:
    return sorted({label for sample in samples for label in sample.labels})


def _voc_image_sets(folder: Path) -> dict[str, SplitName | None]:
    """Image id → split from ImageSets/Main; ids only in trainval.txt map to None so the splitter decides."""
    splits: dict[str, SplitName | None] = {}
    for name, split in (("trainval", None), ("test", "test"), ("train", "train"), ("val", "val")):
        listing = folder / f"{name}.txt"
        if not listing.is_file():
            continue
        for line in listing.read_text(encoding="utf-8", errors="replace").splitlines():
            if line.strip():
                splits[line.split()[0]] = split
    return splits


def _voc_labels(xml_path: Path, problems: list[Problem]) -> tuple[str, ...]:
    """Distinct object names in one annotation; a missing or unusable file leaves the image unlabeled."""
    if not xml_path.is_file():
        return ()
    try:
        tree = SafeElementTree.parse(str(xml_path))
    except DefusedXmlException as exc:  # entities, external references: refused, never expanded
        problems.append(Problem(str(xml_path), f"XML declares entities or external references, refused ({exc})", "bad-row"))
        return ()
    except (ParseError, OSError, ValueError) as exc:
        problems.append(Problem(str(xml_path), f"not valid XML ({exc}); image kept unlabeled", "bad-row"))
        return ()
    names = {(obj.findtext("name") or "").strip() for obj in tree.getroot().findall("object")}
    names.discard("")
    if not names:
        problems.append(Problem(str(xml_path), "annotation has no <object><name>; image kept unlabeled", "bad-row"))
    return tuple(sorted(names))
