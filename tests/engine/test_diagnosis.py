"""The diagnosis: out-of-sample probabilities rank flipped labels first; a planted near-duplicate and a planted
non-photo outlier are found among real images; the features come back from the cache the second time."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from imgcls_gui.engine import BackboneSource, ModelConfig, StopRequested, diagnose, load_dataset
from imgcls_gui.engine.diagnosis.findings import neighbour_findings, rank_label_issues
from imgcls_gui.engine.diagnosis.out_of_sample import out_of_sample_probabilities

from .tiny_data import make_class_folders

TINY = BackboneSource(model=ModelConfig(name="mobilenet_v3_small", weights="none", image_size=32))


def blobs(n_per_class: int, classes: int, dims: int = 16, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Well separated Gaussian clusters: class c around 4 * e_c."""
    rng = np.random.default_rng(seed)
    y = np.repeat(np.arange(classes), n_per_class)
    centres = 4.0 * np.eye(classes, dims)
    return centres[y] + rng.normal(0, 1, (len(y), dims)), y


def test_flipped_labels_are_flagged_and_ranked_first_on_a_separable_set():
    x, y = blobs(30, 3)
    noisy = y.copy()
    flips = np.array([3, 40, 77, 15, 61])
    noisy[flips] = (y[flips] + 1) % 3
    probs = out_of_sample_probabilities(x, noisy, "multiclass", folds=5)
    assert probs.shape == (90, 3) and np.allclose(probs.sum(axis=1), 1)
    ranking = rank_label_issues(noisy, probs, "multiclass")
    worst = set(np.argsort(ranking.quality)[: len(flips)].tolist())
    assert worst == set(flips.tolist())
    assert set(np.flatnonzero(ranking.flagged)) >= set(flips.tolist())
    assert all(ranking.suggested[i] == (y[i],) for i in flips)  # the true class is suggested


def test_multilabel_missing_tags_rank_first():
    x, y = blobs(25, 3, seed=1)
    tags = np.eye(3, dtype=int)[y]
    tags[y == 2, 0] = 1  # class-2 images also carry tag 0: a two-tag cluster
    flips = [55, 60, 70]
    tags[flips, 0] = 0  # three of them lost a tag
    probs = out_of_sample_probabilities(x, tags, "multilabel", folds=4)
    labels = [list(np.flatnonzero(row)) for row in tags]
    ranking = rank_label_issues(labels, probs, "multilabel")
    assert set(np.argsort(ranking.quality)[:3].tolist()) == set(flips)
    assert ranking.suggested[flips[0]] == (0, 2)


def test_neighbours_find_an_exact_copy_and_a_far_point():
    x, _ = blobs(20, 3, seed=2)
    x = np.vstack([x, x[7], np.full(16, 40.0)])  # row 60 copies row 7; row 61 lies far from everything
    found = neighbour_findings(x)
    assert (60, 7) in [(i, j) for i, j, _ in found.duplicates]
    assert found.outliers[0][0] == 61


def photos_with_a_copy(shared_datasets: Path, root: Path) -> tuple[Path, Path]:
    """12 hymenoptera photos in two class folders and a shrunk, re-encoded copy of one of them."""
    for name in ("ants", "bees"):
        (root / name).mkdir(parents=True)
        for photo in sorted((shared_datasets / "hymenoptera" / "train" / name).glob("*.jpg"))[:6]:
            shutil.copy(photo, root / name / photo.name)
    original = sorted((root / "ants").glob("*.jpg"))[0]
    copy = root / "ants" / "zz-copy.jpg"
    image = Image.open(original)
    image.resize((image.width // 2, image.height // 2)).save(copy, quality=85)
    return original, copy


def test_a_planted_near_duplicate_is_found_among_photos_and_features_are_cached(shared_datasets, tmp_path):
    original, copy = photos_with_a_copy(shared_datasets, tmp_path / "data")
    dataset = load_dataset(str(tmp_path / "data"))
    source = BackboneSource(model=ModelConfig(name="resnet18", weights="none", image_size=64))
    stages: list[str] = []
    result = diagnose(dataset, source, folds=3, device="cpu", num_workers=0, cache_dir=tmp_path / "cache",
                      stage=stages.append)
    assert [{issue.path, issue.other} for issue in result.of_kind("duplicate")] == [{original, copy}]
    assert result.probabilities.shape == (13, 2) and len(stages) == 3
    assert result.computed_features == 13
    again = diagnose(dataset, source, folds=3, device="cpu", num_workers=0, cache_dir=tmp_path / "cache")
    assert again.computed_features == 0  # every row came from the feature cache
    assert [i.path for i in again.issues] == [i.path for i in result.issues]


def test_a_planted_flat_image_is_the_outlier(tmp_path):
    # Among real photos a random-init backbone (the only kind without downloads) sees a flat image as
    # typical; among textured images it stands out, as it does among photos with ImageNet features.
    data = make_class_folders(tmp_path / "data", classes=("red", "green", "blue"), per_class=10)
    flat = data / "blue" / "zz-flat.png"
    Image.new("RGB", (40, 40), (128, 128, 128)).save(flat)
    source = BackboneSource(model=ModelConfig(name="resnet18", weights="none", image_size=32))
    result = diagnose(load_dataset(str(data)), source, folds=3, device="cpu", num_workers=0,
                      cache_dir=tmp_path / "cache")
    assert [issue.path for issue in result.of_kind("outlier")] == [flat]
    assert result.of_kind("outlier")[0].given == ("blue",)


def test_a_diagnosis_can_be_stopped_and_needs_two_classes(tmp_path):
    data = make_class_folders(tmp_path / "data", per_class=4)
    dataset = load_dataset(str(data))
    with pytest.raises(StopRequested):
        diagnose(dataset, TINY, device="cpu", num_workers=0, cache_dir=tmp_path / "cache", should_stop=lambda: True)
    shutil.rmtree(data / "blue")
    from imgcls_gui.engine import DatasetError

    with pytest.raises(DatasetError, match="at least two classes"):
        diagnose(load_dataset(str(data)), TINY, device="cpu", num_workers=0, cache_dir=tmp_path / "cache")
