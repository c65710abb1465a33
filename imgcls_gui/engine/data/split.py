"""Train/val/test splits: stratified, seeded, respecting splits the dataset already gives, saved by path.

Only labeled samples are split; unlabeled ones are never in any part. Multi-label datasets use
iterative stratification (Sechidis et al. 2011, via ``iterstrat``) so rare labels reach every part.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import ConfigError, DatasetError
from .samples import LabeledDataset, Sample, SplitName

SPLIT_FORMAT = "imgcls-split"
_PARTS = ("train", "val", "test")


@dataclass(frozen=True)
class Split:
    """Indices into ``ds.samples`` for each part, plus the settings that produced them."""

    train: tuple[int, ...]
    val: tuple[int, ...]
    test: tuple[int, ...]
    seed: int = 0
    val_fraction: float = 0.2
    test_fraction: float = 0.0

    def to_json(self, ds: LabeledDataset) -> str:
        """Paths relative to ``ds.root`` per part, so the split survives re-imports and new images."""
        data: dict[str, Any] = {
            "format": SPLIT_FORMAT,
            "version": 1,
            "seed": self.seed,
            "val_fraction": self.val_fraction,
            "test_fraction": self.test_fraction,
        }
        for part in _PARTS:
            data[part] = [_path_key(ds, ds.samples[i].path) for i in getattr(self, part)]
        return json.dumps(data, indent=1)

    @classmethod
    def from_json(cls, text: str, ds: LabeledDataset) -> "Split":
        """Map saved paths back to indices of ``ds``: vanished paths are dropped, new labeled images go to
        the split the dataset gives them, else to train."""
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise DatasetError(f"the saved split is not valid JSON ({exc}); delete it to split again.") from exc
        if not isinstance(data, dict) or data.get("format") != SPLIT_FORMAT:
            raise DatasetError("the saved split is not an imgcls split file; delete it to split again.")
        try:
            check_split_data(data)
        except DatasetError as exc:
            raise DatasetError(f"the saved split {exc}; delete it to split again.") from exc
        index_of = {_path_key(ds, s.path): i for i, s in enumerate(ds.samples) if s.labels}
        parts: dict[str, list[int]] = {part: [] for part in _PARTS}
        for part in _PARTS:
            for key in data.get(part, []):
                index = index_of.pop(key, None)  # pop: a path listed twice lands in its first part only
                if index is not None:
                    parts[part].append(index)
        for index in index_of.values():
            parts[ds.samples[index].split or "train"].append(index)
        return cls(
            *(tuple(sorted(parts[part])) for part in _PARTS),
            seed=int(data.get("seed", 0)),
            val_fraction=float(data.get("val_fraction", 0.2)),
            test_fraction=float(data.get("test_fraction", 0.0)),
        )


def split_dataset(ds: LabeledDataset, *, val_fraction: float = 0.2, test_fraction: float = 0.0, seed: int = 0) -> Split:
    """Split the labeled samples; parts the dataset names (``Sample.split``) are kept, missing ones carved out.

    With no given parts, test and val are ``test_fraction`` and ``val_fraction`` of all labeled images; when
    the dataset gives train (and maybe test) but no val, val is ``val_fraction`` of the given train images.
    """
    if not (0.0 <= val_fraction < 1.0 and 0.0 <= test_fraction < 1.0 and val_fraction + test_fraction < 1.0):
        raise ConfigError(
            f"val_fraction {val_fraction} and test_fraction {test_fraction} must each be in [0, 1) and sum below 1."
        )
    labeled = [i for i, sample in enumerate(ds.samples) if sample.labels]
    given = {part: [i for i in labeled if ds.samples[i].split == part] for part in _PARTS}
    pool = given["train"] + [i for i in labeled if ds.samples[i].split is None]
    targets = _Targets(ds)
    test, val = given["test"], given["val"]
    carved_test = 0.0
    if not test and test_fraction > 0:
        pool, test = targets.carve(pool, test_fraction, seed)
        carved_test = test_fraction
    if not val and val_fraction > 0:
        pool, val = targets.carve(pool, val_fraction / (1.0 - carved_test), seed + 1)
    return Split(tuple(sorted(pool)), tuple(sorted(val)), tuple(sorted(test)), seed, val_fraction, test_fraction)


def split_samples(run_dir: Path, config: dict[str, Any], task: str, split: str) -> list[Sample]:
    """The labeled samples of one part of the run's saved split (``split.json``), in dataset order."""
    from .datasets import open_dataset

    data = config["data"]
    ds = open_dataset(data["path"], data.get("format", "auto"), data.get("images_root"), task)
    split_file = Path(run_dir) / "split.json"
    if not split_file.is_file():
        raise DatasetError(f"{split_file}: missing, so the run's {split} images are unknown; train the run again.")
    saved = read_split_file(split_file, ds)
    # "all" is every labeled image of the split, in dataset order (imgcls evaluate --split all)
    picked = sorted(saved.train + saved.val + saved.test) if split == "all" else getattr(saved, split, ())
    if not picked:
        raise DatasetError(f"{run_dir}: the saved split has no '{split}' images; choose the 'val' split.")
    return [ds.samples[i] for i in picked]


def _path_key(ds: LabeledDataset, path: Path) -> str:
    try:
        return path.relative_to(ds.root).as_posix()
    except ValueError:  # a CSV may point outside its images folder
        return path.as_posix()


