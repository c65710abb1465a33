"""Metrics (evaluation/metrics.py) on the splits real runs produce: two classes, a class missing from the
split, a class never predicted, a label seen once. Expected values come from scikit-learn called directly.

Written to kill the mutants tools/mutation.sh found surviving in test_metrics.py's easier cases.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
from sklearn import metrics as skm

from imgcls_gui.engine.evaluation.metrics import compute_metrics, default_monitor, highest_loss_samples, tune_threshold

MULTICLASS_SCALARS = {"accuracy", "precision_macro", "recall_macro", "f1_macro", "f1_micro", "roc_auc_ovr"}
MULTILABEL_SCALARS = {"roc_auc_macro", "map", "f1_macro", "f1_micro", "subset_accuracy"}


def _quietly(*args, **kwargs):
    """compute_metrics with every warning an error: a run's log must not fill with sklearn's."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        return compute_metrics(*args, **kwargs)


def test_the_monitor_is_map_for_multilabel_and_accuracy_otherwise():
    assert default_monitor("multilabel") == "map"
    assert default_monitor("multiclass") == "accuracy"


def test_two_class_auc_is_the_positive_columns_auc():
    probs = np.array([[0.9, 0.1], [0.4, 0.6], [0.35, 0.65], [0.2, 0.8], [0.7, 0.3]])
    targets = np.array([0, 0, 1, 1, 1])
    report = _quietly("multiclass", probs, targets, ["dog", "cat"])
    assert report.scalars["roc_auc_ovr"] == pytest.approx(skm.roc_auc_score(targets, probs[:, 1]))
    assert 0.5 < report.scalars["roc_auc_ovr"] < 1.0  # not a value a constant or a swapped column gives


def test_auc_over_the_classes_present_renormalises_their_probabilities():
    # Four classes, "d" absent from the split but holding probability mass.
    probs = np.array([[0.5, 0.1, 0.1, 0.3], [0.1, 0.4, 0.2, 0.3], [0.2, 0.1, 0.3, 0.4],
                      [0.1, 0.3, 0.5, 0.1], [0.3, 0.4, 0.1, 0.2], [0.2, 0.2, 0.2, 0.4]])
    targets = np.array([0, 1, 2, 2, 0, 1])
    sub = probs[:, :3] / probs[:, :3].sum(axis=1, keepdims=True)
    expected = skm.roc_auc_score(targets, sub, multi_class="ovr")
    report = _quietly("multiclass", probs, targets, ["a", "b", "c", "d"])
    assert report.scalars["roc_auc_ovr"] == pytest.approx(expected)


def test_multiclass_report_names_every_metric_and_counts_absent_classes():
    probs = np.array([[0.8, 0.1, 0.1], [0.6, 0.3, 0.1], [0.3, 0.6, 0.1], [0.7, 0.2, 0.1]])
    targets = np.array([0, 1, 1, 0])  # "c" never occurs and is never predicted
    preds = probs.argmax(axis=1)
    report = _quietly("multiclass", probs, targets, ["a", "b", "c"])
    assert set(report.scalars) == MULTICLASS_SCALARS
    p, r, f, _ = skm.precision_recall_fscore_support(targets, preds, labels=[0, 1, 2], zero_division=0)
    assert report.scalars["precision_macro"] == pytest.approx(np.mean(p))
    assert report.scalars["recall_macro"] == pytest.approx(np.mean(r))
    # Macro F1 averages over every class of the run, an absent one counting 0.
    assert report.scalars["f1_macro"] == pytest.approx((f[0] + f[1] + 0.0) / 3)
    assert report.scalars["f1_micro"] == pytest.approx(0.75)
    assert report.confusion_matrix == [[2, 0, 0], [1, 1, 0], [0, 0, 0]]
    assert report.per_class["c"] == {"precision": 0.0, "recall": 0.0, "f1": 0.0, "support": 0}
    assert report.per_class["a"] == pytest.approx({"precision": 2 / 3, "recall": 1.0, "f1": 0.8, "support": 2})


def test_a_class_never_predicted_scores_zero_precision_without_warnings():
    probs = np.array([[0.9, 0.1], [0.8, 0.2], [0.6, 0.4]])
    report = _quietly("multiclass", probs, np.array([0, 1, 1]), ["a", "b"])
    assert report.per_class["b"]["precision"] == 0.0
    assert report.scalars["precision_macro"] == pytest.approx((1 / 3 + 0.0) / 2)


