"""One diagnosis of a labelled dataset: embeddings → out-of-sample probabilities → label issues, duplicates, outliers.

``diagnose`` returns a ``Diagnosis`` (the issues, each kind worst first, plus the per-image numbers
behind them); ``write_diagnosis`` writes ``issues.csv`` and ``summary.json``. The CLI's
``imgcls diagnose`` and the app's Review view both call these.
"""

from __future__ import annotations

import csv
import io
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np

from ..data.samples import LabeledDataset
from ..errors import DatasetError
from .embeddings import BackboneSource, embed_images
from .findings import neighbour_findings, rank_label_issues
from .out_of_sample import DEFAULT_FOLDS, out_of_sample_probabilities

IssueKind = Literal["label", "duplicate", "outlier"]
ISSUE_COLUMNS = ("path", "kind", "given_label", "suggested_label", "score", "other_path")
LABEL_SEPARATOR = ";"  # multi-label cells, as the CSV importer reads them


@dataclass(frozen=True)
class Issue:
    """One suspicion about one image. ``score``: higher is worse (label: 1 - cleanlab's label quality;
    duplicate: cosine similarity to ``other``; outlier: mean cosine distance to its nearest neighbours)."""

    path: Path
    kind: IssueKind
    given: tuple[str, ...]
    suggested: tuple[str, ...] = ()
    score: float = 0.0
    other: Path | None = None  # the image a duplicate is a near-copy of


@dataclass
class Diagnosis:
    """The issues (label errors, then duplicates, then outliers; each worst first) and what they came from."""

    issues: list[Issue]
    task: str
    classes: list[str]  # the classes the head was fitted on (those with labelled images)
    paths: list[Path]  # every image diagnosed (labelled or not), rows of ``features``
    labelled: list[int]  # rows of ``paths`` that have labels, rows of ``probabilities``
    probabilities: np.ndarray  # (len(labelled), len(classes)) out-of-sample
    label_quality: np.ndarray  # (len(labelled),) cleanlab's score, low = likely wrong
    flagged: np.ndarray  # (len(labelled),) bool, cleanlab's verdict
    source: str  # the backbone, in words
    folds: int
    seconds: dict[str, float] = field(default_factory=dict)
    computed_features: int = 0  # rows extracted (the rest came from the feature cache)
    thresholds: dict[str, float] = field(default_factory=dict)

    def of_kind(self, kind: IssueKind) -> list[Issue]:
        return [issue for issue in self.issues if issue.kind == kind]

    def summary(self) -> dict[str, Any]:
        """What summary.json holds: counts per kind, the data, the backbone, timings."""
        return {
            "images": len(self.paths), "labelled": len(self.labelled), "task": self.task, "classes": self.classes,
            "backbone": self.source, "folds": self.folds,
            "issues": {kind: len(self.of_kind(kind)) for kind in ("label", "duplicate", "outlier")},
            "thresholds": self.thresholds, "seconds": {k: round(v, 3) for k, v in self.seconds.items()},
            "features_computed": self.computed_features,
            "features_from_cache": len(self.paths) - self.computed_features,
        }


