"""What a diagnosis finds: likely label errors (cleanlab), near-duplicates and outliers (cosine neighbours).

Label errors come from confident learning on out-of-sample probabilities: cleanlab's
``find_label_issues`` decides which images are flagged (its default pruning, no threshold of ours)
and its label-quality score ranks every labelled image. Duplicates and outliers come from the
cosine nearest neighbours of the embeddings (scikit-learn ``NearestNeighbors``), with thresholds
relative to the data's own neighbour distances, so they hold for any backbone. Both rules are
cleanlab Datalab's defaults: a pair closer than 0.13 x the median nearest-neighbour distance is a
near-duplicate; an image whose mean distance to its 10 nearest neighbours lies beyond the upper
quartile plus 1.7 interquartile ranges is an outlier.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

NEIGHBOURS = 10
DUPLICATE_FACTOR = 0.13  # a pair closer than this share of the median nearest-neighbour distance
OUTLIER_FENCE = 1 / 0.37037 - 1  # beyond the upper quartile plus 1.7 interquartile ranges (Datalab's default)


@dataclass(frozen=True)
class LabelRanking:
    """Per labelled image: label quality (low = likely wrong), whether cleanlab flags it, the suggestion."""

    quality: np.ndarray  # (N,) in [0, 1]
    flagged: np.ndarray  # (N,) bool
    suggested: list[tuple[int, ...]]  # class indices the out-of-sample head believes in


def rank_label_issues(labels: np.ndarray | list[list[int]], pred_probs: np.ndarray, task: str) -> LabelRanking:
    """cleanlab's verdict on each label: multiclass ``labels`` (N,) ints, multilabel a list of index lists."""
    if task == "multiclass":
        from cleanlab.filter import find_label_issues
        from cleanlab.rank import get_label_quality_scores

        labels = np.asarray(labels)
        flagged = find_label_issues(labels, pred_probs, n_jobs=1)
        quality = get_label_quality_scores(labels, pred_probs)
        suggested = [(int(c),) for c in pred_probs.argmax(axis=1)]
    else:
        from cleanlab.multilabel_classification.filter import find_label_issues as find_multilabel
        from cleanlab.multilabel_classification.rank import get_label_quality_scores as multilabel_quality

        labels = [list(map(int, row)) for row in labels]
        flagged = find_multilabel(labels, pred_probs, n_jobs=1)
        quality = multilabel_quality(labels, pred_probs)
        suggested = [tuple(int(c) for c in np.flatnonzero(row >= 0.5)) or (int(row.argmax()),) for row in pred_probs]
    return LabelRanking(np.asarray(quality, dtype=float), np.asarray(flagged, dtype=bool), suggested)


@dataclass(frozen=True)
class NeighbourFindings:
    """Near-duplicate pairs (i, j, cosine similarity; i > j) and outliers (index, mean neighbour distance)."""

    duplicates: list[tuple[int, int, float]]
    outliers: list[tuple[int, float]]
    outlier_scores: np.ndarray  # (N,) mean cosine distance to the k nearest neighbours
    duplicate_distance: float  # the cosine distance under which a pair counted as near-duplicates
    outlier_threshold: float


def neighbour_findings(features: np.ndarray, *, neighbours: int = NEIGHBOURS,
                       duplicate_factor: float = DUPLICATE_FACTOR, outlier_fence: float = OUTLIER_FENCE) -> NeighbourFindings:
    """Near-duplicates and outliers among ``features`` (N, D); worst first."""
    from sklearn.neighbors import NearestNeighbors

    n = len(features)
    if n < 3:
        return NeighbourFindings([], [], np.zeros(n), 0.0, 0.0)
    k = min(neighbours, n - 1)
    index = NearestNeighbors(n_neighbors=k + 1, metric="cosine").fit(features)
    distances, found = index.kneighbors(features)
    distances, found = _without_self(distances, found)
    distances = np.clip(distances, 0.0, 2.0)
    nearest = distances[:, 0]
    duplicate_distance = duplicate_factor * float(np.median(nearest))
    pairs = {}
    for i in range(n):
        for d, j in zip(distances[i], found[i]):
            if d > duplicate_distance:
                break
            key = (max(i, int(j)), min(i, int(j)))
            pairs[key] = min(pairs.get(key, 2.0), float(d))
    duplicates = sorted(((i, j, 1.0 - d) for (i, j), d in pairs.items()), key=lambda t: (-t[2], t[0]))
    scores = distances.mean(axis=1)
    q1, q3 = np.percentile(scores, [25, 75])
    threshold = float(q3 + outlier_fence * (q3 - q1))
    outliers = sorted(((int(i), float(scores[i])) for i in np.flatnonzero(scores > threshold)), key=lambda t: -t[1])
    return NeighbourFindings(duplicates, outliers, scores, duplicate_distance, threshold)


def _without_self(distances: np.ndarray, found: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Drop each row's own index (an exact duplicate may come before it), keeping k neighbours."""
    rows = np.arange(len(found))[:, None]
    is_self = found == rows
    has_self = is_self.any(axis=1)
    is_self[~has_self, -1] = True  # no self among the k+1: drop the farthest instead
    keep = ~is_self
    k = found.shape[1] - 1
    return distances[keep].reshape(-1, k), found[keep].reshape(-1, k)
