"""Splits (data/split.py) at their edges: saved settings, paths outside the root, duplicates in a saved
split, given parts, fraction bounds. Written to kill the mutants tools/mutation.sh found surviving."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from imgcls_gui.engine.data.samples import LabeledDataset, Sample
from imgcls_gui.engine.data import split as split_module
from imgcls_gui.engine.data.split import SPLIT_FORMAT, Split, read_split_file, split_dataset
from imgcls_gui.engine.errors import ConfigError, DatasetError

ROOT = Path("/data/set")


def _dataset(counts: dict[str, int], *, task: str = "multiclass") -> LabeledDataset:
    samples = [Sample(ROOT / name / f"{i}.png", (name,)) for name, count in counts.items() for i in range(count)]
    return LabeledDataset(ROOT, "folder", samples, list(counts), task)


def test_saved_split_keeps_its_settings_and_relative_paths():
    ds = _dataset({"wasp": 6, "ant": 6})
    split = split_dataset(ds, val_fraction=0.25, test_fraction=0.25, seed=9)
    data = json.loads(split.to_json(ds))
    assert (data["format"], data["version"], data["seed"]) == (SPLIT_FORMAT, 1, 9)
    assert (data["val_fraction"], data["test_fraction"]) == (0.25, 0.25)
    assert data["val"] == [ds.samples[i].path.relative_to(ROOT).as_posix() for i in split.val]
    back = Split.from_json(split.to_json(ds), ds)
    assert back == split


def _saved(**changes) -> str:
    data = {"format": SPLIT_FORMAT, "version": 1, "seed": 3, "val_fraction": 0.25, "test_fraction": 0.0,
            "train": ["wasp/0.png", "ant/0.png"], "val": ["wasp/1.png"], "test": []}
    data.update(changes)
    return json.dumps({k: v for k, v in data.items() if v is not _DROP})


_DROP = object()


def test_from_json_reads_missing_settings_as_the_defaults():
    ds = _dataset({"wasp": 2, "ant": 1})
    split = Split.from_json(_saved(seed=_DROP, val_fraction=_DROP, test_fraction=_DROP, version=_DROP), ds)
    assert (split.seed, split.val_fraction, split.test_fraction) == (0, 0.2, 0.0)
    assert (split.train, split.val, split.test) == ((0, 2), (1,), ())


def test_from_json_places_each_image_once_and_new_ones_where_the_dataset_says():
    samples = [Sample(ROOT / "wasp/0.png", ("wasp",)), Sample(ROOT / "wasp/1.png", ("wasp",)),
               Sample(ROOT / "ant/0.png", ("ant",)), Sample(ROOT / "ant/new.png", ("ant",), "test"),
               Sample(ROOT / "ant/unlabeled.png"), Sample(Path("/elsewhere/x.png"), ("ant",))]
    ds = LabeledDataset(ROOT, "csv", samples, ["wasp", "ant"], "multiclass")
    text = _saved(train=["wasp/0.png", "ant/unlabeled.png", "gone.png"], val=["wasp/1.png", "wasp/0.png"],
                  test=["/elsewhere/x.png"])
    split = Split.from_json(text, ds)
    # wasp/0 listed twice stays in its first part; unlabeled and vanished paths are dropped; ant/0 is new (train),
    # ant/new is new with a given split (test); a path outside the root is matched by its absolute form.
    assert (split.train, split.val, split.test) == ((0, 2), (1,), (3, 5))
    assert json.loads(split.to_json(ds))["test"] == ["ant/new.png", "/elsewhere/x.png"]


@pytest.mark.parametrize("text, says", [
    ("{not json", "not valid JSON"),
    ("[1, 2]", "not an imgcls split file"),
    (json.dumps({"format": "other"}), "not an imgcls split file"),
    (_saved(version=2), "has version '2'; this imgcls reads version 1"),
    (_saved(version="1"), "has version '1'"),
    (_saved(version=True), "has version 'True'"),
    (_saved(version="v" * 30), "has version '" + "v" * 20 + "'; this"),  # long values are cut to 20 characters
    (_saved(val="wasp/1.png"), "has a 'val' entry that is not a list of image paths"),
    (_saved(test=[1]), "has a 'test' entry that is not a list"),
    (_saved(train=["a", None]), "has a 'train' entry"),
    (_saved(seed="3"), "has seed '3', not a number"),
    (_saved(seed=True), "has seed 'True', not a number"),
    (_saved(val_fraction=float("nan")), "has val_fraction 'nan', not a number"),
    (_saved(test_fraction=float("-inf")), "has test_fraction '-inf', not a number"),
    (_saved(seed=float("inf")), "has seed 'inf'"),
    (_saved(val_fraction=1.0), "has val_fraction 1.0, outside [0, 1)"),
    (_saved(test_fraction=-0.1), "has test_fraction -0.1, outside [0, 1)"),
])
def test_damaged_saved_splits_are_dataset_errors_saying_what_is_wrong(text, says):
    with pytest.raises(DatasetError, match="delete it to split again") as caught:
        Split.from_json(text, _dataset({"wasp": 2, "ant": 1}))
    assert says in str(caught.value)


def test_edge_values_of_a_saved_split_are_accepted():
    ds = _dataset({"wasp": 2, "ant": 1})
    split = Split.from_json(_saved(version=0, val_fraction=0.0, test_fraction=0.999, seed=-4), ds)
    assert (split.val_fraction, split.test_fraction, split.seed) == (0.0, 0.999, -4)


def test_read_split_file_reads_a_saved_split(tmp_path):
    ds = _dataset({"wasp": 2, "ant": 1})
    path = tmp_path / "split.json"
    path.write_text(_saved(), encoding="utf-8")
    assert read_split_file(path, ds).val == (1,)


@pytest.mark.parametrize("content, reason", [
    (b"{\xff}", "is not UTF-8 text (byte 0xff at 1)"),
    (b"[" * 100_000 + b"]" * 100_000, "nests too deeply to be a split file"),
    (b'{"format": "imgcls-split", "seed": "x"}', "has seed 'x', not a number"),
    (b'["format"]', "is not an imgcls split file"),
])
def test_a_damaged_split_file_is_one_line_naming_it_and_the_way_out(tmp_path, content, reason):
    path = tmp_path / "split.json"
    path.write_bytes(content)
    with pytest.raises(DatasetError) as caught:
        read_split_file(path, _dataset({"wasp": 2}))
    # The reason of from_json, without its own "the saved split ... delete it to split again." wrapping.
    assert str(caught.value) == (
        f"{path}: this run's saved split {reason}, so its train/val/test images are unknown. "
        "Restore split.json from a backup, or delete it and train again to make a new split.")


def test_a_split_path_that_is_no_regular_file_or_is_missing_is_refused(tmp_path):
    with pytest.raises(DatasetError, match="saved split it is not a regular file"):
        read_split_file(tmp_path, _dataset({"wasp": 2}))
    with pytest.raises(DatasetError, match="cannot read the run's split \\(No such file or directory\\)"):
        read_split_file(tmp_path / "gone.json", _dataset({"wasp": 2}))


def test_an_oversized_split_file_is_refused_before_reading(tmp_path, monkeypatch):
    path = tmp_path / "split.json"
    path.write_text(_saved(), encoding="utf-8")
    monkeypatch.setattr(split_module, "MAX_SPLIT_FILE_BYTES", path.stat().st_size - 1)
    with pytest.raises(DatasetError, match=f"saved split {path.stat().st_size:,} bytes is far more than any split"):
        read_split_file(path, _dataset({"wasp": 2, "ant": 1}))
    monkeypatch.setattr(split_module, "MAX_SPLIT_FILE_BYTES", path.stat().st_size)
    assert read_split_file(path, _dataset({"wasp": 2, "ant": 1})).seed == 3


@pytest.mark.parametrize("val, test", [(-0.1, 0.0), (1.0, 0.0), (0.0, 1.0), (0.0, -0.01), (0.5, 0.5), (0.7, 0.4)])
def test_fractions_outside_their_bounds_are_config_errors(val, test):
    with pytest.raises(ConfigError, match=f"val_fraction {val} and test_fraction {test} must each be in"):
        split_dataset(_dataset({"wasp": 10, "ant": 10}), val_fraction=val, test_fraction=test)


def test_zero_fractions_keep_every_image_in_train():
    ds = _dataset({"wasp": 10, "ant": 10})
    split = split_dataset(ds, val_fraction=0.0, test_fraction=0.0)
    assert (len(split.train), split.val, split.test) == (20, (), ())


def test_test_and_val_are_fractions_of_all_labeled_images():
    ds = _dataset({"wasp": 50, "ant": 50})
    split = split_dataset(ds, val_fraction=0.2, test_fraction=0.3, seed=1)
    assert (len(split.train), len(split.val), len(split.test)) == (50, 20, 30)


def test_a_single_labeled_image_stays_in_train_whatever_the_fractions():
    ds = _dataset({"wasp": 1})
    split = split_dataset(ds, val_fraction=0.5, test_fraction=0.3)
    assert (split.train, split.val, split.test) == ((0,), (), ())


def test_split_samples_reads_one_part_of_a_runs_saved_split(tmp_path, make_folder_dataset):
    from imgcls_gui.engine.data.datasets import open_dataset
    from imgcls_gui.engine.data.split import split_samples

    data = make_folder_dataset(tmp_path / "photos", {"wasp": 4, "ant": 4})
    ds = open_dataset(str(data))
    split = split_dataset(ds, val_fraction=0.25, test_fraction=0.25, seed=2)
    run = tmp_path / "run"
    run.mkdir()
    (run / "split.json").write_text(split.to_json(ds), encoding="utf-8")
    config = {"data": {"path": str(data), "format": "auto", "images_root": None}}
    for part in ("train", "val", "test"):
        assert split_samples(run, config, "multiclass", part) == [ds.samples[i] for i in getattr(split, part)]
    assert split_samples(run, {"data": {"path": str(data)}}, "multiclass", "all") == ds.samples  # dataset order
    with pytest.raises(DatasetError, match="the saved split has no 'nope' images; choose the 'val' split."):
        split_samples(run, config, "multiclass", "nope")
    (run / "split.json").unlink()
    with pytest.raises(DatasetError, match="split.json: missing, so the run's val images are unknown; train the run again."):
        split_samples(run, config, "multiclass", "val")


def test_split_samples_opens_a_csv_dataset_through_its_images_folder(tmp_path, make_image):
    from imgcls_gui.engine.data.datasets import open_dataset
    from imgcls_gui.engine.data.split import split_samples

    for i in range(4):
        make_image(tmp_path / "pictures" / f"{i}.png", seed=i)
    csv = tmp_path / "labels.csv"
    csv.write_text("path,label\n" + "".join(f"{i}.png,{'wasp' if i % 2 else 'ant'}\n" for i in range(4)))
    ds = open_dataset(str(csv), "csv", str(tmp_path / "pictures"))
    run = tmp_path / "run"
    run.mkdir()
    (run / "split.json").write_text(split_dataset(ds, val_fraction=0.5).to_json(ds), encoding="utf-8")
    config = {"data": {"path": str(csv), "format": "csv", "images_root": str(tmp_path / "pictures")}}
    assert split_samples(run, config, "multiclass", "all") == ds.samples


def test_labels_the_importer_did_not_list_as_classes_are_still_split():
    samples = [Sample(ROOT / f"{i}.png", ("wasp" if i % 2 else "bee",)) for i in range(10)]
    ds = LabeledDataset(ROOT, "csv", samples, ["wasp"], "multiclass")  # "bee" missing from the class list
    split = split_dataset(ds, val_fraction=0.2)
    assert len(split.val) == 2 and {ds.samples[i].labels for i in split.val} == {("wasp",), ("bee",)}
