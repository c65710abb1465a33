"""The layout of a run's checkpoints (best.pt, last.pt): the one writer and the one resume reader.

``run_checkpoint`` builds the dict ``checkpoint.save_checkpoint`` stores; ``read_resume_point`` reads
last.pt back for resuming and ``restore_progress`` puts it into a freshly set-up run. Keys follow the torchvision references: model,
optimizer, scheduler, scaler, epoch and the config, plus what evaluation and prediction read
(classes, task, thresholds, preprocessing). ``checkpoint.py`` documents every key and adds the format
marker and version.
"""

from __future__ import annotations

import datetime
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..checkpoint import load_checkpoint
from ..config import RunConfig
from ..errors import CheckpointError
from .state import RunState, capture_rng, restore_rng

# What resuming needs beyond what every reader needs (checkpoint.REQUIRED_KEYS).
RESUME_KEYS = ("optimizer", "epoch", "step", "history")


def run_checkpoint(run: RunState, epoch: int, metrics: dict[str, float]) -> dict[str, Any]:
    """The checkpoint of ``run`` after finishing ``epoch`` (0-based), RNG states included."""
    from ... import __version__

    plan = run.plan
    return {
        "imgcls_version": __version__,
        "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "model": {k: v.contiguous() for k, v in run.model.state_dict().items()},
        "optimizer": run.optimizer.state_dict(),
        "scheduler": {"step": run.step},
        "scaler": run.scaler.state_dict() if run.scaler is not None else None,
        "epoch": epoch + 1,
        "step": run.step,
        "phase": run.phase,
        "best_metric": run.best_value,
        "best_epoch": run.best_epoch,
        "best_metrics": run.best_metrics,
        "best_thresholds": run.best_thresholds,
        "epochs_since_best": run.epochs_since_best,
        "history": run.history,
        "metrics": metrics,
        "classes": list(plan.classes),
        "task": plan.task,
        "thresholds": run.last_thresholds,
        "preprocessing": plan.preprocessing.to_dict(),
        "config": plan.config.to_dict(),
        "rng": capture_rng(),
        # A data-parallel run keeps its global batch when resumed on another number of processes.
        "global_batch": plan.layout.global_batch if plan.layout is not None else plan.config.train.batch_size,
        "world_size": plan.world.world_size if plan.world is not None else 1,
    }


@dataclass(frozen=True)
class ResumePoint:
    """A run's last.pt, read for resuming: what setup needs to know before it restores the rest."""

    config: RunConfig  # as the run was started
    epochs_done: int
    classes: tuple[str, ...]
    phase: str  # the freezing phase it stopped in
    ckpt: dict[str, Any]  # everything ``restore_progress`` puts back


def read_resume_point(run_dir: Path) -> ResumePoint:
    """last.pt of ``run_dir``, refused with the reason when it lacks what resuming needs."""
    path = run_dir / "last.pt"
    ckpt = load_checkpoint(path)
    missing = [key for key in RESUME_KEYS if key not in ckpt]
    if missing:
        raise CheckpointError(f"{path}: cannot resume from it (it lacks {', '.join(missing)}).")
    return ResumePoint(RunConfig.from_dict(ckpt["config"]), int(ckpt["epoch"]), tuple(ckpt["classes"]),
                       str(ckpt.get("phase", "train")), ckpt)


def restore_progress(run: RunState, point: ResumePoint) -> None:
    """Weights, optimizer, scaler, counters, best-so-far and RNG states from a resume point."""
    ckpt = point.ckpt
    run.model.load_state_dict(ckpt["model"])
    run.optimizer.load_state_dict(ckpt["optimizer"])
    if run.scaler is not None and ckpt.get("scaler"):
        run.scaler.load_state_dict(ckpt["scaler"])
    run.step = int(ckpt["step"])
    run.start_epoch = int(ckpt["epoch"])
    run.history = list(ckpt["history"])
    run.best_value = float(ckpt.get("best_metric", -math.inf))
    run.best_epoch = int(ckpt.get("best_epoch", -1))
    run.best_metrics = dict(ckpt.get("best_metrics") or {})
    run.best_thresholds = ckpt.get("best_thresholds")
    run.epochs_since_best = int(ckpt.get("epochs_since_best", 0))
    if ckpt.get("rng"):
        restore_rng(ckpt["rng"])
