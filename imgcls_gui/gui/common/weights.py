"""Pieces about starting weights that the Model panel's weights box and the Training panel's
missing-weights dialog share: the file dialog for a weights file, the look at torchvision's cache,
and the worker task that downloads ImageNet weights (or checks a file) by building the model."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtWidgets import QFileDialog, QProgressBar, QWidget

from ...engine import ModelConfig
from ..background import import_torch
from ..worker import TaskState

FILE_FILTERS = {"file": "Weights (*.pt *.pth *.bin);;All files (*)",
                "run": "imgcls checkpoints (best.pt last.pt *.pt);;All files (*)"}


def show_download_progress(bar: QProgressBar, done: int, total: int) -> None:
    """Show how many MiB of a weights download have arrived on ``bar``."""
    bar.setRange(0, max(total, 1))
    bar.setValue(done)
    bar.setFormat(f"{done / 2**20:.1f} / {total / 2**20:.1f} MiB")


def ask_weights_path(parent: QWidget, kind: str) -> str:
    """File dialog for a weights file ("file") or an imgcls checkpoint ("run"); "" when cancelled."""
    title = "Choose a weights file" if kind == "file" else "Choose best.pt of an imgcls run (any project)"
    path, _ = QFileDialog.getOpenFileName(parent, title, str(Path.home()), FILE_FILTERS[kind])
    return path


def cached_weights(names: list[str]) -> dict[str, str]:
    """For each backbone in ``names`` with cached ImageNet weights, the file holding them (imports torch)."""
    from ...engine import weights_cache_path

    cached = {}
    for name in names:
        path = weights_cache_path(name)
        if path.is_file():
            cached[name] = str(path)
    return cached


def weights_cache_task(task: TaskState, names: list[str]) -> dict[str, str]:
    """Worker task: ``cached_weights`` off the UI thread."""
    import_torch()
    return cached_weights(names)


def prepare_weights_task(task: TaskState, model_cfg: ModelConfig, num_classes: int) -> str:
    """Build the model with its weights: downloads ImageNet weights (with progress) or checks a local file.

    Returns a line for the status label; raises the engine's ModelError/CheckpointError otherwise.
    """
    import_torch()
    from ...engine import build_model, weights_cache_path

    build_model(model_cfg, max(num_classes, 2), progress=task.set_progress)
    if model_cfg.weights == "imagenet":
        return f"ImageNet weights ready: {weights_cache_path(model_cfg.name)}"
    return f"Weights file fits {model_cfg.name}: {Path(model_cfg.weights).name}"


def missing_weights_task(task: TaskState, name: str, names: list[str]) -> tuple[str | None, dict[str, str]]:
    """Worker task: the file ``name``'s ImageNet weights would be in when it is missing (None when cached),
    and ``cached_weights(names)``, for the choices offered instead."""
    import_torch()
    from ...engine import weights_cache_path

    path = weights_cache_path(name)
    return (None if path.is_file() else str(path)), cached_weights(names)
