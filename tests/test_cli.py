"""The `imgcls` command: training end to end, replay, resume, and one clear line for user mistakes."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from imgcls_gui.cli import main

from .engine.tiny_data import make_class_folders

TINY = ["--model", "mobilenet_v3_small", "--weights", "none", "--image-size", "32", "--batch-size", "8",
        "--workers", "0", "--device", "cpu", "--freeze", "none", "--quiet"]


def test_train_evaluate_and_replay(tmp_path, capsys):
    data = make_class_folders(tmp_path / "data", per_class=8)
    assert main(["train", str(data), "--out", str(tmp_path / "run"), "--epochs", "2", *TINY]) == 0
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert len(metrics["history"]) == 2 and "accuracy" in metrics["final"]

    report = tmp_path / "report.json"
    assert main(["evaluate", str(tmp_path / "run"), "--out", str(report)]) == 0
    saved = json.loads(report.read_text())
    assert saved["images"] == len(json.loads((tmp_path / "run" / "split.json").read_text())["val"])
    assert saved["scalars"]["accuracy"] == pytest.approx(metrics["final"]["accuracy"])

    assert main(["train", "--config", str(tmp_path / "run" / "config.yaml"), "--out", str(tmp_path / "again"), "--epochs", "1"]) == 0
    assert (tmp_path / "again" / "best.pt").is_file()


def test_existing_run_folder_is_not_overwritten(tmp_path, capsys):
    data = make_class_folders(tmp_path / "data", per_class=6)
    assert main(["train", str(data), "--out", str(tmp_path / "run"), "--epochs", "1", *TINY]) == 0
    assert main(["train", str(data), "--out", str(tmp_path / "run"), "--epochs", "1", *TINY]) == 2
    assert "--resume" in capsys.readouterr().err


@pytest.mark.parametrize(
    "case, fragment",
    [
        ("missing", "not found"),
        ("one-class", "class"),
        ("unknown-model", "unknown model"),
        ("bad-weights", "weights.pt"),
    ],
)
def test_user_mistakes_exit_non_zero_with_one_line(tmp_path, case, fragment):
    data = make_class_folders(tmp_path / "data", per_class=4, classes=("red",) if case == "one-class" else ("red", "blue"))
    args = ["train", str(data), "--out", str(tmp_path / "run"), "--epochs", "1", *TINY]
    if case == "missing":
        args[1] = str(tmp_path / "nowhere")
    if case == "unknown-model":
        args += ["--model", "resnet9000"]
    if case == "bad-weights":
        (tmp_path / "weights.pt").write_bytes(b"not a state dict")
        args += ["--weights", str(tmp_path / "weights.pt")]
    proc = subprocess.run([sys.executable, "-m", "imgcls_gui.cli", *args], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 2, proc.stderr
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("imgcls: error:"), proc.stderr
    assert fragment in lines[0].lower() or fragment in lines[0]
    assert "Traceback" not in proc.stderr


def test_models_lists_the_registry(capsys):
    assert main(["models"]) == 0
    out = capsys.readouterr().out
    for name in ("alexnet", "resnet18", "inception_v3", "convnext_tiny", "efficientnet_b0"):
        assert name in out


def test_inspect_prints_the_health_report(tmp_path, capsys):
    data = make_class_folders(tmp_path / "data", per_class=6)
    (data / "red" / "broken.png").write_bytes(b"not a png")
    (data / "blue" / "copy.png").write_bytes((data / "blue" / "000.png").read_bytes())
    assert main(["inspect", str(data)]) == 0
    out = capsys.readouterr().out
    assert "broken.png" in out and "copy.png" in out
