"""Feature cache for frozen backbones: compute backbone features once, then train only the head.

When every parameter below the head is frozen (and frozen BatchNorm runs in eval mode), the
backbone is a fixed function of the image, so recomputing it every epoch is wasted work. We run
it once per image and view, keep the features (in RAM within a budget, else memory-mapped), and
train the head on them. Views: view 0 is the eval transform; with ``feature_views = V > 0`` the
training images get V augmented views (each seeded by image and view, so a view is the same in
every run) and each epoch picks one of them per image.

Features persist in a cache folder, one ``.npy`` + ``.json`` pair per (exact backbone weights,
preprocessing, view), keyed by image content hash: a second run with the same backbone, or the
same images in another split, skips extraction.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ..checkpoint import atomic_write_bytes, atomic_write_text

if TYPE_CHECKING:
    import torch

    from .state import RunControl, RunState

CACHE_ENV = "IMGCLS_CACHE_DIR"


def default_cache_dir() -> Path:
    if os.environ.get(CACHE_ENV):
        return Path(os.environ[CACHE_ENV]) / "features"
    base = os.environ.get("XDG_CACHE_HOME") or (Path.home() / ".cache")
    return Path(base) / "imgcls" / "features"


def backbone_is_frozen(model: "torch.nn.Module") -> bool:
    """True when only head (and aux head) parameters train, so features below the head are fixed."""
    from ..models.build import spec_of

    spec = spec_of(model)
    heads = [h for h in (spec.head, spec.aux_head) if h]
    trainable = [n for n, p in model.named_parameters() if p.requires_grad]
    below = [n for n in trainable if not any(n == h or n.startswith(h + ".") for h in heads)]
    return bool(trainable) and not below and any(n.startswith(spec.head + ".") for n in trainable)


def backbone_fingerprint(model: "torch.nn.Module") -> str:
    """SHA-1 of every tensor below the head: the exact function the cached features come from."""
    from ..models.build import spec_of

    head = spec_of(model).head
    digest = hashlib.sha1()
    for name, tensor in sorted(model.state_dict().items()):
        if name.startswith(head + "."):
            continue
        digest.update(name.encode())
        digest.update(tensor.detach().cpu().contiguous().numpy().tobytes())
    return digest.hexdigest()


@dataclass(frozen=True)
class ViewSpec:
    """What produced one cached view: the eval rule (index 0) or augmentation ``index`` of a config."""

    index: int
    preprocessing: dict[str, Any]
    augment: dict[str, Any] | None  # None = eval transform

    def key(self, fingerprint: str) -> str:
        blob = json.dumps({"fp": fingerprint, **asdict(self)}, sort_keys=True, default=str)
        return hashlib.sha1(blob.encode()).hexdigest()[:20]


class FeatureStore:
    """On-disk features for one view key: ``<key>.npy`` rows aligned with ``<key>.json`` hashes."""

    def __init__(self, directory: Path, key: str) -> None:
        self.directory = directory
        self.array_path = directory / f"{key}.npy"
        self.index_path = directory / f"{key}.json"

    def load(self, mmap: bool) -> tuple[dict[str, int], np.ndarray | None]:
        try:
            hashes = json.loads(self.index_path.read_text(encoding="utf-8"))
            array = np.load(self.array_path, mmap_mode="r" if mmap else None, allow_pickle=False)
        except (OSError, ValueError):
            return {}, None
        if len(hashes) != len(array):
            return {}, None
        return {h: i for i, h in enumerate(hashes)}, array

    def save(self, hashes: list[str], array: np.ndarray) -> None:
        import io

        self.directory.mkdir(parents=True, exist_ok=True)
        buffer = io.BytesIO()
        np.save(buffer, array, allow_pickle=False)
        atomic_write_bytes(self.array_path, buffer.getvalue())
        atomic_write_text(self.index_path, json.dumps(hashes))


class HeadInput:
    """Context manager capturing the tensor that enters the head module on each forward pass."""

    def __init__(self, head: "torch.nn.Module") -> None:
        self.head = head
        self.value: Any = None

    def __enter__(self) -> "HeadInput":
        self._handle = self.head.register_forward_pre_hook(self._capture)
        return self

    def __exit__(self, *exc: object) -> None:
        self._handle.remove()

    def _capture(self, _module: Any, inputs: tuple) -> None:
        self.value = inputs[0]


class _SeededView:
    """A dataset wrapper that seeds the RNG per item, so augmented view ``v`` of an image is reproducible."""

    def __init__(self, base: Any, seeds: Sequence[int]) -> None:
        self.base, self.seeds = base, list(seeds)

    def __len__(self) -> int:
        return len(self.base)

    def __getitem__(self, index: int) -> Any:
        from ..data.loading import seed_transforms

        seed_transforms(self.seeds[index])  # after the loader's own per-item seed, so this one decides
        return self.base[index]


def extract_features(
    model: "torch.nn.Module",
    dataset: Any,
    *,
    device: "torch.device",
    batch_size: int,
    num_workers: int = -1,
    amp_dtype: "torch.dtype | None" = None,
    channels_last: bool = False,
    seeds: Sequence[int] | None = None,
    check: Callable[[], None] | None = None,
) -> np.ndarray:
    """Head-input features (float16, one row per item) of ``dataset`` yielding (image, target, index)."""
    from ..data.loading import make_loader
    from ..evaluation.forward import forward_batches
    from ..models.build import head_module

    source = _SeededView(dataset, seeds) if seeds is not None else dataset
    loader = make_loader(source, batch_size=batch_size, shuffle=False, num_workers=num_workers, device_type=device.type)
    rows: list[np.ndarray] = []
    with HeadInput(head_module(model)) as captured, _weights_channels_last(model, channels_last):
        for _output in forward_batches(model, loader, device, amp_dtype=amp_dtype, channels_last=channels_last,
                                       should_stop=check):
            rows.append(captured.value.flatten(1).float().cpu().numpy().astype(np.float16))
    return np.concatenate(rows) if rows else np.zeros((0, 0), dtype=np.float16)


@contextmanager
def _weights_channels_last(model: "torch.nn.Module", on: bool) -> Iterator[None]:
    """The model's 4-D weights channels-last while it extracts (inputs alone would reorder every weight at
    every call), back to the layout it trains in afterwards."""
    import torch

    convs = [p for p in model.parameters() if p.dim() == 4 and p.shape[2] * p.shape[3] > 1]  # 1x1: either layout
    if not on or not convs or not convs[0].is_contiguous():  # no convolution, or channels-last already
        yield
        return
    model.to(memory_format=torch.channels_last)
    try:
        yield
    finally:
        model.to(memory_format=torch.contiguous_format)


def cached_features(
    store: FeatureStore,
    hashes: list[str],
    compute: Callable[[list[int]], np.ndarray],
    *,
    ram_budget_bytes: int,
    distributed: bool = False,
) -> tuple[np.ndarray, int]:
    """Rows for ``hashes`` from the store, computing (and saving) only the missing ones.

    Returns the features and how many rows had to be computed. ``distributed`` (a data-parallel run,
    every process calling this with the same ``hashes``): the rows any process lacks are computed a
    share per process and gathered; rank 0 saves the merged store, and the others read it after a
    barrier (or keep the gathered rows, when their disk is not rank 0's).
    """
    known, array = store.load(mmap=True)
    missing = [i for i, h in enumerate(hashes) if h not in known]
    if distributed:
        from .distributed import compute_in_shares, current_world, union_over_ranks

        missing = union_over_ranks(missing)
        saves = current_world().is_main  # type: ignore[union-attr]
    else:
        saves = True
    if missing:
        fresh = compute_in_shares(missing, compute) if distributed else compute(missing)
        merged_hashes = list(known) if array is not None else []
        parts = [np.asarray(array)] if array is not None and len(array) else []
        for i, row in zip(missing, fresh):
            if hashes[i] not in known:
                known[hashes[i]] = len(merged_hashes)
                merged_hashes.append(hashes[i])
                parts.append(row[None, :])
        array = np.concatenate(parts) if parts else fresh
        if saves:
            store.save(merged_hashes, array)
        if distributed:
            from .distributed import barrier

            barrier()
        saved_known, saved = store.load(mmap=True)
        if saved is not None and all(h in saved_known for h in hashes):
            known, array = saved_known, saved
    rows = np.fromiter((known[h] for h in hashes), dtype=np.int64, count=len(hashes))
    fits = array.dtype.itemsize * array.shape[1] * len(rows) <= ram_budget_bytes
    if fits:
        return np.ascontiguousarray(array[rows]), len(missing)
    return _MappedRows(array, rows), len(missing)  # type: ignore[return-value]


class _MappedRows:
    """Rows of a memory-mapped array picked lazily (for feature sets over the RAM budget)."""

    def __init__(self, array: np.ndarray, rows: np.ndarray) -> None:
        self.array, self.rows = array, rows
        self.shape = (len(rows), array.shape[1])

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, index: Any) -> np.ndarray:
        return np.asarray(self.array[self.rows[index]])


class FeatureLoader:
    """Batches of (features, targets, indices) in the image loader's order, for the same seed and epoch.

    Order and per-sample seeds come from the same ``EpochSampler`` the image path uses; a sample's
    seed also picks which cached view it shows this epoch.
    """

    def __init__(self, views: list[Any], targets: "torch.Tensor", *, batch_size: int, shuffle: bool, seed: int = 0,
                 drop_last: bool = False, sample_weights: Sequence[float] | None = None,
                 shard: tuple[int, int] | None = None, pad_shard: bool = True) -> None:
        from ..data.loading import EpochSampler, ShardedSampler

        self.views, self.targets = views, targets
        self.batch_size, self.drop_last = batch_size, drop_last
        epochs = EpochSampler(len(targets), seed=seed, shuffle=shuffle, weights=sample_weights)
        self.sampler = epochs if shard is None else ShardedSampler(epochs, *shard, pad=pad_shard)  # as the image loaders

    def set_epoch(self, epoch: int) -> None:
        """Make the next pass epoch ``epoch``'s order and views."""
        self.sampler.set_epoch(epoch)

    def __len__(self) -> int:
        n = len(self.sampler)
        return n // self.batch_size if self.drop_last else -(-n // self.batch_size)

    def __iter__(self):
        import torch
        from torch.utils.data import BatchSampler

        for keys in BatchSampler(list(self.sampler), self.batch_size, self.drop_last):
            batch = [index for index, _seed in keys]
            index = torch.as_tensor(batch)
            rows = [self.views[seed % len(self.views)][i] for i, seed in keys]
            features = torch.from_numpy(np.stack(rows).astype(np.float32))
            yield features, self.targets[index], index


def build_feature_loaders(run: "RunState", control: "RunControl") -> tuple[FeatureLoader, FeatureLoader]:
    """Cached (train, val) feature loaders for a run whose backbone is frozen."""
    import torch

    from ..data.loading import ImageDataset
    from ..data.images import file_sha1
    from ..data.preprocess import eval_transform

    plan = run.plan
    cfg = plan.config.train
    model, pre = run.model, plan.preprocessing
    directory = Path(cfg.feature_cache_dir) if cfg.feature_cache_dir else default_cache_dir()
    started = time.perf_counter()
    fingerprint = backbone_fingerprint(model)
    budget = cfg.feature_cache_ram_mb * 1024 * 1024
    common = dict(device=plan.device, batch_size=cfg.batch_size, num_workers=plan.config.data.num_workers,
                  amp_dtype=plan.amp_dtype, channels_last=plan.forward_channels_last, check=control.check_requests)
    computed = 0

    def view(paths: list[Path], spec: ViewSpec, dataset_for: Callable[[list[int]], Any], seeds_for) -> Any:
        nonlocal computed
        hashes = [plan.known_sha1.get(p) or _content_key(p, file_sha1) for p in paths]  # a project hashed them already
        store = FeatureStore(directory, spec.key(fingerprint))
        rows, fresh = cached_features(
            store, hashes, lambda idx: extract_features(model, dataset_for(idx), seeds=seeds_for(idx, hashes), **common),
            ram_budget_bytes=budget // (1 + max(cfg.feature_views, 1)), distributed=plan.world is not None,
        )
        computed += fresh
        return rows

    eval_spec = ViewSpec(0, pre.to_dict(), None)
    train_paths, val_paths = list(plan.train_set.paths), list(plan.val_set.paths)
    eval_tf = eval_transform(pre)

    def eval_dataset(paths: list[Path]) -> Callable[[list[int]], Any]:
        return lambda idx: ImageDataset([paths[i] for i in idx], torch.zeros(len(idx)), eval_tf)

    no_seeds = lambda idx, hashes: None  # noqa: E731
    control.log(f"computing backbone features for {len(train_paths) + len(val_paths)} images "
                     f"({max(cfg.feature_views, 1)} view(s) per training image)")
    val_rows = view(val_paths, eval_spec, eval_dataset(val_paths), no_seeds)
    if cfg.feature_views > 0:
        augment = asdict(plan.config.augment)
        train_views = []
        for v in range(1, cfg.feature_views + 1):
            def augmented(idx: list[int]) -> Any:
                return ImageDataset([train_paths[i] for i in idx], torch.zeros(len(idx)), plan.train_set.transform)

            def seeds(idx: list[int], hashes: list[str], v: int = v) -> list[int]:
                return [int(hashes[i][:8], 16) ^ (v * 0x9E3779B1) for i in idx]

            train_views.append(view(train_paths, ViewSpec(v, pre.to_dict(), augment), augmented, seeds))
    else:
        train_views = [view(train_paths, eval_spec, eval_dataset(train_paths), no_seeds)]
    seconds = time.perf_counter() - started
    control.log(f"features ready in {seconds:.1f}s ({computed} computed, the rest from the cache)")
    # Batches and shards as the image loaders have them (setup.py), so steps per epoch stay the same.
    world = plan.world
    shard = (world.rank, world.world_size) if world is not None else None
    batch = plan.layout.micro_batch if plan.layout is not None else cfg.batch_size
    shard_size = -(-len(train_paths) // (world.world_size if world is not None else 1))
    train = FeatureLoader(train_views, plan.train_set.targets, batch_size=batch, shuffle=True, seed=cfg.seed,
                          drop_last=shard_size % batch == 1, sample_weights=plan.train_sample_weights, shard=shard)
    val = FeatureLoader([val_rows], plan.val_set.targets, batch_size=batch, shuffle=False, seed=cfg.seed,
                        shard=shard, pad_shard=False)
    return train, val


def _content_key(path: Path, file_sha1: Callable[[Path], str]) -> str:
    """The file's SHA-1; for a file that cannot be read (a FIFO, a device, no permission) a hex key of its path.

    The dataset puts another image in place of such a file (and warns), so its features are cached under a
    key of their own; once the file is readable its real hash differs and its features are computed anew.
    """
    try:
        return file_sha1(path)
    except OSError:
        return hashlib.sha1(f"unreadable:{path}".encode(), usedforsecurity=False).hexdigest()
