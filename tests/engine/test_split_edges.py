"""Splits (data/split.py) at their edges: saved settings, paths outside the root, duplicates in a saved
split, given parts, fraction bounds. Written to kill the mutants tools/mutation.sh found surviving."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from imgcls_gui.engine.data.samples import LabeledDataset, Sample
from imgcls_gui.engine.data.split import SPLIT_FORMAT, Split, split_dataset
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
