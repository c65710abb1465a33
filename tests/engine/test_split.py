from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from imgcls_gui.engine.errors import ConfigError, DatasetError
from imgcls_gui.engine.data.samples import LabeledDataset, Sample
from imgcls_gui.engine.data.split import Split, split_dataset

ROOT = Path("/data/set")


def _dataset(counts: dict[str, int], *, splits: dict[str, str] | None = None, unlabeled: int = 0) -> LabeledDataset:
    """counts images per class; ``splits`` maps a class to the split its images are given (default none)."""
    samples = [
        Sample(ROOT / name / f"{i}.png", (name,), (splits or {}).get(name))
        for name, count in counts.items()
        for i in range(count)
    ]
    samples += [Sample(ROOT / "loose" / f"{i}.png") for i in range(unlabeled)]
    return LabeledDataset(ROOT, "folder", samples, sorted(counts), "multiclass")


def _multilabel(n: int, seed: int = 0, n_labels: int = 5) -> LabeledDataset:
    rng = np.random.default_rng(seed)
    names = [f"l{j}" for j in range(n_labels)]
    samples = []
    for i in range(n):
        chosen = [names[j] for j in range(n_labels) if rng.random() < 0.3] or [names[int(rng.integers(n_labels))]]
        samples.append(Sample(ROOT / f"{i}.jpg", tuple(chosen)))
    return LabeledDataset(ROOT, "csv", samples, names, "multilabel")


def _class_counts(ds: LabeledDataset, indices) -> Counter:
    return Counter(label for i in indices for label in ds.samples[i].labels)


def _assert_partition(ds: LabeledDataset, split: Split) -> None:
    parts = [set(split.train), set(split.val), set(split.test)]
    assert not (parts[0] & parts[1] or parts[0] & parts[2] or parts[1] & parts[2])
    assert set().union(*parts) == {i for i, s in enumerate(ds.samples) if s.labels}


def test_split_is_deterministic_and_depends_on_the_seed():
    ds = _dataset({"a": 40, "b": 40, "c": 20})
    first = split_dataset(ds, val_fraction=0.2, test_fraction=0.1, seed=3)
    assert first == split_dataset(ds, val_fraction=0.2, test_fraction=0.1, seed=3)
    assert first != split_dataset(ds, val_fraction=0.2, test_fraction=0.1, seed=4)
    _assert_partition(ds, first)


def test_split_is_stratified_and_sized_by_the_fractions():
    ds = _dataset({"a": 50, "b": 30, "c": 20}, unlabeled=7)
    split = split_dataset(ds, val_fraction=0.2, test_fraction=0.1, seed=0)
    _assert_partition(ds, split)  # unlabeled images are in no part
    assert (len(split.train), len(split.val), len(split.test)) == (70, 20, 10)
    assert _class_counts(ds, split.val) == {"a": 10, "b": 6, "c": 4}
    assert _class_counts(ds, split.test) == {"a": 5, "b": 3, "c": 2}


def test_given_train_and_val_are_kept_as_they_are():
    ds = _dataset({"a": 10, "b": 10, "c": 4}, splits={"a": "train", "b": "train", "c": "val"})
    split = split_dataset(ds, val_fraction=0.5, seed=0)
    assert sorted(split.val) == [i for i, s in enumerate(ds.samples) if s.split == "val"]
    assert split.test == ()


def test_given_train_and_test_get_val_carved_out_of_train():
    samples = [Sample(ROOT / f"t{i}.png", ("a" if i % 2 else "b",), "train") for i in range(20)]
    samples += [Sample(ROOT / f"x{i}.png", ("a" if i % 2 else "b",), "test") for i in range(6)]
    ds = LabeledDataset(ROOT, "split-folders", samples, ["a", "b"], "multiclass")
    split = split_dataset(ds, val_fraction=0.25, test_fraction=0.3, seed=0)
    assert {ds.samples[i].split for i in split.test} == {"test"} and len(split.test) == 6
    assert {ds.samples[i].split for i in split.val} == {"train"} and len(split.val) == 5
    assert _class_counts(ds, split.val) in ({"a": 3, "b": 2}, {"a": 2, "b": 3})


def test_unsplit_samples_join_the_train_pool_when_val_is_given():
    samples = [Sample(ROOT / f"v{i}.png", ("a",), "val") for i in range(3)]
    samples += [Sample(ROOT / f"n{i}.png", ("a" if i % 2 else "b",)) for i in range(8)]
    ds = LabeledDataset(ROOT, "voc", samples, ["a", "b"], "multiclass")
    split = split_dataset(ds, seed=0)
    assert split.val == (0, 1, 2) and split.train == tuple(range(3, 11))


