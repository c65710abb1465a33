from __future__ import annotations

import math

import numpy as np
import pytest
from sklearn.metrics import f1_score

from imgcls_gui.engine.evaluation.metrics import compute_metrics, highest_loss_samples, tune_threshold


def test_multiclass_metrics_match_the_predictions():
    probs = np.array([[0.8, 0.1, 0.1], [0.2, 0.7, 0.1], [0.1, 0.2, 0.7], [0.6, 0.3, 0.1]])
    targets = np.array([0, 1, 2, 2])
    report = compute_metrics("multiclass", probs, targets, ["a", "b", "c"])
    assert report.scalars["accuracy"] == pytest.approx(0.75)
    assert report.confusion_matrix == [[1, 0, 0], [0, 1, 0], [1, 0, 1]]
    assert report.per_class["c"]["recall"] == pytest.approx(0.5)
    assert report.scalars["f1_macro"] == pytest.approx(f1_score(targets, probs.argmax(1), average="macro"))
    assert 0 <= report.scalars["roc_auc_ovr"] <= 1


def test_multiclass_auc_survives_a_split_missing_a_class():
    probs = np.array([[0.8, 0.1, 0.1], [0.2, 0.7, 0.1], [0.6, 0.3, 0.1]])
    report = compute_metrics("multiclass", probs, np.array([0, 1, 0]), ["a", "b", "c"])
    assert report.scalars["roc_auc_ovr"] == pytest.approx(1.0)


def test_multilabel_thresholds_are_tuned_and_reused():
    rng = np.random.default_rng(0)
    targets = rng.integers(0, 2, size=(60, 3))
    probs = np.clip(targets * 0.3 + 0.2 + rng.normal(0, 0.05, size=targets.shape), 0, 1)  # separable at ~0.35
    report = compute_metrics("multilabel", probs, targets, ["x", "y", "z"])
    assert report.scalars["map"] == pytest.approx(1.0)
    assert report.scalars["roc_auc_macro"] == pytest.approx(1.0)
    assert report.scalars["f1_macro"] == pytest.approx(1.0)
    assert all(0.2 < t < 0.6 for t in report.thresholds)
    fixed = compute_metrics("multilabel", probs, targets, ["x", "y", "z"], thresholds=[0.9, 0.9, 0.9])
    assert fixed.scalars["f1_macro"] < 0.5


def test_label_that_never_occurs_gives_nan_not_a_crash():
    probs = np.array([[0.9, 0.1], [0.8, 0.2]])
    report = compute_metrics("multilabel", probs, np.array([[1, 0], [0, 0]]), ["p", "q"])
    assert math.isnan(report.per_class["q"]["roc_auc"])
    assert tune_threshold(probs[:, 1], np.array([0, 0])) == 0.5


def test_highest_loss_samples_are_worst_first():
    worst = highest_loss_samples(np.array([0.1, 2.0, 0.5]), [10, 11, 12], k=2)
    assert worst == [(11, 2.0), (12, 0.5)]
