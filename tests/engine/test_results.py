"""Per-image results of a run: they agree with the metric report, cells list their images, curves are sane."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from imgcls_gui.engine.config import AugmentConfig, DataConfig, FreezeConfig, ModelConfig, OptimConfig, RunConfig, TrainConfig
from imgcls_gui.engine.errors import DatasetError
from imgcls_gui.engine.evaluation.evaluate import evaluate_run
from imgcls_gui.engine.evaluation.results import roc_pr_curves, run_results
from imgcls_gui.engine.training.trainer import Trainer

from .tiny_data import make_class_folders, make_multilabel_csv


def _config(data: Path, **data_options) -> RunConfig:
    return RunConfig(
        data=DataConfig(path=str(data), num_workers=0, val_fraction=0.4, **data_options),
        augment=AugmentConfig(random_resized_crop=False),
        model=ModelConfig(name="mobilenet_v3_small", weights="none", image_size=32),
        freeze=FreezeConfig(mode="none"),
        optim=OptimConfig(lr=3e-3, scheduler="constant"),
        train=TrainConfig(epochs=1, batch_size=8, seed=0, device="cpu", feature_cache=False),
    )


@pytest.fixture(scope="module")
def multiclass_run(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("results-mc")
    data = make_class_folders(root / "data", classes=("red", "green", "blue"), per_class=6)
    Trainer(_config(data), root / "run").fit()
    return root / "run"


def test_per_image_results_agree_with_the_evaluation_report(multiclass_run: Path):
    results = run_results(multiclass_run, device="cpu")
    report = evaluate_run(multiclass_run, device="cpu")
    assert results.classes == ("blue", "green", "red") and results.task == "multiclass"
    assert len(results.samples) == report["images"]
    assert results.scalars["accuracy"] == pytest.approx(report["scalars"]["accuracy"])
    assert [list(row) for row in results.confusion_matrix] == report["confusion_matrix"]
    assert results.scalars["accuracy"] == pytest.approx(np.mean([s.correct for s in results.samples]))
    for sample in results.samples:
        assert sample.path.is_file() and sample.path.parent.name == sample.true[0]
        assert sum(sample.probs) == pytest.approx(1.0, abs=1e-4)
        assert sample.predicted[0] == results.classes[int(np.argmax(sample.probs))]


def test_each_confusion_cell_lists_exactly_its_images(multiclass_run: Path):
    results = run_results(multiclass_run, device="cpu")
    n = len(results.classes)
    listed = []
    for t in range(n):
        for p in range(n):
            cell = results.cell(t, p)
            assert len(cell) == results.confusion_matrix[t][p]
            assert all(s.true == (results.classes[t],) and s.predicted == (results.classes[p],) for s in cell)
            listed += [s.index for s in cell]
    assert sorted(listed) == sorted(s.index for s in results.samples)


def test_highest_loss_is_sorted_and_matches_the_report(multiclass_run: Path):
    results = run_results(multiclass_run, device="cpu")
    worst = results.highest_loss(3)
    assert [s.loss for s in worst] == sorted((s.loss for s in results.samples), reverse=True)[:3]
    report = evaluate_run(multiclass_run, device="cpu")
    assert worst[0].loss == pytest.approx(report["highest_loss"][0]["loss"], rel=1e-4)  # ties may swap paths


def test_multilabel_results_use_the_stored_thresholds(tmp_path: Path):
    csv = make_multilabel_csv(tmp_path / "data", n=15)
    Trainer(_config(csv, format="csv"), tmp_path / "run").fit()
    results = run_results(tmp_path / "run", device="cpu")
    stored = json.loads((tmp_path / "run" / "metrics.json").read_text())["thresholds"]
    assert results.task == "multilabel" and results.confusion_matrix is None
    assert results.thresholds == pytest.approx(tuple(stored))
    for sample in results.samples:
        expected = tuple(c for c, p, t in zip(results.classes, sample.probs, results.thresholds) if p >= t)
        assert sample.predicted == expected
    assert len(results.roc) == len(results.pr) == 2


def test_curves_end_where_they_must_and_absent_classes_have_none():
    probs = np.array([[0.9, 0.1, 0.0], [0.2, 0.8, 0.0], [0.6, 0.4, 0.0], [0.3, 0.7, 0.0]])
    truth = np.array([[1, 0, 0], [0, 1, 0], [1, 0, 0], [0, 1, 0]])
    roc, pr = roc_pr_curves(probs, truth, ["a", "b", "never"])
    assert roc[0].area == pytest.approx(1.0) and roc[0].x[0] == 0.0 and roc[0].y[-1] == 1.0
    assert pr[0].area == pytest.approx(1.0) and max(pr[0].x) == 1.0
    assert math.isnan(roc[2].area) and roc[2].x == () and math.isnan(pr[2].area)


def test_a_run_without_its_split_file_says_so(multiclass_run: Path, tmp_path: Path):
    import shutil

    copy = tmp_path / "copy"
    shutil.copytree(multiclass_run, copy)
    (copy / "split.json").unlink()
    with pytest.raises(DatasetError, match="split.json"):
        run_results(copy, device="cpu")
    with pytest.raises(DatasetError, match="'test'"):
        run_results(multiclass_run, "test", device="cpu")
