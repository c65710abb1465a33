"""Validation metrics, computed with scikit-learn from predicted probabilities.

Multi-class: accuracy, precision/recall/F1 (macro, micro, per class), confusion matrix, one-vs-rest
ROC-AUC. Multi-label: per-label and mean ROC-AUC and average precision (mAP), and F1 at per-label
thresholds tuned on the same split (the thresholds are stored with the model).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np


@dataclass
class MetricReport:
    """Scalar metrics for charts/selection, plus the detail the results view and report.json show."""

    scalars: dict[str, float]
    per_class: dict[str, dict[str, float]] = field(default_factory=dict)
    confusion_matrix: list[list[int]] | None = None
    thresholds: list[float] | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "scalars": self.scalars,
            "per_class": self.per_class,
            "confusion_matrix": self.confusion_matrix,
            "thresholds": self.thresholds,
        }


def default_monitor(task: str) -> str:
    """The validation metric that picks best.pt and drives early stopping."""
    return "map" if task == "multilabel" else "accuracy"


def multiclass_metrics(probs: np.ndarray, targets: np.ndarray, classes: Sequence[str]) -> MetricReport:
    from sklearn import metrics as skm

    n = len(classes)
    labels = list(range(n))
    preds = probs.argmax(axis=1)
    p, r, f, support = skm.precision_recall_fscore_support(targets, preds, labels=labels, zero_division=0)
    scalars = {
        "accuracy": float(skm.accuracy_score(targets, preds)),
        "precision_macro": float(np.mean(p)),
        "recall_macro": float(np.mean(r)),
        "f1_macro": float(skm.f1_score(targets, preds, labels=labels, average="macro", zero_division=0)),
        "f1_micro": float(skm.f1_score(targets, preds, labels=labels, average="micro", zero_division=0)),
        "roc_auc_ovr": _multiclass_auc(probs, targets, n),
    }
    per_class = {
        name: {"precision": float(p[i]), "recall": float(r[i]), "f1": float(f[i]), "support": int(support[i])}
        for i, name in enumerate(classes)
    }
    cm = skm.confusion_matrix(targets, preds, labels=labels).tolist()
    return MetricReport(scalars, per_class, cm)


def multilabel_metrics(
    probs: np.ndarray, targets: np.ndarray, classes: Sequence[str], thresholds: Sequence[float] | None = None
) -> MetricReport:
    """With ``thresholds=None`` they are tuned here (best F1 per label) and returned in the report."""
    from sklearn import metrics as skm

    targets = targets.astype(int)
    tuned = list(thresholds) if thresholds is not None else [tune_threshold(probs[:, j], targets[:, j]) for j in range(len(classes))]
    preds = (probs >= np.asarray(tuned)[None, :]).astype(int)
    per_class: dict[str, dict[str, float]] = {}
    aucs, aps = [], []
    for j, name in enumerate(classes):
        y, s = targets[:, j], probs[:, j]
        auc = _safe(lambda: skm.roc_auc_score(y, s)) if 0 < y.sum() < len(y) else math.nan
        ap = _safe(lambda: skm.average_precision_score(y, s)) if y.sum() > 0 else math.nan
        aucs.append(auc)
        aps.append(ap)
        per_class[name] = {
            "roc_auc": auc,
            "average_precision": ap,
            "f1": float(skm.f1_score(y, preds[:, j], zero_division=0)),
            "threshold": float(tuned[j]),
            "support": int(y.sum()),
        }
    scalars = {
        "roc_auc_macro": _nanmean(aucs),
        "map": _nanmean(aps),
        "f1_macro": float(skm.f1_score(targets, preds, average="macro", zero_division=0)),
        "f1_micro": float(skm.f1_score(targets, preds, average="micro", zero_division=0)),
        "subset_accuracy": float(skm.accuracy_score(targets, preds)),
    }
    return MetricReport(scalars, per_class, None, [float(t) for t in tuned])


def compute_metrics(
    task: str, probs: np.ndarray, targets: np.ndarray, classes: Sequence[str], thresholds: Sequence[float] | None = None
) -> MetricReport:
    if task == "multilabel":
        return multilabel_metrics(probs, targets, classes, thresholds)
    return multiclass_metrics(probs, targets, classes)


def tune_threshold(scores: np.ndarray, truth: np.ndarray) -> float:
    """The threshold maximising F1 for one label (0.5 when the label never occurs)."""
    from sklearn.metrics import precision_recall_curve

    if truth.sum() == 0:
        return 0.5
    precision, recall, thresholds = precision_recall_curve(truth, scores)
    f1 = 2 * precision[:-1] * recall[:-1] / np.clip(precision[:-1] + recall[:-1], 1e-12, None)
    return float(thresholds[int(np.argmax(f1))])


def highest_loss_samples(losses: np.ndarray, indices: Sequence[int], k: int = 20) -> list[tuple[int, float]]:
    """(sample index, loss) of the ``k`` worst-predicted samples, worst first."""
    order = np.argsort(-losses)[:k]
    return [(int(indices[i]), float(losses[i])) for i in order]


def _multiclass_auc(probs: np.ndarray, targets: np.ndarray, n: int) -> float:
    from sklearn.metrics import roc_auc_score

    present = np.unique(targets)
    if len(present) < 2:
        return math.nan
    if n == 2:
        return _safe(lambda: roc_auc_score(targets, probs[:, 1]))
    # Only classes present in this split can be scored; renormalise over them.
    sub = probs[:, present]
    sub = sub / np.clip(sub.sum(axis=1, keepdims=True), 1e-12, None)
    remap = {c: i for i, c in enumerate(present)}
    y = np.array([remap[t] for t in targets])
    if len(present) == 2:
        return _safe(lambda: roc_auc_score(y, sub[:, 1]))
    return _safe(lambda: roc_auc_score(y, sub, multi_class="ovr", labels=list(range(len(present)))))


def _safe(fn) -> float:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            return float(fn())
        except ValueError:
            return math.nan


def _nanmean(values: Sequence[float]) -> float:
    arr = np.asarray(values, dtype=float)
    return float(np.nanmean(arr)) if np.isfinite(arr).any() else math.nan
