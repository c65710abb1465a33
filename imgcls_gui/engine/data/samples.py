"""The plain data every importer produces and every consumer (split, training, GUI store) reads."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

SplitName = Literal["train", "val", "test"]
# What people call the parts in folder names and CSV columns (matched lower-cased).
SPLIT_NAMES: dict[str, SplitName] = {
    "train": "train", "training": "train",
    "val": "val", "valid": "val", "validation": "val",
    "test": "test", "testing": "test",
}


@dataclass(frozen=True)
class Sample:
    """One image and its labels. ``labels`` is empty for an unlabeled image.

    ``split`` is set when the dataset itself says where the image belongs (train/val/test folders,
    VOC ImageSets); otherwise ``None`` and the splitter decides.
    """

    path: Path
    labels: tuple[str, ...] = ()
    split: SplitName | None = None
    sha1: str | None = field(default=None, compare=False)  # the file's hash when the source already knows it


@dataclass(frozen=True)
class Problem:
    """Something wrong with one file or row, reported instead of crashing."""

    path: str
    reason: str
    kind: str = "unreadable"  # unreadable | not-image | truncated | duplicate | bad-row | missing | too-large


@dataclass
class LabeledDataset:
    """What an importer returns: samples, the class list (sorted, stable) and the task."""

    root: Path
    format: str  # folder | split-folders | csv | voc | project
    samples: list[Sample]
    classes: list[str]
    task: Literal["multiclass", "multilabel"]
    problems: list[Problem] = field(default_factory=list)

    @property
    def labeled(self) -> list[Sample]:
        return [s for s in self.samples if s.labels]
