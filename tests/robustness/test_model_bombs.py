"""Model files whose zip members declare far more than they hold (a 3 MB file declaring 3 GB) are
refused from the zip directory before torch inflates anything.

Each file goes to predict, evaluate, export and ``--weights`` in a child process whose address space
is capped at 1 GiB above what torch itself takes (RLIMIT_AS): were the check ever lost, torch's
allocation would fail in the child instead of exhausting the machine, and the test would fail.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from ..engine.tiny_data import make_class_folders
from .corpus import BOMB_BYTES, noise, write_zip_bombs
from .helpers import child_env

# name → the words of the one-line error
EXPECTED = {
    "checkpoint-deflate-bomb": "its zip members declare 3.0 GB in a 2.9 MB file",
    "checkpoint-many-small-bombs": "its zip members declare 2.9 GB in a ",
    "checkpoint-size-lie": "its zip members declare 3.0 GB in a 5.3 KB file",
    "checkpoint-storage-lie": "a tensor declares 8.6 GB but its record holds 120 bytes",
}

_CHILD = textwrap.dedent("""
    import contextlib, io, json, resource, sys
    import onnxruntime, torch  # what every command loads anyway, before the cap
    from imgcls_gui import cli
    status = open("/proc/self/status").read().split("VmSize:")[1].split()[0]
    cap = int(status) * 1024 + (1 << 30)
    resource.setrlimit(resource.RLIMIT_AS, (cap, cap))
    results = {}
    for command, argv in json.loads(sys.argv[1]).items():
        err = io.StringIO()
        with contextlib.redirect_stderr(err):
            code = cli.main(argv)
        results[command] = [code, err.getvalue()]
    print(json.dumps(results))
""")


@pytest.fixture(scope="module")
def setting(tmp_path_factory) -> dict[str, Path]:
    import torch

    root = tmp_path_factory.mktemp("bombs")
    data = make_class_folders(root / "data", per_class=6, size=32)
    photos = root / "photos"
    photos.mkdir()
    noise((40, 40)).save(photos / "p.png")
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
    env = {**child_env(), "MALLOC_ARENA_MAX": "2", "OMP_NUM_THREADS": "1"}  # keep the child's address space honest
    child = subprocess.run([sys.executable, "-c", _CHILD, json.dumps(argv)], capture_output=True, text=True,
                           env=env, timeout=600)
    assert child.returncode == 0, child.stderr[-2000:]
    results = json.loads(child.stdout.strip().splitlines()[-1])
    for command, (code, err) in results.items():
        line = err.strip()
        assert code == 2 and line.startswith(f"imgcls: error: {bomb}: ") and "\n" not in line, (command, err)
        assert EXPECTED[name] in line and "refused before reading" in line, (command, line)
    assert not (tmp_path / "p.csv").exists() and not (tmp_path / "m.onnx").exists()
