"""What the app calls the engine's metrics and tasks: human names, with the exact key in tooltips
(the key is what ``metrics.json``, ``imgcls evaluate`` and the "Best epoch by" option use)."""

from __future__ import annotations

METRIC_NAMES = {
    "accuracy": "Accuracy",
    "precision_macro": "Precision (macro)",
    "recall_macro": "Recall (macro)",
    "f1_macro": "F1 (macro)",
    "f1_micro": "F1 (micro)",
    "roc_auc_ovr": "ROC AUC (one-vs-rest)",
    "roc_auc_macro": "ROC AUC (macro)",
    "roc_auc": "ROC AUC",
    "map": "Mean average precision",
    "average_precision": "Average precision",
    "subset_accuracy": "Exact-match accuracy",
    "precision": "Precision",
    "recall": "Recall",
    "f1": "F1",
    "support": "Images",
    "threshold": "Threshold",
    "val_loss": "Validation loss",
    "train_loss": "Training loss",
}
TASK_NAMES = {"multiclass": "Single-label", "multilabel": "Multi-label"}


def metric_name(key: str) -> str:
    """``precision_macro`` → ``Precision (macro)``; an unknown key reads as words."""
    return METRIC_NAMES.get(key, key.replace("_", " ").capitalize())


def metric_tooltip(key: str) -> str:
    return f"{metric_name(key)} — saved as '{key}' in metrics.json"


def task_name(task: str) -> str:
    return TASK_NAMES.get(task, task)