def test_tiny_classes_do_not_crash_and_a_single_image_class_stays_in_train():
    ds = _dataset({"big": 12, "two": 2, "one": 1})
    for seed in range(5):
        split = split_dataset(ds, val_fraction=0.2, test_fraction=0.2, seed=seed)
        _assert_partition(ds, split)
        assert _class_counts(ds, split.train)["one"] == 1
    tiny = _dataset({"a": 1, "b": 1})
    assert split_dataset(tiny).train == (0, 1)
    few = _dataset({"a": 2, "b": 2, "c": 2, "d": 2})  # fewer val slots than classes: plain shuffle
    _assert_partition(few, split_dataset(few, val_fraction=0.25))


# Largest |share of a label's images in val - val_fraction| allowed. Measured on _multilabel(600), seeds 0-7:
# iterative stratification 0.0022 for every seed; a plain shuffle 0.014-0.057. A bound between them is one a
# shuffle cannot meet by luck on any of the seeds below.
MULTILABEL_SHARE_BOUND = 0.008


@pytest.mark.parametrize("seed", range(8))
def test_multilabel_split_keeps_label_frequencies_close(seed):
    ds = _multilabel(600)
    split = split_dataset(ds, val_fraction=0.2, seed=seed)
    _assert_partition(ds, split)
    total = _class_counts(ds, range(len(ds.samples)))
    val = _class_counts(ds, split.val)
    # Iterative stratification meets each label's share, not the image count: val holds 114-128 images.
    assert abs(len(split.val) - 120) <= 12
    deviation = {label: abs(val[label] / count - 0.2) for label, count in total.items()}
    assert max(deviation.values()) < MULTILABEL_SHARE_BOUND, deviation
    assert split == split_dataset(ds, val_fraction=0.2, seed=seed)


def test_multilabel_single_occurrence_label_stays_in_train():
    ds = _multilabel(50)
    ds.samples.append(Sample(ROOT / "rare.jpg", ("l0", "unique")))
    ds.classes.append("unique")
    for seed in range(5):
        assert len(ds.samples) - 1 in split_dataset(ds, val_fraction=0.3, seed=seed).train


def test_ten_thousand_samples_split_into_parts_of_the_asked_sizes():
    # How long this takes is measured by benchmarks/split_speed.py, not asserted on a shared machine.
    ds = _dataset({f"c{k}": 1000 for k in range(10)})
    split = split_dataset(ds, val_fraction=0.2, test_fraction=0.1)
    _assert_partition(ds, split)
    assert (len(split.val), len(split.test)) == (2000, 1000)
    ml = _multilabel(10_000)
    ml_split = split_dataset(ml, val_fraction=0.2)
    _assert_partition(ml, ml_split)
    assert abs(len(ml_split.val) - 2000) <= 100


def test_json_round_trip_by_relative_paths():
    ds = _dataset({"a": 10, "b": 10})
    split = split_dataset(ds, val_fraction=0.3, seed=7)
    text = split.to_json(ds)
    data = json.loads(text)
    assert data["seed"] == 7 and data["val_fraction"] == 0.3
    assert all(not p.startswith("/") for p in data["train"] + data["val"])
    assert Split.from_json(text, ds) == split


def test_from_json_drops_vanished_paths_and_sends_new_images_to_train():
    ds = _dataset({"a": 10, "b": 10})
    split = split_dataset(ds, val_fraction=0.3, seed=7)
    text = split.to_json(ds)
    removed = ds.samples[split.val[0]]
    new = Sample(ROOT / "a" / "new.png", ("a",))
    given_val = Sample(ROOT / "b" / "given.png", ("b",), "val")
    changed = LabeledDataset(ROOT, "folder", [s for s in ds.samples if s != removed] + [new, given_val], ["a", "b"], "multiclass")
    loaded = Split.from_json(text, changed)
    _assert_partition(changed, loaded)
    assert len(loaded.val) == len(split.val)  # one vanished, one given val image joined
    assert changed.samples.index(new) in loaded.train
    assert changed.samples.index(given_val) in loaded.val
    kept_val = {changed.samples[i].path for i in loaded.val} - {given_val.path}
    assert kept_val == {ds.samples[i].path for i in split.val} - {removed.path}


def test_bad_fractions_and_bad_json_are_user_errors():
    ds = _dataset({"a": 5, "b": 5})
    with pytest.raises(ConfigError):
        split_dataset(ds, val_fraction=0.6, test_fraction=0.5)
    with pytest.raises(ConfigError):
        split_dataset(ds, val_fraction=-0.1)
    with pytest.raises(DatasetError):
        Split.from_json("{not json", ds)
    with pytest.raises(DatasetError):
        Split.from_json('{"train": []}', ds)
