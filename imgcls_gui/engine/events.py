"""Events the training loop announces to callbacks (fastai-style named events, Lightning-style hooks).

Each event is a small frozen dataclass, so the GUI worker can forward it as a Qt signal payload
unchanged and the CLI can render it as a progress bar.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol


@dataclass(frozen=True)
class FitStart:
    epochs: int
    start_epoch: int  # > 0 when resuming
    train_size: int
    val_size: int
    batches_per_epoch: int
    device: str
    classes: tuple[str, ...]
    task: str


@dataclass(frozen=True)
class EpochStart:
    epoch: int  # 0-based
    epochs: int
    phase: str  # "train" or "head" (feature cache / frozen head phase) or "finetune"


@dataclass(frozen=True)
class BatchEnd:
    epoch: int
    batch: int  # 0-based index within the epoch
    batches: int
    loss: float
    lr: float
    images_per_s: float
    step: int  # global optimizer step


@dataclass(frozen=True)
class EpochEnd:
    epoch: int
    epochs: int
    metrics: dict[str, float]  # train_loss, val_loss, lr, seconds, images_per_s and validation metrics
    is_best: bool


@dataclass(frozen=True)
class CheckpointSaved:
    path: str
    epoch: int
    kind: str  # "best" or "last"


@dataclass(frozen=True)
class LogLine:
    message: str
    level: str = "info"


@dataclass(frozen=True)
class LrFindStep:
    """One step of a learning-rate sweep (``imgcls lr-find``, the app's Find learning rate)."""

    step: int  # 0-based
    steps: int  # planned; the sweep may stop earlier when the loss diverges
    lr: float
    loss: float
    smoothed: float  # the moving average the suggestions are read from


@dataclass(frozen=True)
class FitEnd:
    stopped: bool  # True when a stop request ended the run early
    epochs_run: int
    best_epoch: int
    final: dict[str, float] = field(default_factory=dict)
    run_dir: str = ""


@dataclass(frozen=True)
class SearchStart:
    """A hyper-parameter search starts (or resumes with ``done`` trials already finished)."""

    trials: int  # planned in all
    done: int
    metric: str  # the validation metric every trial is judged by
    direction: str  # "maximize" or "minimize"
    parameters: tuple[str, ...]  # the searched parameters, in the space's order
    folder: str
    previous: tuple[TrialEnd, ...] = ()  # resuming: the trials the study already holds, with the best so far


@dataclass(frozen=True)
class TrialStart:
    number: int  # 0-based, Optuna's trial number
    trials: int
    params: dict[str, Any]
    run_dir: str


@dataclass(frozen=True)
class TrialEnd:
    """A trial ended: ``state`` is complete, pruned, failed or stopped; ``value`` its best validation metric."""

    number: int
    state: str
    params: dict[str, Any]
    value: float | None
    seconds: float
    epochs_run: int
    run_dir: str
    best_number: int | None = None  # the best trial so far (None while no trial completed)
    best_value: float | None = None
    importance: dict[str, float] = field(default_factory=dict)  # recomputed every few trials; {} = unchanged


@dataclass(frozen=True)
class SearchEnd:
    stopped: bool  # a stop request (or the time limit) ended the search before its trials were all run
    trials_done: int
    best_number: int | None
    best_value: float | None
    importance: dict[str, float] = field(default_factory=dict)
    folder: str = ""


@dataclass(frozen=True)
class JobProgress:
    """A child-process job other than training (an export, an evaluation) got this far."""

    done: int
    total: int
    what: str = ""


@dataclass(frozen=True)
class JobItems:
    """A child-process job's results as they come (a batch of predictions), each a dataclass's plain
    fields (``training/wire.py to_plain``); the caller rebuilds them as the dataclass it expects."""

    items: tuple[dict[str, Any], ...]


@dataclass(frozen=True)
class WatchStarted:
    """A watched folder's job runs: how it learns of new files (``mode`` "events" or "polling"), why it polls if
    it does, and the process that watches."""

    folder: Path
    mode: str
    fallback_reason: str
    pid: int


Event = (FitStart | EpochStart | BatchEnd | EpochEnd | CheckpointSaved | LogLine | FitEnd | SearchStart | TrialStart
         | TrialEnd | SearchEnd | LrFindStep | JobProgress | JobItems | WatchStarted)


class Callback(Protocol):
    """Anything with ``on_event(event)``; exceptions it raises propagate (StopRequested stops cleanly)."""

    def on_event(self, event: Any) -> None: ...
