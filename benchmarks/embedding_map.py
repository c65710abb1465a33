"""Embedding map: UMAP vs t-SNE vs PCA on 20,000 points, time and how much class structure survives.

Each method runs through ``embedding_map`` (L2-normalised rows, PCA to 50 dimensions, then the
method), on 2 threads. Quality, measured on the 2-D map against the original features:
- kNN accuracy: a 10-nearest-neighbour classifier trained on 3/4 of the map predicts the class of
  the other 1/4 (how well classes stay together; the same classifier on the full features is the ceiling);
- trustworthiness (scikit-learn, k=10) on 2,000 points: are 2-D neighbours real neighbours.

Features: synthetic by default (of a real backbone's dimension, 512 = resnet18's head input), drawn
as 20 classes of 4 sub-clusters each, non-negative like pooled ReLU features. ``--features FILE.npy``
(with ``--labels FILE.npy``) maps real cached features instead.
Usage: python benchmarks/embedding_map.py [--points 20000] [--dim 512] [--methods umap tsne pca]
"""

from __future__ import annotations

import argparse
import os

for _name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
    os.environ.setdefault(_name, "2")  # 2 cores, as the target says; set before numpy and numba load

import time  # noqa: E402

import numpy as np  # noqa: E402
from common import machine, stamp  # noqa: E402


def synthetic(points: int, dim: int, classes: int = 20, separation: float = 0.15,
              seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Classes made of sub-clusters with shared directions, overlapping, like real CNN features."""
    rng = np.random.default_rng(seed)
    shared = rng.normal(0, 1, (8, dim))
    centres = separation * (rng.normal(0, 1, (classes, 8)) @ shared + rng.normal(0, 1.0, (classes, dim))) + 1.0
    labels = rng.integers(0, classes, points)
    sub = rng.integers(0, 4, points)
    offsets = rng.normal(0, 0.6, (classes, 4, dim))
    features = centres[labels] + offsets[labels, sub] + rng.normal(0, 0.9, (points, dim))
    return np.maximum(features, 0).astype(np.float32), labels


def knn_accuracy(coords: np.ndarray, labels: np.ndarray, seed: int = 0) -> float:
    from sklearn.neighbors import KNeighborsClassifier

    order = np.random.default_rng(seed).permutation(len(labels))
    cut = len(order) * 3 // 4
    train, test = order[:cut], order[cut:]
    model = KNeighborsClassifier(n_neighbors=10).fit(coords[train], labels[train])
    return float((model.predict(coords[test]) == labels[test]).mean())


def trust(features: np.ndarray, coords: np.ndarray, sample: int = 2000, seed: int = 0) -> float:
    from sklearn.manifold import trustworthiness

    pick = np.random.default_rng(seed).choice(len(features), min(sample, len(features)), replace=False)
    return float(trustworthiness(features[pick], coords[pick], n_neighbors=10))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--points", type=int, default=20000)
    parser.add_argument("--dim", type=int, default=512)
    parser.add_argument("--separation", type=float, default=0.15, help="synthetic: spread of the class centres")
    parser.add_argument("--methods", nargs="+", default=["umap", "tsne", "pca"])
    parser.add_argument("--features", help="a (N, D) .npy of real features instead of synthetic ones")
    parser.add_argument("--labels", help="with --features: a (N,) .npy of class indices")
    args = parser.parse_args()

    from imgcls_gui.engine import embedding_map

    if args.features:
        features, labels = np.load(args.features).astype(np.float32), np.load(args.labels)
        source = f"real features {args.features}"
    else:
        features, labels = synthetic(args.points, args.dim, separation=args.separation)
        source = "synthetic features (20 classes x 4 sub-clusters)"
    print(f"{stamp()}  {machine()}  threads={os.environ['OMP_NUM_THREADS']}  load average {os.getloadavg()[0]:.1f}")
    print(f"{len(features)} points x {features.shape[1]} dims, {source}")
    ceiling = knn_accuracy(features, labels)
    print(f"kNN accuracy on the full features (ceiling): {ceiling:.3f}")
    start = time.perf_counter()
    embedding_map(features[:200], method="umap")  # numba compiles (or loads from its cache) umap's code once per process
    print(f"umap first call on 200 points (numba compile or cache load): {time.perf_counter() - start:.1f} s", flush=True)
    times: dict[str, float] = {}
    for method in args.methods:
        start, cpu = time.perf_counter(), time.process_time()
        coords = embedding_map(features, method=method).coords
        times[method] = time.perf_counter() - start
        cpu = time.process_time() - cpu  # all threads: on a shared machine, wall time / CPU time shows the load
        print(f"{method:5s} {times[method]:7.1f} s wall, {cpu:7.1f} s CPU   kNN accuracy {knn_accuracy(coords, labels):.3f}   "
              f"trustworthiness {trust(features, coords):.3f}   finite {bool(np.isfinite(coords).all())}", flush=True)
    if "umap" in times:
        for other in ("tsne", "pca"):
            if other in times:
                print(f"umap time / {other} time: {times['umap'] / times[other]:.2f}")


if __name__ == "__main__":
    main()
