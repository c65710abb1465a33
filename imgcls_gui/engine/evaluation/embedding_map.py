"""A 2-D map of backbone features: similar images land close together, so clusters, strays and mixed
classes show at a glance.

``embedding_map(features)`` L2-normalises the rows (cosine geometry, as CNN features are compared),
reduces them to at most 50 dimensions with PCA, then lays them out with UMAP (umap-learn), chosen by
measurement against PCA and scikit-learn's t-SNE (``benchmarks/embedding_map.py``, figures in
``benchmarks/RESULTS.md``). PCA alone is offered for a quick look, t-SNE for comparison; very
small sets (under ``MIN_POINTS_FOR_UMAP``) fall back to PCA. Qt-free; umap is imported lazily.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from ..errors import ConfigError, StopRequested

MAP_METHODS = ("umap", "tsne", "pca")
PCA_DIMENSIONS = 50
MIN_POINTS_FOR_UMAP = 10  # fewer points than this have no neighbourhoods to speak of
NEIGHBOURS = 15  # UMAP's default: local structure without losing the global picture

Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class EmbeddingMap:
    """(N, 2) float32 coordinates, one row per feature row, and the method that made them."""

    coords: np.ndarray
    method: str


def embedding_map(
    features: np.ndarray,
    *,
    method: str = "umap",
    seed: int = 0,
    progress: Progress | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> EmbeddingMap:
    """2-D coordinates of ``features`` (N, D): ``method`` "umap" (default), "tsne" or "pca".

    The same features and seed give the same map. ``progress(step, 3)`` after each stage;
    ``should_stop()`` is checked between stages (``StopRequested``).
    """
    if method not in MAP_METHODS:
        raise ConfigError(f"unknown map method {method!r}; choose one of {', '.join(MAP_METHODS)}.")
    rows = np.asarray(features, dtype=np.float32)
    if rows.ndim != 2 or len(rows) == 0:
        raise ConfigError(f"an embedding map needs a non-empty (images, features) array, got shape {rows.shape}.")
    rows = np.nan_to_num(rows, nan=0.0, posinf=0.0, neginf=0.0)

    def step(done: int) -> None:
        if progress is not None:
            progress(done, 3)
        if should_stop is not None and should_stop():
            raise StopRequested()

    step(0)
    reduced = _pca(_unit_rows(rows), min(PCA_DIMENSIONS, *rows.shape), seed)
    step(1)
    if method == "pca" or len(rows) < MIN_POINTS_FOR_UMAP:
        coords, used = _pad_to_2d(reduced[:, :2]), "pca"
    elif method == "umap":
        coords, used = _umap(reduced, seed), "umap"
    else:
        coords, used = _tsne(reduced, seed), "tsne"
    step(2)
    coords = np.nan_to_num(coords.astype(np.float32), nan=0.0)
    step(3)
    return EmbeddingMap(coords, used)


def _unit_rows(rows: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(rows, axis=1, keepdims=True)
    return rows / np.maximum(norms, 1e-12)


def _pca(rows: np.ndarray, dims: int, seed: int) -> np.ndarray:
    from sklearn.decomposition import PCA

    if dims < 1:
        return np.zeros((len(rows), 2), dtype=np.float32)
    solver = "randomized" if dims < min(rows.shape) else "full"
    return PCA(n_components=dims, svd_solver=solver, random_state=seed).fit_transform(rows).astype(np.float32)


def _pad_to_2d(coords: np.ndarray) -> np.ndarray:
    """One image, or features that vary along one axis only: a second axis of zeros."""
    if coords.shape[1] >= 2:
        return coords
    return np.hstack([coords, np.zeros((len(coords), 2 - coords.shape[1]), dtype=coords.dtype)])


def _umap(rows: np.ndarray, seed: int) -> np.ndarray:
    import warnings

    import umap

    neighbours = min(NEIGHBOURS, len(rows) - 1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "n_jobs overridden by random_state", spectral init on tiny sets
        reducer = umap.UMAP(n_neighbors=neighbours, min_dist=0.1, n_components=2, random_state=seed)
        return reducer.fit_transform(rows)


def _tsne(rows: np.ndarray, seed: int) -> np.ndarray:
    from sklearn.manifold import TSNE

    perplexity = float(min(30.0, max(2.0, (len(rows) - 1) / 3)))
    return TSNE(n_components=2, perplexity=perplexity, init="pca", random_state=seed).fit_transform(rows)
