"""The torch side of the data layer: targets as tensors, a Dataset over image files, a seeded DataLoader.

Only the trainer, evaluation and feature extraction import this module, so torch is imported at the top.
"""

from __future__ import annotations

import os
import random
import warnings
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np
import torch
from PIL import Image
from torch.utils.data import DataLoader, Dataset

from ..errors import DatasetError, ImageReadError, ImgclsError
from .images import load_image
from .samples import Problem, Sample

_MAX_AUTO_WORKERS = 8


class UnreadableImageWarning(UserWarning):
    """A training/evaluation image could not be read; another image took its place in the batch."""


def encode_targets(samples: Sequence[Sample], classes: Sequence[str], task: str) -> torch.Tensor:
    """multiclass: (N,) long class indices; multilabel: (N, C) float multi-hot rows."""
    column = {name: j for j, name in enumerate(classes)}
    if task == "multiclass":
        indices = []
        for sample in samples:
            if len(sample.labels) != 1 or sample.labels[0] not in column:
                raise DatasetError(
                    f"{sample.path}: a multiclass image needs exactly one of the classes "
                    f"({', '.join(classes)}), it has {', '.join(sample.labels) or 'no label'}."
                )
            indices.append(column[sample.labels[0]])
        return torch.tensor(indices, dtype=torch.long)
    if task == "multilabel":
        targets = torch.zeros((len(samples), len(classes)), dtype=torch.float32)
        for row, sample in enumerate(samples):
            unknown = [label for label in sample.labels if label not in column]
            if unknown:
                raise DatasetError(f"{sample.path}: label(s) {', '.join(unknown)} are not among the classes {', '.join(classes)}.")
            targets[row, [column[label] for label in sample.labels]] = 1.0
        return targets
    raise DatasetError(f"unknown task {task!r}; use multiclass or multilabel.")


class ImageDataset(Dataset):
    """Image files + targets → (transformed image, target, index).

    A file that cannot be read is replaced by the next readable one (with its own target and index) and
    recorded in ``failures`` with a warning, so one bad file never stops a long training run. Worker
    processes keep their own ``failures``; the warning is what reaches the console from them.
    ``cache`` (a dict, shared between datasets if you like) keeps decoded images, shrunk to ``draft_size``.
    """

    def __init__(
        self,
        paths: Sequence[Path],
        targets: torch.Tensor,
        transform: Callable[[Image.Image], Any],
        *,
        draft_size: int | None = None,
        cache: dict | None = None,
    ) -> None:
        if len(paths) != len(targets):
            raise ValueError(f"{len(paths)} paths but {len(targets)} targets")
        self.paths = [Path(p) for p in paths]
        self.targets = targets
        self.transform = transform
        self.draft_size = draft_size
        self.cache = cache
        self.failures: list[Problem] = []
        self._unreadable: set[int] = set()

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor, int]:
        count = len(self.paths)
        for offset in range(count):
            candidate = (index + offset) % count
            if candidate in self._unreadable:
                continue
            try:
                image = self._image(candidate)
            except ImageReadError as exc:
                self._record_failure(candidate, exc)
                continue
            return self.transform(image), self.targets[candidate], candidate
        raise DatasetError(f"none of the {count} images of this dataset can be read (first: {self.paths[0]}).")

    def _image(self, index: int) -> Image.Image:
        if self.cache is None:
            return load_image(self.paths[index], draft_size=self.draft_size)
        key = (str(self.paths[index]), self.draft_size)
        image = self.cache.get(key)
        if image is None:
            image = _shrink(load_image(self.paths[index], draft_size=self.draft_size), self.draft_size)
            self.cache[key] = image
        return image

    def _record_failure(self, index: int, exc: ImageReadError) -> None:
        self._unreadable.add(index)
        self.failures.append(Problem(str(self.paths[index]), exc.reason, getattr(exc, "kind", "unreadable")))
        warnings.warn(f"{exc}; another image is used in its place", UnreadableImageWarning, stacklevel=2)


def _shrink(image: Image.Image, short_side: int | None) -> Image.Image:
    """Cached images only need the resolution the transforms will use; this keeps the cache small."""
    if not short_side or min(image.size) <= short_side:
        return image
    scale = short_side / min(image.size)
    size = (max(short_side, round(image.width * scale)), max(short_side, round(image.height * scale)))
    return image.resize(size, Image.Resampling.BILINEAR, reducing_gap=2.0)


def auto_num_workers(num_items: int, batch_size: int) -> int:
    """Loader processes for this machine: none for a dataset under two batches (start-up would cost more)."""
    if num_items < 2 * batch_size:
        return 0
    return max(0, min(_cpu_count() - 1, _MAX_AUTO_WORKERS))  # one core stays with the training loop


def _cpu_count() -> int:
    if hasattr(os, "sched_getaffinity"):  # respects taskset/cgroup limits on Linux
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def _seed_worker(worker_id: int) -> None:
    """torch seeds each worker from the loader's generator; Python's and NumPy's RNGs follow from it."""
    seed = torch.initial_seed() % 2**32
    random.seed(seed)
    np.random.seed(seed)


def make_loader(
    dataset: Dataset,
    *,
    batch_size: int,
    shuffle: bool,
    num_workers: int = -1,
    device_type: str = "cpu",
    seed: int = 0,
    drop_last: bool = False,
) -> DataLoader:
    """A DataLoader whose order repeats for the same ``seed``; ``num_workers=-1`` picks a count.

    Worker processes are seeded from ``seed`` too, so their augmentation repeats; without workers the
    transforms draw from torch's global RNG, which the trainer seeds.
    """
    workers = auto_num_workers(len(dataset), batch_size) if num_workers < 0 else num_workers  # type: ignore[arg-type]
    generator = torch.Generator()
    generator.manual_seed(seed)
    return _Loader(
        dataset,
        batch_size=batch_size,
        shuffle=shuffle,
        num_workers=workers,
        pin_memory=device_type == "cuda",
        drop_last=drop_last,
        generator=generator,
        worker_init_fn=_seed_worker if workers > 0 else None,
        persistent_workers=workers > 0,  # workers (and their image caches) survive from epoch to epoch
    )


class _Loader(DataLoader):
    """A DataLoader whose worker processes' ImgclsErrors reach the user with their own message.

    torch re-raises a worker's exception as ``type(exc)("Caught X in DataLoader worker process 0.
    Original Traceback ...")``: right type, but a screen of traceback instead of the one line we wrote.
    """

    def __iter__(self):
        return _with_worker_messages(super().__iter__())


def _with_worker_messages(batches):
    try:
        yield from batches
    except ImgclsError as exc:
        text = str(exc)
        if "Original Traceback" not in text:
            raise
        message = text.rsplit(f"{type(exc).__name__}: ", 1)[-1].strip()
        try:
            clean = type(exc)(message)
        except TypeError:  # a subclass with another signature: the base class carries the message as well
            clean = ImgclsError(message)
        raise clean from None
