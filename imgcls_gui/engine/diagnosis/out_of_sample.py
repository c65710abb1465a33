"""Out-of-sample predicted probabilities: k-fold cross-validation of a linear head on backbone features.

Confident learning needs, for every labelled image, the probabilities of a model that never saw
that image's label. Training the whole network k times would take hours; the backbone is fixed, so
a logistic-regression head (the same shape as imgcls's default head: one linear layer) is fitted
on k-1 folds of standardised features and predicts the held-out fold. Folds are stratified
(iteratively for multi-label), seeded, and the work can be stopped between fits.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable

import numpy as np

from ..errors import DatasetError, StopRequested

DEFAULT_FOLDS = 5
# Inverse regularisation strength of the head. Features are standardised first; a strong penalty
# keeps the probabilities of 500-2000 dimensional features from saturating at 0 and 1, which
# confident learning needs (a head that is always sure flags nothing). Measured on flowers17 with
# 10% flips (benchmarks/label_errors.py): 100 lbfgs steps rank the flips as well as 500 (top-k
# precision 0.537 vs 0.529) in a third of the time. A stronger penalty (C 0.01) ranked slightly
# better there (0.559) but left planted flips of a small clean set unflagged.
HEAD_C = 0.05
HEAD_STEPS = 100


def out_of_sample_probabilities(
    features: np.ndarray,
    targets: np.ndarray,
    task: str,
    *,
    folds: int = DEFAULT_FOLDS,
    seed: int = 0,
    progress: Callable[[int, int], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> np.ndarray:
    """(N, C) probabilities, each row from a head fitted without that row.

    ``targets``: multiclass (N,) class indices 0..C-1 (every class present); multilabel (N, C) 0/1.
    """
    n = len(features)
    if n < 2:
        raise DatasetError(f"cross-validation needs at least two labelled images (got {n}).")
    splits = list(_folds(targets, task, min(max(folds, 2), n), seed))
    classes = int(targets.max()) + 1 if task == "multiclass" else targets.shape[1]
    probs = np.zeros((n, classes), dtype=np.float64)
    for done, (train, held_out) in enumerate(splits):
        if should_stop is not None and should_stop():
            raise StopRequested()
        if progress is not None:
            progress(done, len(splits))
        if task == "multiclass":
            probs[held_out] = _fit_predict_multiclass(features[train], targets[train], features[held_out], classes)
        else:
            for c in range(classes):
                probs[held_out, c] = _fit_predict_binary(features[train], targets[train, c], features[held_out])
    if progress is not None:
        progress(len(splits), len(splits))
    return probs


def _folds(targets: np.ndarray, task: str, k: int, seed: int):
    """(train indices, held-out indices) per fold, stratified by class (iteratively for multi-label)."""
    from sklearn.model_selection import KFold, StratifiedKFold

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "the least populated class has only n members": a fold may lack it
        if task == "multiclass":
            if np.bincount(targets).max() >= k:
                return list(StratifiedKFold(k, shuffle=True, random_state=seed).split(np.zeros(len(targets)), targets))
            return list(KFold(k, shuffle=True, random_state=seed).split(targets))
        from iterstrat.ml_stratifiers import MultilabelStratifiedKFold

        return list(MultilabelStratifiedKFold(n_splits=k, shuffle=True, random_state=seed)
                    .split(np.zeros(len(targets)), targets))


def _head():
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    return make_pipeline(StandardScaler(), LogisticRegression(C=HEAD_C, max_iter=HEAD_STEPS))


def _fit_predict_multiclass(x: np.ndarray, y: np.ndarray, held_out: np.ndarray, classes: int) -> np.ndarray:
    """Probabilities of every class for ``held_out``; a class missing from this fold's training part gets 0."""
    out = np.zeros((len(held_out), classes))
    seen = np.unique(y)
    if len(seen) == 1:
        out[:, seen[0]] = 1.0
        return out
    head = _head()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # lbfgs "did not converge" at max_iter still gives usable probabilities
        head.fit(x, y)
    out[:, head.classes_] = head.predict_proba(held_out)
    return out


def _fit_predict_binary(x: np.ndarray, y: np.ndarray, held_out: np.ndarray) -> np.ndarray:
    """P(label present) for ``held_out`` (multi-label: one head per class); a constant label predicts its rate."""
    if y.min() == y.max():
        return np.full(len(held_out), float(y[0]))
    head = _head()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        head.fit(x, y.astype(int))
    return head.predict_proba(held_out)[:, list(head.classes_).index(1)]
