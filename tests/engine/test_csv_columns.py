"""The CSV importer (data/csv_import.py) on the CSVs people have: which column is which, what counts as a
label, rows that cannot be used. Written to kill the mutants tools/mutation.sh found surviving."""

from __future__ import annotations

from pathlib import Path

import pytest

from imgcls_gui.engine.data.csv_import import read_csv_dataset
from imgcls_gui.engine.errors import DatasetError


def _images(folder: Path, names: list[str]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for name in names:
        (folder / name).write_bytes(b"not decoded by the importer")


def test_path_and_split_columns_are_found_by_header_anywhere(tmp_path):
    _images(tmp_path, ["a.png", "b.png", "c.png"])
    csv = tmp_path / "labels.csv"
    csv.write_text("Subset,Class,File Name\ntraining,wasp,a.png\nvalidation,ant,b.png\nTEST,wasp,c.png\n")
    ds = read_csv_dataset(csv)
    assert [(s.path.name, s.labels, s.split) for s in ds.samples] == [
        ("a.png", ("wasp",), "train"), ("b.png", ("ant",), "val"), ("c.png", ("wasp",), "test")]
    assert (ds.classes, ds.task, ds.problems) == (["ant", "wasp"], "multiclass", [])