def _multilabel_case():
    # Columns: "often" (mixed), "once" (one positive), "never" (no positive, never predicted).
    targets = np.array([[1, 0, 0], [0, 1, 0], [1, 0, 0], [0, 0, 0], [1, 0, 0]])
    probs = np.array([[0.9, 0.2, 0.1], [0.3, 0.6, 0.2], [0.7, 0.3, 0.1], [0.2, 0.1, 0.3], [0.4, 0.5, 0.2]])
    return probs, targets


def test_multilabel_report_scores_a_label_seen_once_and_skips_one_never_seen():
    probs, targets = _multilabel_case()
    report = _quietly("multilabel", probs, targets, ["often", "once", "never"])
    assert set(report.scalars) == MULTILABEL_SCALARS
    once = report.per_class["once"]
    assert once["roc_auc"] == pytest.approx(skm.roc_auc_score(targets[:, 1], probs[:, 1]))
    assert once["average_precision"] == pytest.approx(skm.average_precision_score(targets[:, 1], probs[:, 1]))
    never = report.per_class["never"]
    assert math.isnan(never["roc_auc"]) and math.isnan(never["average_precision"])
    assert (never["f1"], never["threshold"], never["support"]) == (0.0, 0.5, 0)
    assert set(once) == {"roc_auc", "average_precision", "f1", "threshold", "support"}
    assert once["support"] == 1
    aps = [report.per_class[name]["average_precision"] for name in ("often", "once")]
    assert report.scalars["map"] == pytest.approx(np.mean(aps))  # the never-seen label is left out


def test_a_label_every_sample_has_gets_no_auc_but_an_average_precision():
    targets = np.array([[1, 1], [1, 0], [1, 1], [1, 0]])
    probs = np.array([[0.9, 0.8], [0.6, 0.3], [0.8, 0.7], [0.7, 0.4]])
    report = _quietly("multilabel", probs, targets, ["always", "half"])
    assert math.isnan(report.per_class["always"]["roc_auc"])
    assert report.per_class["always"]["average_precision"] == pytest.approx(1.0)


def test_multilabel_f1_counts_a_label_never_seen_nor_predicted_as_zero():
    probs, targets = _multilabel_case()
    report = _quietly("multilabel", probs, targets, ["often", "once", "never"], thresholds=[0.5, 0.5, 0.5])
    preds = (probs >= 0.5).astype(int)
    per_label = skm.f1_score(targets, preds, average=None, zero_division=0)
    assert per_label[2] == 0.0
    assert report.scalars["f1_macro"] == pytest.approx(np.mean(per_label))
    assert report.scalars["f1_micro"] == pytest.approx(skm.f1_score(targets, preds, average="micro"))
    assert report.scalars["subset_accuracy"] == pytest.approx(skm.accuracy_score(targets, preds))
    assert report.thresholds == [0.5, 0.5, 0.5]
    assert report.per_class["often"]["threshold"] == 0.5


def test_report_dict_carries_every_part():
    probs, targets = _multilabel_case()
    report = _quietly("multilabel", probs, targets, ["often", "once", "never"])
    data = report.to_dict()
    assert data == {"scalars": report.scalars, "per_class": report.per_class,
                    "confusion_matrix": None, "thresholds": report.thresholds}


def test_highest_loss_samples_keeps_twenty_by_default():
    losses = np.arange(30, dtype=float)
    worst = highest_loss_samples(losses, list(range(100, 130)))
    assert len(worst) == 20
    assert worst[0] == (129, 29.0) and worst[-1] == (110, 10.0)


def test_tuned_threshold_gives_the_best_f1_of_any_threshold():
    # Found by search: a case where F1's denominator computed wrongly still picks a worse threshold.
    truth = np.array([1, 0, 1, 0, 1, 0, 1, 1, 1, 0])
    scores = np.array([0.67, 0.2, 0.94, 0.37, 0.11, 0.63, 0.93, 0.44, 0.95, 0.5])
    best = max(skm.f1_score(truth, scores >= t) for t in np.unique(scores))
    assert skm.f1_score(truth, scores >= tune_threshold(scores, truth)) == pytest.approx(best)