def diagnose(
    dataset: LabeledDataset,
    source: BackboneSource,
    *,
    folds: int = DEFAULT_FOLDS,
    seed: int = 0,
    device: str = "auto",
    batch_size: int = 32,
    num_workers: int = -1,
    cache_dir: str | Path | None = None,
    progress: Callable[[int, int], None] | None = None,
    stage: Callable[[str], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> Diagnosis:
    """Diagnose every image of ``dataset`` (labels need two classes); stops with StopRequested when asked.

    ``progress(done, total)`` runs over extraction (one step per image) then cross-validation (as
    many steps again); ``stage`` hears what is being done, in words.
    """
    samples = dataset.samples
    labelled = [i for i, s in enumerate(samples) if s.labels]
    present = {label for i in labelled for label in samples[i].labels}
    classes = [c for c in dataset.classes if c in present] + sorted(present - set(dataset.classes))
    if len(classes) < 2:
        raise DatasetError(f"{dataset.root}: a diagnosis needs labelled images of at least two classes "
                           f"(found {len(classes)}); label more images first.")
    n = len(samples)
    total = 2 * n
    say = stage or (lambda text: None)
    seconds: dict[str, float] = {}

    started = time.perf_counter()
    say(f"computing features of {n} images")
    features, description, computed = embed_images(
        [s.path for s in samples], source, known_sha1={s.path: s.sha1 for s in samples if s.sha1}, device=device,
        batch_size=batch_size, num_workers=num_workers, cache_dir=cache_dir,
        progress=(lambda done, _total: progress(done, total)) if progress else None, should_stop=should_stop)
    seconds["features"] = time.perf_counter() - started

    started = time.perf_counter()
    say(f"cross-validating a head on {len(labelled)} labelled images ({folds} folds)")
    column = {c: j for j, c in enumerate(classes)}
    if dataset.task == "multiclass":
        labels: Any = np.array([column[samples[i].labels[0]] for i in labelled])
        targets = labels
    else:
        labels = [[column[label] for label in samples[i].labels] for i in labelled]
        targets = np.zeros((len(labelled), len(classes)), dtype=int)
        for row, indices in enumerate(labels):
            targets[row, indices] = 1
    probs = out_of_sample_probabilities(
        features[labelled], targets, dataset.task, folds=folds, seed=seed, should_stop=should_stop,
        progress=(lambda done, steps: progress(n + n * done // max(steps, 1), total)) if progress else None)
    ranking = rank_label_issues(labels, probs, dataset.task)
    seconds["cross_validation"] = time.perf_counter() - started

    started = time.perf_counter()
    say("looking for near-duplicates and outliers")
    near = neighbour_findings(features)
    seconds["neighbours"] = time.perf_counter() - started

    issues = _label_issues(samples, labelled, classes, ranking)
    issues += [Issue(samples[i].path, "duplicate", samples[i].labels, (), round(sim, 6), samples[j].path)
               for i, j, sim in near.duplicates]
    issues += [Issue(samples[i].path, "outlier", samples[i].labels, (), round(score, 6)) for i, score in near.outliers]
    if progress:
        progress(total, total)
    return Diagnosis(
        issues=issues, task=dataset.task, classes=classes, paths=[s.path for s in samples], labelled=labelled,
        probabilities=probs, label_quality=ranking.quality, flagged=ranking.flagged, source=description, folds=folds,
        seconds=seconds, computed_features=computed,
        thresholds={"duplicate_cosine_distance": near.duplicate_distance,
                    "outlier_mean_neighbour_distance": near.outlier_threshold},
    )


def _label_issues(samples, labelled: list[int], classes: list[str], ranking) -> list[Issue]:
    """cleanlab's flagged images, lowest label quality first, each with the head's suggestion."""
    rows = sorted(np.flatnonzero(ranking.flagged), key=lambda r: (ranking.quality[r], r))
    return [Issue(samples[labelled[r]].path, "label", samples[labelled[r]].labels,
                  tuple(classes[c] for c in ranking.suggested[r]), round(1.0 - float(ranking.quality[r]), 6))
            for r in rows]


def write_diagnosis(diagnosis: Diagnosis, out_dir: str | Path) -> tuple[Path, Path]:
    """``issues.csv`` (ISSUE_COLUMNS, one row per issue, in the diagnosis's order) and ``summary.json``."""
    from ..checkpoint import atomic_write_text
    from ..deploy.predict_io import spreadsheet_safe

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(ISSUE_COLUMNS)
    for issue in diagnosis.issues:
        row = (str(issue.path), issue.kind, LABEL_SEPARATOR.join(issue.given), LABEL_SEPARATOR.join(issue.suggested),
               f"{issue.score:.6f}", str(issue.other) if issue.other else "")
        writer.writerow([spreadsheet_safe(cell) for cell in row])
    issues_path, summary_path = out / "issues.csv", out / "summary.json"
    atomic_write_text(issues_path, buffer.getvalue())
    atomic_write_text(summary_path, json.dumps(diagnosis.summary(), indent=2, ensure_ascii=False) + "\n")
    return issues_path, summary_path
