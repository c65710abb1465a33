"""Listing a project's runs from their config.yaml and metrics.json, without torch."""

from __future__ import annotations

import json
import math
from datetime import datetime
from pathlib import Path

from imgcls_gui.engine.config import RunConfig, TrainConfig
from imgcls_gui.engine.project.runs import list_runs, new_run_dir, read_run


def _write_run(folder: Path, epochs: int, history_len: int, patience: int = 0, best_epoch: int | None = None) -> Path:
    folder.mkdir(parents=True)
    config = RunConfig(train=TrainConfig(epochs=epochs, early_stopping_patience=patience))
    (folder / "config.yaml").write_text(config.to_yaml())
    history = [{"epoch": i, "val_loss": 1.0 / (i + 1), "accuracy": 0.5 + i / 100} for i in range(history_len)]
    best = history_len - 1 if best_epoch is None else best_epoch
    final = {k: v for k, v in history[best].items() if k != "epoch"} if history else {}
    metrics = {"monitor": "accuracy", "best_epoch": best, "history": history, "final": final,
               "classes": ["a", "b"], "task": "multiclass", "thresholds": None}
    (folder / "metrics.json").write_text(json.dumps(metrics))
    (folder / "last.pt").write_bytes(b"")
    return folder


def test_status_follows_the_history(tmp_path: Path):
    assert read_run(_write_run(tmp_path / "done", 3, 3)).status == "finished"
    stopped = read_run(_write_run(tmp_path / "stopped", 5, 2))
    assert stopped.status == "stopped" and stopped.resumable
    early = read_run(_write_run(tmp_path / "early", 10, 5, patience=2, best_epoch=2))
    assert early.status == "early-stopped" and not early.resumable
    fresh = tmp_path / "fresh"
    fresh.mkdir()
    (fresh / "config.yaml").write_text(RunConfig().to_yaml())
    assert read_run(fresh).status == "not started"


def test_summary_carries_best_metrics_and_config(tmp_path: Path):
    run = read_run(_write_run(tmp_path / "r", 4, 4, best_epoch=1))
    assert run.best_value == 0.51 and run.epochs_run == 4 and run.epochs_planned == 4
    assert run.classes == ("a", "b") and run.backbone == RunConfig().model.name


def test_damaged_folders_are_listed_with_their_problem(tmp_path: Path):
    good = _write_run(tmp_path / "runs" / "good", 2, 2)
    bad = tmp_path / "runs" / "bad"
    bad.mkdir()
    (bad / "config.yaml").write_text("model: {name: resnet18, colour: red}\n")
    (bad / "metrics.json").write_text("{not json")
    (tmp_path / "runs" / "no-config").mkdir()
    runs = {r.name: r for r in list_runs(tmp_path / "runs")}
    assert set(runs) == {"good", "bad"}
    assert runs["bad"].status == "damaged" and "colour" in runs["bad"].problem
    assert math.isnan(runs["bad"].best_value)
    assert runs["good"].path == good and list_runs(tmp_path / "nowhere") == []


def test_new_run_dir_is_unique_and_safe(tmp_path: Path):
    when = datetime(2024, 5, 6, 7, 8, 9)
    first = new_run_dir(tmp_path, "resnet18 / head", now=when)
    assert first.name == "20240506-070809-resnet18-head" and not first.exists()
    first.mkdir()
    assert new_run_dir(tmp_path, "resnet18 / head", now=when).name == "20240506-070809-resnet18-head-2"
