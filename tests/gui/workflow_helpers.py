"""Helpers for the Model, Training and Inference panel tests: projects, fast configs, saved runs, waiting."""

from __future__ import annotations

import shutil
from pathlib import Path

from imgcls_gui.engine.config import (AugmentConfig, DataConfig, FreezeConfig, ModelConfig, OptimConfig,
                                      RunConfig, TrainConfig)
from imgcls_gui.gui.main_window import MainWindow
from imgcls_gui.gui.worker import running_workers

from ..engine.tiny_data import make_class_folders
from .dataset.helpers import import_and_wait

WAIT_MS = 180_000  # a loaded 2-core machine imports torch and trains slowly; waits end on signals anyway


def fast_config(**train) -> RunConfig:
    """mobilenet_v3_small at 32 px, random weights, everything trains, small batches, CPU."""
    return RunConfig(
        data=DataConfig(num_workers=0, val_fraction=0.3),
        augment=AugmentConfig(random_resized_crop=False),
        model=ModelConfig(name="mobilenet_v3_small", weights="none", image_size=32),
        freeze=FreezeConfig(mode="none"),
        optim=OptimConfig(lr=3e-3, scheduler="constant"),
        train=TrainConfig(**{"epochs": 2, "batch_size": 4, "seed": 0, "device": "cpu", **train}),
    )


def project_with_images(qtbot, window: MainWindow, tmp_path: Path, *folders: Path, name: str = "proj") -> Path:
    """A new project in ``tmp_path/name`` holding the images of ``folders`` (class sub-folders)."""
    assert window.projects.create_project(tmp_path / name, name)
    for folder in folders:
        import_and_wait(qtbot, window, folder)
    return tmp_path / name


def colour_project(qtbot, window: MainWindow, tmp_path: Path, per_class: int = 8) -> Path:
    data = make_class_folders(tmp_path / "colours", per_class=per_class)
    return project_with_images(qtbot, window, tmp_path, data)


def real_subset(source: Path, dest: Path, per_class: int) -> Path:
    """dest/<class>/: the first ``per_class`` photos of each class folder of ``source``."""
    for class_dir in sorted(p for p in source.iterdir() if p.is_dir()):
        target = dest / class_dir.name
        target.mkdir(parents=True, exist_ok=True)
        for photo in sorted(class_dir.iterdir())[:per_class]:
            shutil.copy(photo, target / photo.name)
    return dest


def wait_workers(qtbot, timeout: int = WAIT_MS) -> None:
    """Until no worker thread runs (model builds, previews, predictions)."""
    qtbot.waitUntil(lambda: not running_workers(), timeout=timeout)


def save_listed_run(run_dir: Path, config: RunConfig, history: list[dict], **save_run_options) -> Path:
    """A run folder the runs list shows: config.yaml, metrics.json and (optionally) a calibrated best.pt."""
    import json

    run_dir.mkdir(parents=True, exist_ok=True)
    if save_run_options.get("classes"):
        from ..engine.export_fixtures import save_run

        save_run(run_dir, **save_run_options)
    (run_dir / "config.yaml").write_text(config.to_yaml())
    final = dict(history[-1]) if history else {}
    final.pop("epoch", None)
    metrics = {"monitor": "accuracy", "best_epoch": len(history) - 1, "history": history, "final": final,
               "classes": list(save_run_options.get("classes", ("a", "b"))), "task": "multiclass", "thresholds": None}
    (run_dir / "metrics.json").write_text(json.dumps(metrics))
    return run_dir
