"""A damaged ``split.json`` in a run folder is one clear line naming the file, in evaluate, resume and export.

One tiny run is trained; each case overwrites its split.json (restored afterwards) and asks imgcls for the
run's validation images the ways the commands do.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from imgcls_gui import cli
from imgcls_gui.engine.data.datasets import load_dataset
from imgcls_gui.engine.data.split import read_split_file
from imgcls_gui.engine.errors import DatasetError
from imgcls_gui.engine.training.trainer import Trainer

from ..engine.tiny_data import make_class_folders
from .helpers import tiny_config

pytestmark = pytest.mark.timeout(300, method="thread")

GOOD = {"format": "imgcls-split", "version": 1, "seed": 0, "val_fraction": 0.25, "test_fraction": 0.0,
        "train": ["red/0.png"], "val": ["blue/0.png"], "test": []}


def _json(**changes) -> Callable[[Path], None]:
    return lambda path: path.write_text(json.dumps({**GOOD, **changes}), encoding="utf-8")


def _raw(data: bytes) -> Callable[[Path], None]:
    return lambda path: path.write_bytes(data)


def _fifo(path: Path) -> None:
    path.unlink()
    os.mkfifo(path)


# name -> (damage, words the message must hold)
SPLIT_CASES: dict[str, tuple[Callable[[Path], None], str]] = {
    "split-not-json": (_raw(b'{"format": "imgcls-split", "train": ['), "is not valid JSON"),
    "split-binary": (_raw(np.random.default_rng(2).bytes(300)), "is not UTF-8 text"),
    "split-cp1252": (_raw('{"train": ["caf\u00e9.png"]}'.encode("cp1252")), "is not UTF-8 text (byte 0xe9"),
    "split-empty": (_raw(b""), "is not valid JSON"),
    "split-other-format": (_json(format="something-else"), "is not an imgcls split file"),
    "split-a-list": (_raw(b"[1, 2, 3]"), "is not an imgcls split file"),
    "split-part-not-a-list": (_json(train=5), "'train' entry that is not a list of image paths"),
    "split-part-of-numbers": (_json(val=[1, 2]), "'val' entry that is not a list of image paths"),
    "split-part-of-lists": (_json(test=[["a"]]), "'test' entry that is not a list of image paths"),
    "split-seed-text": (_json(seed="abc"), "has seed 'abc', not a number"),
    "split-nan-fraction": (_raw(json.dumps({**GOOD, "val_fraction": float("nan")}).encode()), "val_fraction 'nan'"),
    "split-fraction-out-of-range": (_json(val_fraction=3), "outside [0, 1)"),
    "split-newer-version": (_json(version=9), "this imgcls reads version 1"),
    "split-deep-nesting": (_raw(b"[" * 100_000 + b"]" * 100_000), "nests too deeply"),
}


@pytest.fixture(scope="module")
def run(tmp_path_factory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("split-run")
    data = make_class_folders(root / "data", classes=("red", "blue"), per_class=6, size=16)
    result = Trainer(tiny_config(data, epochs=1), root / "run").fit()
    return data, result.run_dir


@pytest.fixture
def damaged(run):
    """Yields a function that damages the run's split.json; the good file is put back afterwards."""
    split_file = run[1] / "split.json"
    good = split_file.read_bytes()
    yield lambda damage: damage(split_file)
    split_file.unlink()
    split_file.write_bytes(good)


@pytest.mark.parametrize("name", SPLIT_CASES)
def test_each_damaged_split_is_one_line_naming_the_file(run, damaged, name, capsys):
    data, run_dir = run
    damage, words = SPLIT_CASES[name]
    damaged(damage)
    with pytest.raises(DatasetError) as info:
        read_split_file(run_dir / "split.json", load_dataset(data))
    message = str(info.value)
    assert message.startswith(str(run_dir / "split.json")) and words in message, message
    assert "Restore split.json from a backup" in message and "\n" not in message and len(message) < 500
    assert cli.main(["evaluate", str(run_dir), "--device", "cpu"]) == 2  # what imgcls evaluate prints
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and words in err


def test_resume_with_a_damaged_split_stops_with_the_same_line(run, damaged, tmp_path):
    data, run_dir = run
    copy = tmp_path / "run"
    shutil.copytree(run_dir, copy)
    SPLIT_CASES["split-part-of-numbers"][0](copy / "split.json")
    with pytest.raises(DatasetError, match="'val' entry that is not a list"):
        Trainer(tiny_config(data), copy).fit(resume=True, epochs=2)


def test_a_fifo_in_place_of_the_split_never_hangs(run, damaged, capsys):
    damaged(_fifo)
    assert cli.main(["evaluate", str(run[1]), "--device", "cpu"]) == 2
    assert "split.json" in capsys.readouterr().err


# Other state files of a run folder, read by the run list (GUI Runs view, results): damaged, each one is named
# in the run's ``problem`` (or ignored, for the optional notes and failure record), never a traceback or a hang.
RUN_FILE_CASES: dict[str, tuple[str, Callable[[Path], None]]] = {
    "metrics-deep-nesting": ("metrics.json", _raw(b"[" * 100_000 + b"]" * 100_000)),
    "metrics-binary": ("metrics.json", _raw(np.random.default_rng(5).bytes(200))),
    "metrics-wrong-shape": ("metrics.json", _raw(b'{"final": [1, 2, 3], "best_epoch": "abc"}')),
    "metrics-fifo": ("metrics.json", _fifo),
    "run-info-fifo": ("run-info.json", lambda p: os.mkfifo(p)),
    "run-info-deep": ("run-info.json", _raw(b"{\"a\":" * 50_000 + b"1" + b"}" * 50_000)),
    "failure-record-fifo": ("failed.json", lambda p: os.mkfifo(p)),
}


@pytest.mark.parametrize("name", RUN_FILE_CASES)
def test_damaged_run_state_files_are_named_not_fatal(run, tmp_path, name):
    from imgcls_gui.engine.project.runs import list_runs, read_run

    copy = tmp_path / "runs" / "run"
    shutil.copytree(run[1], copy)
    file_name, damage = RUN_FILE_CASES[name]
    damage(copy / file_name)
    summary = read_run(copy)
    assert summary.config is not None and summary.name == "run"
    if file_name == "metrics.json":
        assert summary.problem.startswith(str(copy / "metrics.json")) and "unreadable" in summary.problem
    assert [s.name for s in list_runs(copy.parent)] == ["run"]
