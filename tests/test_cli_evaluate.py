"""`imgcls evaluate RUN --split train|val|test|all`: each part of the run's saved split, counted exactly."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from imgcls_gui.cli import main

from .engine.tiny_data import make_class_folders

TINY = ["--model", "mobilenet_v3_small", "--weights", "none", "--image-size", "32", "--batch-size", "8",
        "--workers", "0", "--device", "cpu", "--freeze", "none", "--quiet", "--epochs", "1"]


@pytest.fixture(scope="module")
def run(tmp_path_factory) -> Path:
    """A one-epoch run over 3 x 10 images split 60/25/15 (train/val/test), so every part has a distinct size."""
    root = tmp_path_factory.mktemp("evaluate")
    data = make_class_folders(root / "data", classes=("red", "green", "blue"), per_class=10, size=32)
    assert main(["train", str(data), "--out", str(root / "run"), "--val-fraction", "0.25",
                 "--test-fraction", "0.15", *TINY]) == 0
    return root / "run"


def _split(run: Path) -> dict[str, list[str]]:
    saved = json.loads((run / "split.json").read_text())
    return {part: saved[part] for part in ("train", "val", "test")}


def _evaluate(run: Path, out: Path, *split: str) -> dict:
    assert main(["evaluate", str(run), *split, "--out", str(out), "--device", "cpu"]) == 0
    return json.loads(out.read_text())


def test_saved_split_has_three_parts_of_different_sizes(run):
    sizes = {part: len(paths) for part, paths in _split(run).items()}
    assert sum(sizes.values()) == 30 and len(set(sizes.values())) == 3, sizes


@pytest.mark.parametrize("part", ["train", "val", "test", "all"])
def test_each_split_evaluates_exactly_its_images(run, tmp_path, capsys, part):
    parts = _split(run)
    expected = [p for paths in parts.values() for p in paths] if part == "all" else parts[part]
    report = _evaluate(run, tmp_path / "report.json", "--split", part)
    assert report["split"] == part and report["images"] == len(expected)
    assert f"{len(expected)} images ({part})" in capsys.readouterr().out
    # the worst images the report names come from that part only (split.json holds paths relative to the data)
    worst = [Path(h["path"]).as_posix() for h in report["highest_loss"]]
    assert worst and all(any(path.endswith("/" + relative) for relative in expected) for path in worst), worst


def test_default_split_is_val(run, tmp_path):
    assert _evaluate(run, tmp_path / "report.json")["images"] == len(_split(run)["val"])


def test_an_unknown_split_name_is_refused_with_exit_2(run, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["evaluate", str(run), "--split", "validation"])
    assert exit_info.value.code == 2 and "invalid choice" in capsys.readouterr().err
