"""The torch side of the data layer: targets as tensors, a Dataset over image files, a seeded DataLoader.

Only the trainer, evaluation and feature extraction import this module, so torch is imported at the top.
"""

from __future__ import annotations

import os
import random
import warnings
from pathlib import Path
from typing import Any, Callable, Iterator, Sequence

import numpy as np
import torch
from PIL import Image
from torch.utils.data import DataLoader, Dataset, Sampler, get_worker_info

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
                image = self.image(candidate)
            except ImageReadError as exc:
                self._record_failure(candidate, exc)
                continue
            return self.transform(image), self.targets[candidate], candidate
        raise DatasetError(f"none of the {count} images of this dataset can be read (first: {self.paths[0]}).")

    def image(self, index: int) -> Image.Image:
        """The decoded image at ``index`` (from the cache when there is one); raises ImageReadError."""
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


def decode_into_cache(paths: Sequence[Path], draft_size: int | None, *, threads: int = 4) -> dict:
    """Decode and shrink every image once, in threads; the cache ``ImageDataset(cache=...)`` reads.

    Unreadable files stay out, so the dataset meets and reports them as usual.
    """
    from concurrent.futures import ThreadPoolExecutor

    probe = ImageDataset(paths, torch.zeros(len(paths)), lambda image: image, draft_size=draft_size, cache={})

    def decode(index: int) -> None:
        try:
            probe.image(index)
        except Exception:  # noqa: BLE001 - the training dataset reports unreadable files when it meets them
            pass

    with ThreadPoolExecutor(max_workers=threads) as pool:
        list(pool.map(decode, range(len(paths))))
    return probe.cache  # type: ignore[return-value]


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


def epoch_generator(seed: int, epoch: int) -> torch.Generator:
    """A generator that is a pure function of (seed, epoch): epoch ``e`` draws the same whatever ran before."""
    state = np.random.SeedSequence([seed & (2**64 - 1), epoch]).generate_state(1, dtype=np.uint64)[0]
    return torch.Generator().manual_seed(int(state) & (2**63 - 1))


class EpochSampler(Sampler):
    """Yields ``(index, sample_seed)`` in an order that depends only on (seed, epoch).

    Each sample's seed is drawn per (seed, epoch, index), so its augmentation is the same whichever
    process (main or loader worker) transforms it and whatever ran before: a run resumed at epoch
    ``e`` sees exactly the batches an uninterrupted one does, with any number of workers.

    With ``weights`` (one per sample) the epoch draws ``size`` samples with replacement in proportion
    to them (the balanced sampler); each draw gets a seed of its own, so a repeated image is augmented
    anew each time it comes up.
    """

    def __init__(self, size: int, *, seed: int, shuffle: bool, weights: Sequence[float] | None = None) -> None:
        self.size, self.seed, self.shuffle = size, seed, shuffle
        self.weights = None if weights is None else torch.as_tensor(weights, dtype=torch.double)
        if self.weights is not None and len(self.weights) != size:
            raise ValueError(f"{len(self.weights)} sample weights for {size} samples")
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        """Choose the epoch whose order and sample seeds the next pass uses."""
        self.epoch = epoch

    def __len__(self) -> int:
        return self.size

    def __iter__(self) -> Iterator[tuple[int, int]]:
        generator = epoch_generator(self.seed, self.epoch)
        if self.weights is not None and self.size:
            drawn = torch.multinomial(self.weights, self.size, replacement=True, generator=generator)
            draw_seeds = torch.randint(0, 2**62, (self.size,), generator=generator)
            for index, seed in zip(drawn.tolist(), draw_seeds.tolist()):
                yield index, int(seed)
            return
        order = torch.randperm(self.size, generator=generator) if self.shuffle else torch.arange(self.size)
        sample_seeds = torch.randint(0, 2**62, (self.size,), generator=generator)
        for index in order.tolist():
            yield index, int(sample_seeds[index])


