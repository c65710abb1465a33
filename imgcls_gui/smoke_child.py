"""The smoke test's engine work (``smoke.py``), done in the app's child process the way the app does it.

The app runs its long work in one warm child process (``engine/training/child_process.py``) started with
the spawn method: in a frozen app that is the executable run again, which becomes the child only because
the entry point calls ``multiprocessing.freeze_support()`` first. The smoke test takes that child as the
app's tasks do (``acquire_child``) and, in it: checks the child itself (its pid, torchvision's compiled
operators, no Qt GUI module loaded), trains one tiny epoch with ``run_fit`` (the Training panel's call),
exports the model bundle with ``export_in_child`` (the Export dialog's) and predicts a folder with
``predict_in_child`` (the Inference panel's, after ``describe_in_child``: the panel's model is loaded only in
the child).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

SMOKE_MODEL = "mobilenet_v3_small"
SMOKE_IMAGE_SIZE = 32
LOADER_WORKERS = 1
PREDICT_PER_CLASS = 3
PREDICT_BATCH_SIZE = 16  # the Inference panel's: 30 images come back in two batches
PREDICT_TOP_K = 3


@dataclass(frozen=True)
class TrainingOutcome:
    """What the run in the child reported."""

    train_images: int
    val_images: int
    classes: tuple[str, ...]
    loader_processes: int  # the child's own child processes (DataLoader workers) seen alive at a batch
    val_accuracy: float


def smoke_config(project_dir: Path) -> Any:
    """The tiny run (a ``RunConfig``): no pretrained weights (no download), nothing frozen (so images go through
    the DataLoader rather than a feature cache), small images, one epoch on the CPU."""
    from .engine import DataConfig, FreezeConfig, ModelConfig, RunConfig, TrainConfig

    return RunConfig(
        data=DataConfig(path=str(project_dir), num_workers=LOADER_WORKERS),
        model=ModelConfig(name=SMOKE_MODEL, weights="none", image_size=SMOKE_IMAGE_SIZE),
        freeze=FreezeConfig(mode="none"),
        train=TrainConfig(epochs=1, batch_size=32, device="cpu", feature_cache=False),
    )


def check_child(child: Any) -> Any:
    """The child's own report (a ``ChildCheck``): another process than this one, torchvision's compiled operators
    working there, and no Qt GUI module loaded (a child started from a frozen executable that became a second
    app instead would have)."""
    from .engine import self_check_in_child

    check = self_check_in_child(child)
    if check.pid != child.pid or check.pid == os.getpid():
        raise RuntimeError(f"the self-check ran in process {check.pid}, not the app's child {child.pid}")
    if check.qt_gui_modules:
        raise RuntimeError(f"the child process loaded {', '.join(check.qt_gui_modules)}: it could open a window")
    return check


def train_in_child(child: Any, config: Any, run_dir: Path, dataset: Any) -> TrainingOutcome:
    """One epoch through ``run_fit``, as the Training panel's session starts a run; its events checked here."""
    from .engine import CHILD_PROCESSES_HOOK, CHILD_PROCESSES_LOG, JobControl
    from .engine.events import FitStart, LogLine

    events: list[object] = []
    result = child.run_fit(config, run_dir, dataset, False, events.append, JobControl(),
                           hooks={CHILD_PROCESSES_HOOK: True})  # honoured with IMGCLS_TEST_HOOKS=1 (isolate)
    if result.epochs_run != 1:
        raise RuntimeError(f"trained {result.epochs_run} epochs instead of 1")
    starts = [event for event in events if isinstance(event, FitStart)]
    if not starts:
        raise RuntimeError("the run announced no FitStart")
    counts = [int(event.message[len(CHILD_PROCESSES_LOG):]) for event in events
              if isinstance(event, LogLine) and event.message.startswith(CHILD_PROCESSES_LOG)]
    loader_processes = max(counts, default=0)
    if loader_processes < config.data.num_workers:
        raise RuntimeError(f"no DataLoader worker process was alive during training (saw {loader_processes})")
    start = starts[0]
    return TrainingOutcome(start.train_size, start.val_size, tuple(start.classes), loader_processes,
                           float(result.final.get("accuracy", float("nan"))))


def export_bundle_in_child(child: Any, run_dir: Path, out_dir: Path) -> Any:
    """The export a user ships, planned as the Export dialog plans it: model.onnx (written only after its parity
    check against PyTorch passed) plus labels.json, predict.py and README.md, copied from package files."""
    from .engine import ExportPlan, JobControl, export_in_child

    result = export_in_child(child, ExportPlan(run_dir, "onnx", out=None, bundle=out_dir), _ignore, JobControl())
    if result.pid != child.pid:
        raise RuntimeError(f"the export ran in process {result.pid}, not the app's child {child.pid}")
    expected = ("model.onnx", "labels.json", "predict.py", "README.md")
    missing = [name for name in expected if not (out_dir / name).is_file()]
    if missing:
        raise RuntimeError(f"the export bundle lacks {', '.join(missing)}")
    return result.reports[0]


def predict_folder_in_child(child: Any, model_path: Path, demo_images: Path, folder: Path,
                            classes: Sequence[str]) -> tuple[int, int]:
    """Copy a few demo images per class into ``folder``, predict it in the child; (predicted, right)."""
    from .engine import JobControl, describe_in_child, iter_image_paths, predict_in_child

    folder.mkdir(parents=True)
    for name in classes:
        for source in sorted((demo_images / name).glob("*.png"))[-PREDICT_PER_CLASS:]:
            shutil.copy2(source, folder / f"{name}_{source.name}")
    paths = iter_image_paths([folder])
    if len(paths) != PREDICT_PER_CLASS * len(classes):
        raise RuntimeError(f"expected {PREDICT_PER_CLASS * len(classes)} images in {folder}, found {len(paths)}")
    model = describe_in_child(child, model_path, False, _ignore, JobControl())  # as the Inference panel loads it
    if tuple(model.classes) != tuple(classes):
        raise RuntimeError(f"the exported model names the classes {model.classes}, trained on {tuple(classes)}")
    predictions: list[Any] = []

    def collect(event: object) -> None:
        if isinstance(event, tuple):  # a batch of Predictions; other events are the job's progress
            predictions.extend(event)

    done = predict_in_child(child, model, paths, PREDICT_TOP_K, PREDICT_BATCH_SIZE, collect, JobControl())
    failed = [p for p in predictions if p.error or p.label not in classes]
    if done != len(paths) or len(predictions) != len(paths) or failed:
        raise RuntimeError(f"{len(failed)} of {len(paths)} predictions failed ({len(predictions)} came back), "
                           f"e.g. {failed[:1]}")
    return len(predictions), sum(p.label == p.path.name.split("_")[0] for p in predictions)


def _ignore(event: object) -> None:
    """The export's progress events: the smoke test has no bar to move."""
