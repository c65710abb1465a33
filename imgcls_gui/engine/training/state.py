"""One run's plan, its progress, how it talks to its host, and its random streams.

``RunPlan`` is what the run is once set up (resolved config, data, loaders, device) and never
changes; ``RunState`` is how far it got (model, optimizer, step, best epoch) and is what a
checkpoint saves. ``RunControl`` is the little the loops need from the trainer: announce an event,
honour stop/pause between batches. RNG states are kept as tensors and lists, so checkpoints load
with ``weights_only=True``.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from .. import events as ev
from ..config import RunConfig

if TYPE_CHECKING:
    import torch
    from torch.utils.data import DataLoader

    from ..data.loading import ImageDataset
    from ..data.preprocess import Preprocessing
    from .distributed import BatchLayout, World

Criterion = Callable[["torch.Tensor", "torch.Tensor"], "torch.Tensor"]


class Batches(Protocol):
    """What the loops iterate: (inputs, targets, indices) batches (a DataLoader or a feature loader)."""

    def __iter__(self) -> Iterator[tuple["torch.Tensor", "torch.Tensor", "torch.Tensor"]]: ...

    def __len__(self) -> int: ...

    def set_epoch(self, epoch: int) -> None: ...


@dataclass(frozen=True)
class RunControl:
    """What the loops may ask of whoever runs them: announce an event, block/stop between batches."""

    emit: Callable[[Any], None]
    check_requests: Callable[[], None]  # blocks while paused, raises StopRequested when asked to stop
    # At a training batch, where every rank of a distributed run is at the same batch (they agree on the
    # requests there); None: ``check_requests``.
    check_together: Callable[[], None] | None = None

    def check_training_batch(self) -> None:
        """Honour pause/stop before a training batch (all ranks together in a distributed run)."""
        (self.check_together or self.check_requests)()

    def log(self, message: str, level: str = "info") -> None:
        """Announce one log line."""
        self.emit(ev.LogLine(message, level))


@dataclass(frozen=True)
class RunPlan:
    """Everything fixed for the whole run: the resolved config, the data and where it runs."""

    config: RunConfig  # resolved: an automatic batch size is replaced by the chosen one
    run_dir: Path
    device: "torch.device"
    classes: tuple[str, ...]
    task: str
    monitor: str
    preprocessing: "Preprocessing"
    train_set: "ImageDataset"
    val_set: "ImageDataset"
    train_loader: "DataLoader"
    val_loader: "DataLoader"
    criterion: Criterion
    amp_dtype: "torch.dtype | None" = None
    known_sha1: Mapping[Path, str] = field(default_factory=dict)  # file hashes the dataset already knew (a project)
    train_sample_weights: "torch.Tensor | None" = None  # sampler: balanced; None = each image once per epoch
    channels_last: bool = False  # images and weights channels-last (CUDA: train.channels_last; CPU: train.cpu_speed)
    world: "World | None" = None  # a data-parallel run's process group (training/distributed.py); None: one process
    layout: "BatchLayout | None" = None  # global batch, per-pass batch, accumulation, lr scale; None: plain batches
    forward_channels_last: bool = False  # frozen-backbone feature extraction channels-last (CPU: per family)

    @property
    def accumulate(self) -> int:
        """Forward passes per optimizer step (more than 1 when a resumed run keeps a larger global batch)."""
        return self.layout.accumulate if self.layout is not None else 1

    @property
    def lr_scale(self) -> float:
        """The learning rate's factor under the linear scaling rule (1 in a plain single-process run)."""
        return self.layout.lr_scale if self.layout is not None else 1.0

    @property
    def is_main(self) -> bool:
        """Whether this process writes the run folder and announces events (rank 0, or the only process)."""
        return self.world is None or self.world.is_main

    @property
    def steps_per_epoch(self) -> int:
        """Optimizer steps per epoch (the feature loader batches the same images the same way)."""
        return max(1, math.ceil(len(self.train_loader) / self.accumulate))

    @property
    def total_steps(self) -> int:
        """Optimizer steps of the whole run, for the schedule."""
        return self.steps_per_epoch * self.config.train.epochs



@dataclass
class RunState:
    """How far the run got: what a checkpoint saves and resume restores."""

    plan: RunPlan
    model: "torch.nn.Module"
    optimizer: "torch.optim.Optimizer"
    scaler: "torch.amp.GradScaler | None" = None
    phase: str = "train"  # "head" (two-phase, backbone frozen), "finetune" (after unfreezing) or "train"
    step: int = 0
    start_epoch: int = 0
    history: list[dict[str, float]] = field(default_factory=list)
    best_value: float = -math.inf
    best_epoch: int = -1
    best_metrics: dict[str, float] = field(default_factory=dict)
    best_thresholds: list[float] | None = None
    epochs_since_best: int = 0
    last_thresholds: list[float] | None = None
    feature_loaders: tuple[Batches, Batches] | None = None  # (train, val) on cached features, backbone frozen
    parallel: "torch.nn.Module | None" = None  # the model inside DistributedDataParallel (built when training starts)
    val_images: int = 0  # how many validation images the last validation's metrics were computed on

    def update_best(self, epoch: int, metrics: dict[str, float]) -> bool:
        """Record an epoch's metrics; True when it is the best so far by the plan's monitor."""
        self.history.append(dict(metrics))
        monitor = self.plan.monitor
        value = metrics.get(monitor, math.nan)
        if monitor.endswith("loss"):
            value = -value
        improved = not math.isnan(value) and value > self.best_value
        if improved or self.best_epoch < 0:
            self.best_value = value if not math.isnan(value) else self.best_value
            self.best_epoch = epoch
            self.best_metrics = {k: v for k, v in metrics.items() if k != "epoch"}
            self.best_thresholds = self.last_thresholds
            self.epochs_since_best = 0
            return True
        self.epochs_since_best += 1
        return False

    def should_stop_early(self) -> bool:
        """True when the monitor has not improved for ``early_stopping_patience`` epochs."""
        patience = self.plan.config.train.early_stopping_patience
        return patience > 0 and self.epochs_since_best >= patience


def seed_everything(seed: int, deterministic: bool = False) -> None:
    """Seed Python, NumPy and torch (and ask torch for deterministic kernels)."""
    import numpy as np
    import torch

    random.seed(seed)
    np.random.seed(seed % (2**32))
    torch.manual_seed(seed)
    if deterministic:
        torch.use_deterministic_algorithms(True, warn_only=True)
        torch.backends.cudnn.benchmark = False


def capture_rng() -> dict[str, Any]:
    """This process's RNG states, as tensors and lists a weights-only checkpoint can hold."""
    import numpy as np
    import torch

    kind, keys, pos, has_gauss, cached = np.random.get_state()
    version, internal, gauss = random.getstate()
    state: dict[str, Any] = {
        "torch": torch.get_rng_state(),
        "python": [version, list(internal), gauss],
        "numpy": [kind, torch.from_numpy(keys.astype("int64")), int(pos), int(has_gauss), float(cached)],
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def restore_rng(state: dict[str, Any]) -> None:
    """Put back RNG states that ``capture_rng`` took."""
    import numpy as np
    import torch

    torch.set_rng_state(state["torch"])
    version, internal, gauss = state["python"]
    random.setstate((version, tuple(internal), gauss))
    kind, keys, pos, has_gauss, cached = state["numpy"]
    np.random.set_state((kind, keys.numpy().astype("uint32"), pos, has_gauss, cached))
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])
