"""The embedding map: finite 2-D coordinates, one row per image, for every method and tiny sets."""

from __future__ import annotations

import numpy as np
import pytest

from imgcls_gui.engine import ConfigError, StopRequested, embedding_map


def _clusters(n: int = 60, dim: int = 32, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    labels = np.arange(n) % 3
    centres = rng.normal(0, 4, (3, dim))
    return np.maximum(centres[labels] + rng.normal(0, 1, (n, dim)), 0).astype(np.float16), labels


@pytest.mark.parametrize("method", ["umap", "pca", "tsne"])
def test_each_image_gets_finite_coordinates_and_clusters_stay_apart(method):
    features, labels = _clusters()
    result = embedding_map(features, method=method)

    assert result.coords.shape == (60, 2) and result.coords.dtype == np.float32
    assert np.isfinite(result.coords).all() and result.method == method
    # each point's nearest other point on the map is of its own cluster
    dist = np.linalg.norm(result.coords[:, None] - result.coords[None], axis=2)
    np.fill_diagonal(dist, np.inf)
    assert (labels[dist.argmin(axis=1)] == labels).mean() > 0.9


def test_same_input_same_map_and_tiny_sets_fall_back_to_pca():
    features, _ = _clusters(n=30)
    np.testing.assert_array_equal(embedding_map(features, method="pca").coords,
                                  embedding_map(features, method="pca").coords)
    for n in (1, 2, 5):
        small = embedding_map(features[:n], method="umap")
        assert small.coords.shape == (n, 2) and np.isfinite(small.coords).all() and small.method == "pca"
    with_nan = features.astype(np.float32)
    with_nan[0, 0] = np.nan
    assert np.isfinite(embedding_map(with_nan, method="pca").coords).all()


def test_bad_input_and_cancel():
    with pytest.raises(ConfigError, match="unknown map method"):
        embedding_map(np.zeros((4, 3)), method="mds")
    with pytest.raises(ConfigError, match="non-empty"):
        embedding_map(np.zeros((0, 3)))
    with pytest.raises(StopRequested):
        embedding_map(_clusters()[0], should_stop=lambda: True)
