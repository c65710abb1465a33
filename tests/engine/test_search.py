"""Hyper-parameter search (engine/training/search.py): Optuna's study in SQLite, trials as run folders.

Tiny runs: mobilenet_v3_small with random weights at 32 px, head only on cached features, 2 epochs.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import optuna
import pytest

from imgcls_gui.engine import events as ev
from imgcls_gui.engine.config import (AugmentConfig, DataConfig, FreezeConfig, ModelConfig, OptimConfig, RunConfig,
                                      TrainConfig)
from imgcls_gui.engine.project.runs import read_run
from imgcls_gui.engine.training.search import Search, SearchSettings
from imgcls_gui.engine.training.search_space import parse_space
from imgcls_gui.engine.training.trainer import Trainer

from .tiny_data import make_class_folders

SPACE = {"lr": {"low": 1e-3, "high": 1e-1, "log": True}, "optimizer": ["adamw", "sgd"], "hidden_size": [0, 16],
         "label_smoothing": 0.05}


def search_base(data: Path, tmp_path: Path, epochs: int = 2) -> RunConfig:
    return RunConfig(
        data=DataConfig(path=str(data), num_workers=0, val_fraction=0.25),
        augment=AugmentConfig(random_resized_crop=False),
        model=ModelConfig(name="mobilenet_v3_small", weights="none", image_size=32),
        freeze=FreezeConfig(mode="head"),
        optim=OptimConfig(scheduler="constant"),
        train=TrainConfig(epochs=epochs, batch_size=8, seed=1, device="cpu", feature_cache_dir=str(tmp_path / "cache")),
    )


class Events:
    def __init__(self) -> None:
        self.events: list[object] = []

    def on_event(self, event: object) -> None:
        self.events.append(event)

    def of(self, kind: type) -> list:
        return [e for e in self.events if isinstance(e, kind)]


def test_a_killed_search_resumes_without_repeating_finished_trials_and_the_best_replays(tmp_path):
    data = make_class_folders(tmp_path / "data", per_class=8, size=32)
    folder = tmp_path / "search"
    space = parse_space(SPACE)
    first = Search(folder).start(search_base(data, tmp_path), space, SearchSettings(trials=1, metric="val_loss"))
    assert [(t.number, t.state) for t in first.trials] == [(0, "complete")]
    finished_metrics = {t.number: (Path(t.run_dir) / "metrics.json").stat().st_mtime_ns for t in first.trials}

    # What a search killed in its second trial leaves behind: Optuna's trial RUNNING with its settings, a run folder.
    study = optuna.load_study(study_name="imgcls", storage=f"sqlite:///{folder / 'study.sqlite'}")
    killed = study.ask()
    killed_params = space.suggest(killed)
    killed_dir = folder / "trials" / f"trial-{killed.number:04d}"
    killed_dir.mkdir()
    killed.set_user_attr("run_dir", str(killed_dir))
    (killed_dir / "config.yaml").write_text(search_base(data, tmp_path).to_yaml())

    events = Events()
    resumed = Search(folder, callbacks=[events]).resume(trials=2)
    start = events.of(ev.SearchStart)[0]
    assert start.done == 1
    assert [(t.number, t.state, t.best_number) for t in start.previous] == [(0, "complete", 0), (1, "failed", 0)]
    started = events.of(ev.TrialStart)
    assert [s.params for s in started] == [killed_params]  # the killed trial's settings, tried again, and nothing else
    assert {t.number: (Path(t.run_dir) / "metrics.json").stat().st_mtime_ns for t in resumed.trials[:1]} == finished_metrics
    assert [t.state for t in resumed.trials] == ["complete", "failed", "complete"]
    assert read_run(killed_dir).status == "failed"
    assert [row["state"] for row in csv.DictReader((folder / "trials.csv").open())] == ["complete", "failed", "complete"]
    assert Search(folder).resume().trials == resumed.trials  # both planned trials finished: nothing runs

    best = resumed.best
    assert best is not None and best.value == min(t.value for t in resumed.trials if t.state == "complete")
    replay = RunConfig.from_file(folder / "best" / "config.yaml")
    assert replay == RunConfig.from_file(Path(best.run_dir) / "config.yaml")
    again = Trainer(replay, tmp_path / "replay").fit()
    assert again.final["val_loss"] == pytest.approx(best.value, rel=1e-6)


def test_a_pruned_trial_leaves_a_valid_run_folder_marked_pruned(tmp_path):
    data = make_class_folders(tmp_path / "data", per_class=6, size=32)
    pruner = optuna.pruners.ThresholdPruner(lower=1.5)  # no accuracy reaches 1.5: pruned after its first epoch
    result = Search(tmp_path / "search", pruner=pruner).start(
        search_base(data, tmp_path, epochs=3), parse_space(SPACE), SearchSettings(trials=1))
    (trial,) = result.trials
    assert (trial.state, trial.epochs_run) == ("pruned", 1) and result.best is None
    run = read_run(trial.run_dir)
    assert run.status == "pruned" and not run.problem and not run.resumable
    assert run.epochs_run == 1 and run.has_checkpoint and (Path(trial.run_dir) / "last.pt").is_file()
    assert run.config == RunConfig.from_file(Path(trial.run_dir) / "config.yaml")
    marker = json.loads((Path(trial.run_dir) / "trial.json").read_text())
    assert marker["state"] == "pruned" and marker["params"] == trial.params
    assert json.loads((tmp_path / "search" / "split.json").read_text()) == \
        json.loads((Path(trial.run_dir) / "split.json").read_text())  # the search's one split
