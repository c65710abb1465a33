"""Running a model over a split: probabilities, per-sample losses and the metric report.

``predict_split`` is the shared inner loop (the trainer validates with it); ``evaluate_run``
is what ``imgcls evaluate`` calls on a finished run folder.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from .metrics import MetricReport, compute_metrics, highest_loss_samples

if TYPE_CHECKING:
    import torch


@dataclass
class SplitPredictions:
    probs: np.ndarray  # (N, C)
    targets: np.ndarray  # (N,) class indices or (N, C) multi-hot
    losses: np.ndarray  # (N,) per-sample loss
    indices: np.ndarray  # (N,) indices into the dataset's samples

    @property
    def mean_loss(self) -> float:
        return float(self.losses.mean()) if len(self.losses) else float("nan")


def logits_of(output: Any) -> "torch.Tensor":
    """Main logits of a model output (Inception/GoogLeNet return named tuples while training)."""
    return output.logits if hasattr(output, "logits") else output


def per_sample_loss(task: str, logits: "torch.Tensor", targets: "torch.Tensor") -> "torch.Tensor":
    import torch.nn.functional as F

    if task == "multilabel":
        return F.binary_cross_entropy_with_logits(logits.float(), targets.float(), reduction="none").mean(dim=1)
    return F.cross_entropy(logits.float(), targets, reduction="none")


def probabilities(task: str, logits: "torch.Tensor") -> "torch.Tensor":
    return logits.float().sigmoid() if task == "multilabel" else logits.float().softmax(dim=1)


def predict_split(
    model: "torch.nn.Module",
    loader: Any,
    device: "torch.device",
    task: str,
    *,
    amp_dtype: "torch.dtype | None" = None,
    channels_last: bool = False,
    should_stop: Callable[[], None] | None = None,
) -> SplitPredictions:
    """Probabilities, targets and per-sample losses of ``model`` over ``loader`` yielding (images, targets, indices)."""
    import torch

    from .forward import forward_batches

    probs, targets, losses, indices = [], [], [], []
    for output, target, index in forward_batches(model, loader, device, amp_dtype=amp_dtype,
                                                 channels_last=channels_last, should_stop=should_stop):
        logits = logits_of(output)
        probs.append(probabilities(task, logits).cpu())
        losses.append(per_sample_loss(task, logits, target).cpu())
        targets.append(target.cpu())
        indices.append(index.cpu())
    if not probs:
        return SplitPredictions(np.zeros((0, 0)), np.zeros((0,)), np.zeros((0,)), np.zeros((0,), dtype=int))
    return SplitPredictions(
        torch.cat(probs).numpy(), torch.cat(targets).numpy(), torch.cat(losses).numpy(), torch.cat(indices).numpy()
    )


def report_for(preds: SplitPredictions, task: str, classes: list[str], thresholds: list[float] | None = None) -> MetricReport:
    return compute_metrics(task, preds.probs, preds.targets, classes, thresholds)


def evaluate_run(
    run: str | Path, *, data: str | None = None, split: str = "val", batch_size: int = 32, device: str = "auto"
) -> dict[str, Any]:
    """Evaluate a run's best checkpoint on its saved split (or on another dataset's images)."""
    from ..data import loading as data_mod
    from ..checkpoint import CheckpointHeader, load_checkpoint
    from ..data.datasets import load_dataset
    from ..device import resolve_device
    from ..errors import DatasetError
    from ..models.build import model_from_checkpoint
    from ..data.preprocess import Preprocessing, eval_transform
    from ..data.split import split_samples

    run = Path(run)
    ckpt = load_checkpoint(run)
    header = CheckpointHeader.of(ckpt)
    run_dir = run if run.is_dir() else run.parent
    classes, task = list(header.classes), header.task
    if data:
        ds = load_dataset(data, task=task)
        samples = [s for s in ds.samples if s.labels]
        if split != "all" and any(s.split for s in samples):
            samples = [s for s in samples if s.split == split] or samples
    else:
        samples = split_samples(run_dir, header.config, task, split)
    unknown = sorted({label for s in samples for label in s.labels} - set(classes))
    if unknown:
        raise DatasetError(
            f"{run}: the model knows only {', '.join(classes)}, but the images to evaluate are labeled "
            f"{', '.join(unknown[:5])} too; evaluate on data labeled with the model's classes."
        )
    pre = Preprocessing.from_dict(header.preprocessing)
    targets = data_mod.encode_targets(samples, classes, task)
    dataset = data_mod.ImageDataset([s.path for s in samples], targets, eval_transform(pre), draft_size=pre.resize_size)
    torch_device = resolve_device(device)
    loader = data_mod.make_loader(dataset, batch_size=batch_size, shuffle=False, device_type=torch_device.type)
    model = model_from_checkpoint(ckpt).to(torch_device)
    preds = predict_split(model, loader, torch_device, task)
    report = report_for(preds, task, classes, list(header.thresholds) if header.thresholds is not None else None)
    worst = highest_loss_samples(preds.losses, preds.indices)
    return {
        "run": str(run_dir.name),
        "split": split,
        "images": int(len(preds.losses)),
        "loss": preds.mean_loss,
        **report.to_dict(),
        "highest_loss": [{"path": str(samples[i].path), "loss": loss} for i, loss in worst],
    }


def write_report(report: dict[str, Any], out: str | Path) -> None:
    from ..checkpoint import atomic_write_text

    atomic_write_text(out, json.dumps(report, indent=2, default=float))
