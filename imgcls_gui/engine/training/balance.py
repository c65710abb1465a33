"""Class imbalance: loss weights from class counts (``class_weights: auto``) and a balanced sampler's weights.

Both read only the training split's targets, so the validation metrics stay those of the real
class mix. Multi-class weights are scikit-learn's "balanced" rule, total / (classes x count): a class
with half the average count weighs twice. Multi-label weights are BCE's ``pos_weight``,
negatives / positives per class, so each class's positives and negatives weigh the same in all.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import torch


def class_counts(targets: "torch.Tensor", task: str, num_classes: int) -> "torch.Tensor":
    """Training images per class (multi-label: images carrying the class)."""
    import torch

    if task == "multiclass":
        return torch.bincount(targets.long(), minlength=num_classes).float()
    return targets.float().sum(dim=0)


def class_loss_weights(targets: "torch.Tensor", task: str, num_classes: int) -> "torch.Tensor":
    """Per-class loss weights: multi-class ``weight`` of cross-entropy, multi-label ``pos_weight`` of BCE.

    A class without training images gets weight 1 (it never appears as a target, so it changes nothing).
    """
    import torch

    counts = class_counts(targets, task, num_classes)
    present = counts > 0
    weights = torch.ones(num_classes)
    if task == "multiclass":
        weights[present] = counts.sum() / (int(present.sum()) * counts[present])
    else:
        weights[present] = (len(targets) - counts[present]) / counts[present]
    return weights


def balanced_sample_weights(targets: "torch.Tensor", task: str, num_classes: int) -> "torch.Tensor":
    """Per-image drawing weights under which every class is drawn about equally often.

    Multi-class: 1 / count of its class. Multi-label: the mean of 1 / count over its labels (an
    image without labels gets the smallest weight any image has).
    """
    import torch

    counts = class_counts(targets, task, num_classes).clamp(min=1)
    if task == "multiclass":
        return 1.0 / counts[targets.long()]
    per_label = targets.float() / counts
    n_labels = targets.float().sum(dim=1)
    weights = per_label.sum(dim=1) / n_labels.clamp(min=1)
    floor = weights[n_labels > 0].min() if bool((n_labels > 0).any()) else torch.tensor(1.0)
    return torch.where(n_labels > 0, weights, floor)
