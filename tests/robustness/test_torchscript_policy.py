"""TorchScript is code: a model file that runs code at load and in ``forward`` is refused by every
command and the app unless it was exported on this machine or the user trusts it (``--trust-code``).

The file used here writes two files with plain TorchScript (no pickle): one from ``__setstate__``
while ``torch.jit.load`` runs, one from ``forward``. Neither may ever appear without consent.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import torch

from imgcls_gui import cli
from imgcls_gui.engine.checkpoint import load_checkpoint
from imgcls_gui.engine.data.preprocess import Preprocessing
from imgcls_gui.engine.deploy.model_info import ModelInfo
from imgcls_gui.engine.deploy.predict import Predictor
from imgcls_gui.engine.trusted_code import REGISTRY_NAME, UntrustedCodeError
from imgcls_gui.engine.training.trainer import Trainer

from ..engine.tiny_data import make_class_folders
from .corpus import noise_photos, write_code_running_torchscript
from .helpers import tiny_config


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("torchscript")
    data = make_class_folders(root / "data", per_class=6, size=32)
    return Trainer(tiny_config(data), root / "run").fit().run_dir


@pytest.fixture
def scripted(tmp_path) -> tuple[Path, tuple[Path, Path]]:
    """A TorchScript 'imgcls export' (valid metadata) that writes files outside its folder when run."""
    metadata = json.dumps(ModelInfo(("blue", "red"), "multiclass", Preprocessing.for_size(32)).to_json_dict())
    (tmp_path / "home").mkdir()
    evil = tmp_path / "downloads" / "shared-model.pt"
    markers = write_code_running_torchscript(evil, tmp_path / "home" / "bashrc", metadata)
    return evil, markers


@pytest.fixture
def photos(tmp_path) -> Path:
    return noise_photos(tmp_path / "photos")


def _last_error_line(capsys) -> str:
    err = capsys.readouterr().err.strip()
    assert err.startswith("imgcls: error: ") and "\n" not in err and "Traceback" not in err, err
    return err


def test_the_scripted_model_really_writes_files_at_load_and_in_forward(scripted):
    evil, (at_load, in_forward) = scripted
    module = torch.jit.load(str(evil))  # what imgcls did before: exit 0, files written
    assert at_load.read_bytes() == b"LLLL" and not in_forward.exists()
    module(torch.zeros(1, 3, 32, 32))
    assert in_forward.read_bytes() == b"FFFF"


@pytest.mark.parametrize("command", ["predict", "predict-json", "evaluate", "export", "export-torchscript",
                                     "weights", "resume"])
def test_every_command_refuses_the_scripted_model_and_nothing_is_written(run_dir, scripted, photos, tmp_path, capsys,
                                                                         command):
    evil, markers = scripted
    data = load_checkpoint(run_dir)["config"]["data"]["path"]
    run_copy = tmp_path / "run-copy"
    if command == "resume":
        shutil.copytree(run_dir, run_copy)
        shutil.copy(evil, run_copy / "last.pt")
        evil = run_copy / "last.pt"
    argv = {
        "predict": ["predict", str(evil), str(photos), "--out", str(tmp_path / "p.csv"), "--quiet"],
        "predict-json": ["predict", str(evil), str(photos / "p0.png"), "--out", str(tmp_path / "p.json"), "--quiet"],
        "evaluate": ["evaluate", str(evil), "--data", data, "--device", "cpu"],
        "export": ["export", str(evil), "--out", str(tmp_path / "m.onnx")],
        "export-torchscript": ["export", str(evil), "--format", "torchscript", "--out", str(tmp_path / "m.pt")],
        "weights": ["train", data, "--out", str(tmp_path / "run"), "--weights", str(evil), "--epochs", "1",
                    "--model", "mobilenet_v3_small", "--device", "cpu", "--quiet"],
        "resume": ["train", "--resume", str(run_copy), "--quiet"],
    }[command]
    assert cli.main(argv) == 2
    err = _last_error_line(capsys)
    assert f"{evil}: this is a TorchScript file, which is a program" in err, err
    if command.startswith("predict"):  # the one place it can be used: both ways out are named
        assert "--trust-code" in err and "ONNX" in err
    assert not any(marker.exists() for marker in markers)
    assert not any((tmp_path / name).exists() for name in ("p.csv", "p.json", "m.onnx", "m.pt"))


def test_with_trust_code_the_user_gets_what_they_asked_for(scripted, photos, tmp_path, capsys):
    evil, (at_load, in_forward) = scripted
    out = tmp_path / "p.csv"
    assert cli.main(["predict", str(evil), str(photos), "--out", str(out), "--quiet", "--trust-code"]) == 0
    assert out.is_file() and at_load.exists() and in_forward.exists()  # it loaded and ran: consent was given


def test_the_engine_refuses_without_consent_and_names_the_file(scripted):
    evil, markers = scripted
    with pytest.raises(UntrustedCodeError) as info:
        Predictor.load(evil)
    assert info.value.path == evil and str(evil) in str(info.value)
    assert not any(marker.exists() for marker in markers)


def test_a_torchscript_export_of_this_machine_loads_without_asking_and_only_that_file(run_dir, photos, tmp_path,
                                                                                       monkeypatch, capsys):
    monkeypatch.setenv("IMGCLS_DATA_DIR", str(tmp_path / "user-data"))
    exported = tmp_path / "model.pt"
    assert cli.main(["export", str(run_dir), "--format", "torchscript", "--out", str(exported)]) == 0
    registry = tmp_path / "user-data" / REGISTRY_NAME
    assert registry.is_file()
    assert cli.main(["predict", str(exported), str(photos), "--out", str(tmp_path / "p.csv"), "--quiet"]) == 0
    capsys.readouterr()

    altered = tmp_path / "altered.pt"  # one byte of its stored metadata changed: another file, another digest
    data = bytearray(exported.read_bytes())
    at = data.index(b'"task"')
    data[at + 1] = ord("T")
    altered.write_bytes(bytes(data))
    for model, data_dir in ((altered, tmp_path / "user-data"), (exported, tmp_path / "other-machine")):
        monkeypatch.setenv("IMGCLS_DATA_DIR", str(data_dir))
        assert cli.main(["predict", str(model), str(photos), "--out", str(tmp_path / "q.csv"), "--quiet"]) == 2
        assert f"{model}: this is a TorchScript file" in _last_error_line(capsys)

    monkeypatch.setenv("IMGCLS_DATA_DIR", str(tmp_path / "user-data"))
    for damaged in (b"", b"\x00\xff" * 50, b'{"sha256": "not a list"}', b"[1, 2]"):
        registry.write_bytes(damaged)  # a damaged registry trusts nothing and breaks nothing
        assert cli.main(["predict", str(exported), str(photos), "--out", str(tmp_path / "q.csv"), "--quiet"]) == 2
        assert "--trust-code" in _last_error_line(capsys)
    again = tmp_path / "again.pt"
    assert cli.main(["export", str(run_dir), "--format", "torchscript", "--out", str(again)]) == 0
    assert cli.main(["predict", str(again), str(photos), "--out", str(tmp_path / "q.csv"), "--quiet"]) == 0
    assert json.loads(registry.read_text())["sha256"]  # the export repaired it