class ShardedSampler(Sampler):
    """One process's share of an ``EpochSampler``'s epoch, for data-parallel training.

    The epoch's (index, seed) keys are the same in every process (they depend on (seed, epoch)
    only); torch's ``DistributedSampler`` picks which positions of that order this rank takes, so
    the ranks together see the epoch a single process would, each image with the same augmentation.
    ``pad=True`` (training): every rank gets the same count, the DistributedSampler repeating a few
    keys. ``pad=False`` (evaluation): ranks take every ``world_size``-th key, so each sample comes once.
    """

    def __init__(self, base: EpochSampler, rank: int, world_size: int, *, pad: bool = True) -> None:
        from torch.utils.data.distributed import DistributedSampler

        self.base, self.rank, self.world_size = base, rank, world_size
        self.split = DistributedSampler(range(len(base)), num_replicas=world_size, rank=rank, shuffle=False) \
            if pad else None

    def set_epoch(self, epoch: int) -> None:
        self.base.set_epoch(epoch)
        if self.split is not None:
            self.split.set_epoch(epoch)

    def __len__(self) -> int:
        return len(self.split) if self.split is not None else len(range(self.rank, len(self.base), self.world_size))

    def __iter__(self) -> Iterator[tuple[int, int]]:
        keys = list(self.base)
        positions = iter(self.split) if self.split is not None else range(self.rank, len(keys), self.world_size)
        for position in positions:
            yield keys[position]


class SeededItems(Dataset):
    """``base[index]`` with torch's, Python's and NumPy's RNGs seeded per item from an ``(index, seed)`` key.

    In the main process (no loader workers) the global RNG states are put back afterwards, so the
    transforms never shift the random streams the training step draws from (dropout and the like).
    """

    def __init__(self, base: Dataset) -> None:
        self.base = base

    def __len__(self) -> int:
        return len(self.base)  # type: ignore[arg-type]

    def __getitem__(self, key: tuple[int, int]) -> Any:
        index, seed = key
        if get_worker_info() is not None:  # a worker process: its RNGs serve only the transforms
            seed_transforms(seed)
            return self.base[index]
        saved = torch.get_rng_state(), random.getstate(), np.random.get_state()
        try:
            seed_transforms(seed)
            return self.base[index]
        finally:
            torch.set_rng_state(saved[0])
            random.setstate(saved[1])
            np.random.set_state(saved[2])


def seed_transforms(seed: int) -> None:
    """Seed the CPU generators the transforms may draw from (torch's, Python's and NumPy's)."""
    torch.default_generator.manual_seed(seed)
    random.seed(seed)
    np.random.seed(seed % 2**32)


def make_loader(
    dataset: Dataset,
    *,
    batch_size: int,
    shuffle: bool,
    num_workers: int = -1,
    device_type: str = "cpu",
    seed: int = 0,
    drop_last: bool = False,
    sample_weights: Sequence[float] | None = None,
    shard: tuple[int, int] | None = None,
    pad_shard: bool = True,
) -> "_Loader":
    """A DataLoader whose order and augmentation depend only on (``seed``, epoch); ``num_workers=-1`` picks a count.

    Call ``loader.set_epoch(e)`` before each pass. Batches are the same with or without worker
    processes, so a resumed run repeats an uninterrupted one exactly. ``sample_weights``: draw with
    replacement in proportion to them (see ``EpochSampler``). ``shard=(rank, world_size)``: only that
    process's share of each epoch (``ShardedSampler``; ``pad_shard=False`` for evaluation).
    """
    workers = auto_num_workers(len(dataset), batch_size) if num_workers < 0 else num_workers  # type: ignore[arg-type]
    epochs = EpochSampler(len(dataset), seed=seed, shuffle=shuffle, weights=sample_weights)  # type: ignore[arg-type]
    sampler: Sampler = epochs if shard is None else ShardedSampler(epochs, *shard, pad=pad_shard)
    return _Loader(
        SeededItems(dataset),
        batch_size=batch_size,
        sampler=sampler,
        num_workers=workers,
        pin_memory=device_type == "cuda",
        drop_last=drop_last,
        # DataLoader draws its worker base seed from this, not from the global RNG (which it would shift)
        generator=torch.Generator().manual_seed(seed),
        persistent_workers=workers > 0,  # workers (and their image caches) survive from epoch to epoch
    )


class _Loader(DataLoader):
    """A DataLoader whose worker processes' ImgclsErrors reach the user with their own message.

    torch re-raises a worker's exception as ``type(exc)("Caught X in DataLoader worker process 0.
    Original Traceback ...")``: right type, but a screen of traceback instead of the one line we wrote.
    """

    def set_epoch(self, epoch: int) -> None:
        """Make the next pass epoch ``epoch``'s order and augmentation."""
        self.sampler.set_epoch(epoch)  # type: ignore[attr-defined]

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
