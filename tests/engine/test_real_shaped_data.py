"""Data shaped as people have it, not as the easy case: label columns found by header, -1 for "absent",
class orders that are not alphabetical. Each test fails if the importer or the project falls back to
the shortcut (first column, only 0 as negative, sorted classes)."""

from __future__ import annotations

from pathlib import Path

from imgcls_gui.engine.data.csv_import import read_csv_dataset
from imgcls_gui.engine.data.datasets import load_dataset
from imgcls_gui.engine.data.split import split_dataset

from .tiny_data import (ONE_HOT_ORDER, PROJECT_ORDER, make_label_column_csv, make_one_hot_csv,
                        make_project_added_later, one_hot_csv_labels)


def _labels_by_name(ds) -> dict[str, tuple[str, ...]]:
    return {sample.path.name: sample.labels for sample in ds.samples}


def test_label_column_is_chosen_by_its_header_not_its_position(tmp_path: Path):
    csv_path = make_label_column_csv(tmp_path / "shots", per_class=4)
    ds = load_dataset(csv_path)
    assert ds.task == "multiclass" and not ds.problems
    assert ds.classes == sorted(PROJECT_ORDER)  # a label column's classes are the values seen, sorted
    labels = _labels_by_name(ds)
    assert len(labels) == 12
    assert [labels[f"p{i:03d}.png"] for i in range(12)] == [(name,) for name in PROJECT_ORDER for _ in range(4)]


def test_minus_one_means_absent_and_one_hot_columns_keep_the_csv_order(tmp_path: Path):
    csv_path = make_one_hot_csv(tmp_path / "insects", negative="-1")
    ds = read_csv_dataset(csv_path)
    assert ds.task == "multilabel" and not ds.problems
    assert ds.classes == list(ONE_HOT_ORDER)  # column order, not sorted
    assert [s.labels for s in sorted(ds.samples, key=lambda s: s.path.name)] == one_hot_csv_labels()


def test_minus_one_and_zero_read_the_same(tmp_path: Path):
    with_minus = read_csv_dataset(make_one_hot_csv(tmp_path / "minus", negative="-1"))
    with_zero = read_csv_dataset(make_one_hot_csv(tmp_path / "zero", negative="0"))
    assert with_minus.classes == with_zero.classes
    assert [s.labels for s in with_minus.samples] == [s.labels for s in with_zero.samples]


def test_one_hot_split_reaches_every_label_in_train_and_val(tmp_path: Path):
    ds = read_csv_dataset(make_one_hot_csv(tmp_path / "insects", n=30))
    split = split_dataset(ds, val_fraction=0.3, seed=0)
    for part in (split.train, split.val):
        assert {label for i in part for label in ds.samples[i].labels} == set(ONE_HOT_ORDER)


def test_classes_added_later_keep_the_order_they_were_created_in(tmp_path: Path):
    project = make_project_added_later(tmp_path / "project", tmp_path / "photos", per_class=3)
    try:
        ds = project.to_labeled_dataset()
        assert project.class_names() == list(PROJECT_ORDER)
        assert ds.classes == list(PROJECT_ORDER)
        assert sorted({s.labels for s in ds.samples}) == sorted((name,) for name in PROJECT_ORDER)
    finally:
        project.close()
