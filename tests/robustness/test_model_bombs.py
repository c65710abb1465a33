"""Model files whose zip members declare far more than they hold (a 3 MB file declaring 3 GB) are
refused from the zip directory before torch inflates anything.

Each file goes to predict, evaluate, export and ``--weights`` in a child process whose address space
is capped at 1 GiB above what torch itself takes (RLIMIT_AS): were the check ever lost, torch's
allocation would fail in the child instead of exhausting the machine, and the test would fail.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from ..engine.tiny_data import make_class_folders
from .corpus import BOMB_BYTES, noise_photos, write_zip_bombs
from .helpers import run_cli_capped

# name → the words of the one-line error
EXPECTED = {
    "checkpoint-deflate-bomb": "its zip members declare 3.0 GB in a 2.9 MB file",
    "checkpoint-many-small-bombs": "its zip members declare 2.9 GB in a ",
    "checkpoint-size-lie": "its zip members declare 3.0 GB in a 5.3 KB file",
    "checkpoint-storage-lie": "a tensor declares 8.6 GB but its record holds 120 bytes",
}

@pytest.fixture(scope="module")
def setting(tmp_path_factory) -> dict[str, Path]:
    import torch

    root = tmp_path_factory.mktemp("bombs")
    data = make_class_folders(root / "data", per_class=6, size=32)
    photos = noise_photos(root / "photos", 1)
    base = root / "tiny-checkpoint.pt"  # a real torch.save zip, small so the bombs' sizes are what they declare
    torch.save({"format": "imgcls-checkpoint", "version": 1, "model": {"weight": torch.zeros(30)}}, base)
    return {"root": root, "data": data, "photos": photos, "bombs": write_zip_bombs(root / "bad", base)}


def test_the_bombs_are_small_files_declaring_gigabytes(setting):
    import zipfile

    for name, path in setting["bombs"].items():
        declared = sum(info.file_size for info in zipfile.ZipFile(path).infolist())
        assert path.stat().st_size < 4 * 10**6, name
        assert declared >= BOMB_BYTES * 0.95 or name == "checkpoint-storage-lie", name


@pytest.mark.parametrize("name", list(EXPECTED))
def test_a_file_declaring_gigabytes_is_refused_before_it_is_inflated(setting, tmp_path, name):
    bomb, data = str(setting["bombs"][name]), str(setting["data"])
    argv = {
        "predict": ["predict", bomb, str(setting["photos"]), "--out", str(tmp_path / "p.csv"), "--quiet"],
        "evaluate": ["evaluate", bomb, "--data", data, "--device", "cpu"],
        "export": ["export", bomb, "--out", str(tmp_path / "m.onnx")],
        "weights": ["train", data, "--out", str(tmp_path / "run"), "--weights", bomb, "--epochs", "1",
                    "--model", "mobilenet_v3_small", "--device", "cpu", "--quiet"],
    }
    results, _ = run_cli_capped(argv)
    for command, (code, err) in results.items():
        line = err.strip()
        assert code == 2 and line.startswith(f"imgcls: error: {bomb}: ") and "\n" not in line, (command, err)
        assert EXPECTED[name] in line and "refused before reading" in line, (command, line)
    assert not (tmp_path / "p.csv").exists() and not (tmp_path / "m.onnx").exists()
