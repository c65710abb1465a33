"""Per-image results of a finished run on one split: what the app's results view shows.

``evaluation.evaluate_run`` answers "how good is it" in numbers; this module keeps the images too:
every sample's path, true and predicted labels, probabilities and loss, so a confusion-matrix cell
can list its images and a gallery can show the worst ones. ROC and precision-recall curves per
class (one-vs-rest for multi-class) come from scikit-learn here, so the GUI only draws them.
No Qt; torch is imported inside the functions.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..data.samples import Sample


@dataclass(frozen=True)
class SampleResult:
    """One image of the split as the model saw it."""

    index: int  # position among the split's samples
    path: Path
    true: tuple[str, ...]
    predicted: tuple[str, ...]
    probs: tuple[float, ...]  # one per class, in the run's class order
    loss: float

    @property
    def correct(self) -> bool:
        return set(self.true) == set(self.predicted)


@dataclass(frozen=True)
class Curve:
    """One class's ROC (x = false positive rate, y = true positive rate) or PR (x = recall, y = precision) curve."""

    label: str
    x: tuple[float, ...]
    y: tuple[float, ...]
    area: float  # ROC-AUC or average precision; NaN when the class is absent from the split


@dataclass(frozen=True)
class RunResults:
    run_dir: Path
    split: str
    task: str
    classes: tuple[str, ...]
    loss: float
    scalars: dict[str, float] = field(default_factory=dict)
    per_class: dict[str, dict[str, float]] = field(default_factory=dict)
    confusion_matrix: tuple[tuple[int, ...], ...] | None = None  # rows: true class, columns: predicted
    thresholds: tuple[float, ...] | None = None  # multi-label decision threshold per class
    samples: tuple[SampleResult, ...] = ()
    roc: tuple[Curve, ...] = ()
    pr: tuple[Curve, ...] = ()

    def cell(self, true_class: int, predicted_class: int) -> list[SampleResult]:
        """The images of one confusion-matrix cell (multi-class), most confident mistakes first."""
        true_name, predicted_name = self.classes[true_class], self.classes[predicted_class]
        chosen = [s for s in self.samples if s.true == (true_name,) and s.predicted == (predicted_name,)]
        return sorted(chosen, key=lambda s: -s.probs[predicted_class])

    def highest_loss(self, k: int = 20) -> list[SampleResult]:
        """The ``k`` images the model got most wrong (by loss), worst first."""
        return sorted(self.samples, key=lambda s: -s.loss)[:k]


def run_results(
    run_dir: str | Path,
    split: str = "val",
    *,
    batch_size: int = 32,
    device: str = "auto",
    should_stop: Callable[[], None] | None = None,
) -> RunResults:
    """Predict a run's best checkpoint on its saved split and keep the details per image.

    ``should_stop`` is called between batches and may raise to abandon the pass.
    """
    from ..data import loading as data_mod
    from ..checkpoint import CheckpointHeader, load_checkpoint
    from ..device import resolve_device
    from ..data.split import split_samples
    from .evaluate import predict_split, report_for
    from ..models.build import model_from_checkpoint
    from ..data.preprocess import Preprocessing, eval_transform

    run_dir = Path(run_dir)
    ckpt = load_checkpoint(run_dir)
    header = CheckpointHeader.of(ckpt)
    folder = run_dir if run_dir.is_dir() else run_dir.parent
    classes, task = list(header.classes), header.task
    samples = split_samples(folder, header.config, task, split)
    pre = Preprocessing.from_dict(header.preprocessing)
    targets = data_mod.encode_targets(samples, classes, task)
    dataset = data_mod.ImageDataset([s.path for s in samples], targets, eval_transform(pre), draft_size=pre.resize_size)
    torch_device = resolve_device(device)
    loader = data_mod.make_loader(dataset, batch_size=batch_size, shuffle=False, num_workers=0,
                                  device_type=torch_device.type)
    model = model_from_checkpoint(ckpt).to(torch_device)
    preds = predict_split(model, loader, torch_device, task, should_stop=should_stop)
    thresholds = list(header.thresholds) if task == "multilabel" and header.thresholds is not None else None
    report = report_for(preds, task, classes, thresholds)
    multi_hot = _multi_hot(preds.targets, task, len(classes))
    roc, pr = roc_pr_curves(preds.probs, multi_hot, classes)
    return RunResults(
        run_dir=folder,
        split=split,
        task=task,
        classes=tuple(classes),
        loss=preds.mean_loss,
        scalars=dict(report.scalars),
        per_class={k: dict(v) for k, v in report.per_class.items()},
        confusion_matrix=tuple(tuple(int(v) for v in row) for row in report.confusion_matrix)
        if report.confusion_matrix is not None else None,
        thresholds=tuple(report.thresholds) if report.thresholds is not None else None,
        samples=_sample_results(samples, preds, classes, task, report.thresholds),
        roc=roc,
        pr=pr,
    )


def roc_pr_curves(probs: np.ndarray, multi_hot: np.ndarray, classes: Sequence[str]) -> tuple[tuple[Curve, ...], tuple[Curve, ...]]:
    """Per class: the ROC curve with its AUC and the precision-recall curve with its average precision.

    A class with no positive (or, for ROC, no negative) image has no curve: empty points, NaN area.
    """
    from sklearn import metrics as skm

    roc: list[Curve] = []
    pr: list[Curve] = []
    for j, name in enumerate(classes):
        truth, scores = multi_hot[:, j].astype(int), probs[:, j]
        positives = int(truth.sum())
        if 0 < positives < len(truth):
            fpr, tpr, _ = skm.roc_curve(truth, scores)
            roc.append(Curve(name, _floats(fpr), _floats(tpr), float(skm.auc(fpr, tpr))))
        else:
            roc.append(Curve(name, (), (), math.nan))
        if positives > 0:
            precision, recall, _ = skm.precision_recall_curve(truth, scores)
            pr.append(Curve(name, _floats(recall), _floats(precision), float(skm.average_precision_score(truth, scores))))
        else:
            pr.append(Curve(name, (), (), math.nan))
    return tuple(roc), tuple(pr)


def _multi_hot(targets: np.ndarray, task: str, n_classes: int) -> np.ndarray:
    if task == "multilabel":
        return targets.astype(int)
    one_hot = np.zeros((len(targets), n_classes), dtype=int)
    one_hot[np.arange(len(targets)), targets.astype(int)] = 1
    return one_hot


def _sample_results(
    samples: list[Sample], preds: Any, classes: list[str], task: str, thresholds: Sequence[float] | None
) -> tuple[SampleResult, ...]:
    results = []
    limits = np.asarray(thresholds if thresholds is not None else [0.5] * len(classes), dtype=float)
    for row, index in enumerate(preds.indices):
        probs = preds.probs[row]
        if task == "multilabel":
            predicted = tuple(classes[j] for j in range(len(classes)) if probs[j] >= limits[j])
            true = tuple(classes[j] for j in np.flatnonzero(preds.targets[row]))
        else:
            predicted = (classes[int(np.argmax(probs))],)
            true = (classes[int(preds.targets[row])],)
        sample = samples[int(index)]
        results.append(SampleResult(int(index), Path(sample.path), true, predicted, _floats(probs), float(preds.losses[row])))
    return tuple(results)


def _floats(values: Any) -> tuple[float, ...]:
    return tuple(float(v) for v in values)