class _Targets:
    """The label matrix of a dataset, for stratified carving."""

    def __init__(self, ds: LabeledDataset) -> None:
        column = {name: j for j, name in enumerate(ds.classes)}
        for sample in ds.samples:  # an importer may list fewer classes than it labels; never crash on that
            for label in sample.labels:
                column.setdefault(label, len(column))
        self.multilabel = ds.task == "multilabel" and len(column) > 1
        self.first = np.array([column[s.labels[0]] if s.labels else -1 for s in ds.samples], dtype=np.int64)
        if self.multilabel:
            self.matrix = np.zeros((len(ds.samples), len(column)), dtype=bool)
            for i, sample in enumerate(ds.samples):
                self.matrix[i, [column[label] for label in sample.labels]] = True

    def carve(self, indices: list[int], fraction: float, seed: int) -> tuple[list[int], list[int]]:
        """Move about ``fraction`` of ``indices`` out, stratified; a sample with a label seen once stays in."""
        n_out = min(max(1, round(len(indices) * fraction)), len(indices) - 1)
        if n_out <= 0:
            return list(indices), []
        rare, movable = self._rare_first(indices)
        n_out = min(n_out, len(movable) - 1)
        if n_out <= 0:
            return list(indices), []
        kept, out = self._stratified(np.array(movable), n_out, seed)
        return rare + kept, out

    def _rare_first(self, indices: list[int]) -> tuple[list[int], list[int]]:
        if self.multilabel:
            counts = self.matrix[indices].sum(axis=0)
            rare_labels = counts == 1
            is_rare = self.matrix[indices][:, rare_labels].any(axis=1)
        else:
            counts = Counter(self.first[indices].tolist())
            is_rare = np.array([counts[label] == 1 for label in self.first[indices].tolist()], dtype=bool)
        return [i for i, r in zip(indices, is_rare) if r], [i for i, r in zip(indices, is_rare) if not r]

    def _stratified(self, movable: np.ndarray, n_out: int, seed: int) -> tuple[list[int], list[int]]:
        from sklearn.model_selection import train_test_split

        if self.multilabel:
            from iterstrat.ml_stratifiers import MultilabelStratifiedShuffleSplit

            splitter = MultilabelStratifiedShuffleSplit(n_splits=1, test_size=n_out, random_state=seed)
            kept, out = next(splitter.split(np.zeros(len(movable)), self.matrix[movable]))
            return movable[kept].tolist(), movable[out].tolist()
        labels = self.first[movable]
        n_classes = len(np.unique(labels))
        # sklearn needs at least one sample of every class on each side; with fewer, a plain shuffle is the best we can do.
        stratify = labels if n_classes <= n_out <= len(movable) - n_classes else None
        kept, out = train_test_split(movable, test_size=n_out, stratify=stratify, random_state=seed)
        return kept.tolist(), out.tolist()


# A split lists one path per image: even 5 million images stay far below this. /dev/zero does not.
MAX_SPLIT_FILE_BYTES = 1 << 30
SPLIT_VERSION = 1


def read_split_file(path: Path, ds: LabeledDataset) -> Split:
    """``Split.from_json`` of a run's ``split.json``, with every way the file can be damaged named in one line."""
    import os
    import stat

    try:
        info = os.stat(path)
        if not stat.S_ISREG(info.st_mode):  # a FIFO would block the read, a device never end
            raise DatasetError("it is not a regular file")
        if info.st_size > MAX_SPLIT_FILE_BYTES:
            raise DatasetError(f"{info.st_size:,} bytes is far more than any split")
        text = Path(path).read_bytes().decode("utf-8")
        return Split.from_json(text, ds)
    except DatasetError as exc:
        reason = str(exc).removeprefix("the saved split ").removesuffix("; delete it to split again.")
        raise _damaged_split(path, reason) from exc
    except UnicodeDecodeError as exc:
        raise _damaged_split(path, f"is not UTF-8 text (byte 0x{exc.object[exc.start]:02x} at {exc.start})") from exc
    except RecursionError as exc:
        raise _damaged_split(path, "nests too deeply to be a split file") from exc
    except OSError as exc:
        raise DatasetError(f"{path}: cannot read the run's split ({exc.strerror or exc}).") from exc


def check_split_data(data: dict[str, Any]) -> None:
    """DatasetError unless the parsed file has the shape ``to_json`` writes (lists of path strings, numbers)."""
    version = data.get("version", SPLIT_VERSION)
    if not isinstance(version, int) or isinstance(version, bool) or version > SPLIT_VERSION:
        raise DatasetError(f"has version {str(version)[:20]!r}; this imgcls reads version {SPLIT_VERSION}")
    for part in _PARTS:
        paths = data.get(part, [])
        if not isinstance(paths, list) or not all(isinstance(key, str) for key in paths):
            raise DatasetError(f"has a '{part}' entry that is not a list of image paths")
    for key in ("seed", "val_fraction", "test_fraction"):
        value = data.get(key, 0)
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value != value or abs(value) == float("inf"):
            raise DatasetError(f"has {key} {str(value)[:20]!r}, not a number")
    for key in ("val_fraction", "test_fraction"):
        if not 0.0 <= data.get(key, 0.0) < 1.0:
            raise DatasetError(f"has {key} {data[key]!r}, outside [0, 1)")


def _damaged_split(path: Path, reason: str) -> DatasetError:
    return DatasetError(
        f"{path}: this run's saved split {reason}, so its train/val/test images are unknown. "
        "Restore split.json from a backup, or delete it and train again to make a new split."
    )
