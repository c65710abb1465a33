"""Wrong, damaged and foreign model files given to every command that reads one: one clear line, exit 2.

(Files that would run code on load are in test_security.py.)
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import onnx
import pytest
import torch
from onnx import TensorProto, helper

from imgcls_gui import cli
from imgcls_gui.engine.checkpoint import load_checkpoint, save_checkpoint
from imgcls_gui.engine.config import ModelConfig
from imgcls_gui.engine.deploy.export import export_onnx
from imgcls_gui.engine.models.build import build_model
from imgcls_gui.engine.training.trainer import Trainer

from ..engine.tiny_data import make_class_folders
from .corpus import noise
from .helpers import tiny_config


@pytest.fixture(scope="module")
def good(tmp_path_factory) -> dict[str, Path]:
    """A real tiny run, its ONNX export and a few photos to predict on."""
    root = tmp_path_factory.mktemp("models")
    data = make_class_folders(root / "data", per_class=6, size=32)
    run = Trainer(tiny_config(data), root / "run").fit().run_dir
    photos = root / "photos"
    photos.mkdir()
    for i in range(3):
        noise((40, 40), seed=i).save(photos / f"p{i}.png")
    return {"root": root, "data": data, "run": run, "onnx": export_onnx(run, root / "good.onnx").path, "photos": photos}


def _foreign_onnx(path: Path, *, size: int | str, classes: int, metadata: dict[str, str] | None = None) -> Path:
    """A minimal classifier from another tool (mean colour → scores), optionally wearing imgcls metadata."""
    image = helper.make_tensor_value_info("pixels", TensorProto.FLOAT, ["N", 3, size, size])
    scores = helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["N", classes])
    weight = helper.make_tensor("w", TensorProto.FLOAT, [3, classes], np.linspace(-1, 1, 3 * classes).tolist())
    nodes = [helper.make_node("GlobalAveragePool", ["pixels"], ["pooled"]),
             helper.make_node("Flatten", ["pooled"], ["flat"]),
             helper.make_node("MatMul", ["flat", "w"], ["logits"])]
    model = helper.make_model(helper.make_graph(nodes, "foreign", [image], [scores], initializer=[weight]),
                              opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    for key, value in (metadata or {}).items():
        model.metadata_props.add(key=key, value=value)
    onnx.save(model, str(path))
    return path


@pytest.fixture(scope="module")
def bad(good) -> dict[str, Path]:
    """name → a broken model file (or run folder), built from the good run where it needs to look real."""
    folder = good["root"] / "bad"
    folder.mkdir()
    files: dict[str, Path] = {}

    def put(name: str, filename: str, data: bytes) -> None:
        files[name] = folder / filename
        files[name].write_bytes(data)

    best = (good["run"] / "best.pt").read_bytes()
    put("checkpoint-empty", "empty.pt", b"")
    put("checkpoint-random-binary", "random.pt", np.random.default_rng(1).bytes(4096))
    put("checkpoint-truncated", "cut.pt", best[: len(best) // 2])
    put("checkpoint-text", "notes.pt", b"model accuracy was 0.93\n")
    plain = folder / "plain-state-dict.pt"
    torch.save(load_checkpoint(good["run"])["model"], plain)
    files["checkpoint-plain-state-dict"] = plain
    state = load_checkpoint(good["run"])
    save_checkpoint({k: v for k, v in state.items() if k not in ("format", "version", "classes")}, folder / "no-classes.pt")
    files["checkpoint-missing-keys"] = folder / "no-classes.pt"
    wrong = dict(state, classes=["blue", "red", "c", "d", "e"])  # the data's labels, but a 2-class head
    save_checkpoint(wrong, folder / "five-classes.pt")
    files["checkpoint-weights-do-not-fit"] = folder / "five-classes.pt"
    files["run-folder-without-checkpoints"] = folder / "empty-run"
    files["run-folder-without-checkpoints"].mkdir()
    meta = {p.key: p.value for p in onnx.load(str(good["onnx"])).metadata_props}
    put("onnx-truncated", "cut.onnx", good["onnx"].read_bytes()[:1000])
    put("onnx-text", "text.onnx", b"<html>not a model</html>")
    files["onnx-no-metadata"] = _foreign_onnx(folder / "foreign.onnx", size="S", classes=2)
    files["onnx-wrong-input-shape"] = _foreign_onnx(folder / "shape.onnx", size=48, classes=2, metadata=meta)
    files["onnx-wrong-class-count"] = _foreign_onnx(folder / "count.onnx", size="S", classes=5, metadata=meta)
    return files


# name → (the words the one-line error must contain, commands that read this kind of file)
READERS = ("predict", "evaluate", "export")
EXPECTED = {
    "checkpoint-empty": ("not a readable imgcls checkpoint", READERS),
    "checkpoint-random-binary": ("not a readable imgcls checkpoint", READERS),
    "checkpoint-truncated": ("not a readable imgcls checkpoint", READERS),
    "checkpoint-text": ("not a readable imgcls checkpoint", READERS),
    "checkpoint-plain-state-dict": ("not an imgcls checkpoint", READERS),
    "checkpoint-missing-keys": ("it lacks classes", READERS),
    "checkpoint-weights-do-not-fit": ("checkpoint weights do not fit mobilenet_v3_small with 5 classes (size mismatch", READERS),
    "run-folder-without-checkpoints": ("no best.pt or last.pt in this folder", READERS),
    "onnx-truncated": ("not a readable ONNX model", ("predict",)),
    "onnx-text": ("not a readable ONNX model", ("predict",)),
    "onnx-no-metadata": ("has no imgcls metadata", ("predict",)),
    "onnx-wrong-input-shape": ("the model's input is ['N', 3, 48, 48]", ("predict",)),
    "onnx-wrong-class-count": ("outputs 5 scores but 2 class names", ("predict",)),
}
CALLS = [(name, command) for name, (_, commands) in EXPECTED.items() for command in commands]


def _argv(command: str, model: Path, good: dict[str, Path], tmp: Path) -> list[str]:
    return {
        "predict": ["predict", str(model), str(good["photos"]), "--out", str(tmp / "p.csv"), "--quiet"],
        "evaluate": ["evaluate", str(model), "--data", str(good["data"]), "--device", "cpu"],
        "export": ["export", str(model), "--out", str(tmp / "m.onnx")],
    }[command]


def _one_line_error(capsys) -> str:
    err = capsys.readouterr().err.strip()
    assert err.startswith("imgcls: error: ") and "\n" not in err and "Traceback" not in err, err
    return err


@pytest.mark.parametrize(("name", "command"), CALLS)
def test_each_bad_model_file_is_one_clear_error_in_each_command(good, bad, tmp_path, capsys, name, command):
    words, _ = EXPECTED[name]
    code = cli.main(_argv(command, bad[name], good, tmp_path))
    err = _one_line_error(capsys)
    assert code == 2 and str(bad[name]) in err and words in err, err
    assert not (tmp_path / "p.csv").exists() and not (tmp_path / "m.onnx").exists()  # nothing half-written


def test_weights_of_another_architecture_name_the_missing_keys(good, tmp_path, capsys):
    other = tmp_path / "mobilenet.pt"
    torch.save(build_model(ModelConfig(name="mobilenet_v3_small", weights="none"), 2).state_dict(), other)
    code = cli.main(["train", str(good["data"]), "--out", str(tmp_path / "run"), "--model", "resnet18",
                     "--weights", str(other), "--epochs", "1", "--device", "cpu", "--quiet"])
    err = _one_line_error(capsys)
    assert code == 2 and f"{other} does not fit resnet18: missing keys " in err and "; unexpected keys classifier.0.bias" in err


def test_random_binary_weights_are_refused_by_name(good, tmp_path, capsys):
    junk = tmp_path / "weights.pth"
    junk.write_bytes(np.random.default_rng(2).bytes(10_000))
    code = cli.main(["train", str(good["data"]), "--out", str(tmp_path / "run"), "--weights", str(junk),
                     "--model", "mobilenet_v3_small", "--epochs", "1", "--device", "cpu", "--quiet"])
    err = _one_line_error(capsys)
    assert code == 2 and f"{junk}: cannot read weights from this file" in err


def test_damaged_last_checkpoint_stops_resume_with_a_clear_error_and_keeps_the_run(good, tmp_path, capsys):
    run = tmp_path / "run"
    shutil.copytree(good["run"], run)
    last = run / "last.pt"
    last.write_bytes(last.read_bytes()[:5000])
    before = {p.name: p.read_bytes() for p in run.iterdir()}
    assert cli.main(["train", "--resume", str(run), "--quiet"]) == 2
    err = _one_line_error(capsys)
    assert f"{last}: not a readable imgcls checkpoint" in err
    assert {p.name: p.read_bytes() for p in run.iterdir()} == before  # nothing overwritten by the failed resume


def test_onnx_without_metadata_still_works_when_the_facts_are_given(bad, good):
    from imgcls_gui.engine.deploy.predict import Predictor
    from imgcls_gui.engine.data.preprocess import Preprocessing

    predictor = Predictor.load(bad["onnx-no-metadata"], classes=["blue", "red"], preprocessing=Preprocessing.for_size(32))
    rows = predictor.predict(sorted(good["photos"].iterdir()))
    assert [r.error for r in rows] == ["", "", ""] and {r.label for r in rows} <= {"blue", "red"}
    json.dumps([r.to_dict() for r in rows])  # plain data, writable as a results file
