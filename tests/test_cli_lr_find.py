"""`imgcls lr-find`: train's model and freezing flags, a sweep on cached features, JSON + PNG written, the
suggestions printed; a busy --out folder and a bad sweep refused with one line."""

from __future__ import annotations

import json

from PIL import Image

from imgcls_gui.cli import main

from .engine.tiny_data import make_class_folders

TINY = ["--model", "mobilenet_v3_small", "--weights", "none", "--image-size", "32", "--batch-size", "8",
        "--workers", "0", "--device", "cpu", "--quiet"]


def test_lr_find_writes_json_and_plot_and_prints_the_suggestions(tmp_path, capsys):
    data = make_class_folders(tmp_path / "data", per_class=8)
    out = tmp_path / "sweep"
    code = main(["lr-find", str(data), "--out", str(out), *TINY, "--freeze", "head", "--optimizer", "sgd",
                 "--lr", "0.02", "--start-lr", "1e-4", "--end-lr", "1e4", "--steps", "40",
                 "--feature-cache-dir", str(tmp_path / "features")])
    printed = capsys.readouterr().out
    assert code == 0
    saved = json.loads((out / "lr_find.json").read_text())
    assert saved["on_features"] and saved["freeze"] == "head" and saved["optimizer"] == "sgd"
    assert saved["current_lr"] == 0.02 and saved["lrs"][0] == 1e-4 and len(saved["lrs"]) <= 40
    assert set(saved["suggestions"]) == {"valley", "steepest", "minimum/10"}
    with Image.open(out / "lr_find.png") as plot:
        assert plot.format == "PNG"
    assert "valley" in printed and "(recommended)" in printed
    assert f"--lr {saved['recommended']:.2e}" in printed  # the rate to train with, as a flag


def test_lr_find_refuses_a_busy_folder_and_a_sweep_that_cannot_run(tmp_path, capsys):
    data = make_class_folders(tmp_path / "data", per_class=4)
    busy = tmp_path / "busy"
    busy.mkdir()
    (busy / "notes.txt").write_text("mine")
    assert main(["lr-find", str(data), "--out", str(busy), *TINY]) == 2
    assert "--force" in capsys.readouterr().err
    assert main(["lr-find", str(data), "--out", str(tmp_path / "new"), *TINY, "--start-lr", "1", "--end-lr", "0.1"]) == 2
    assert "sweep" in capsys.readouterr().err
    assert main(["lr-find", "--out", str(tmp_path / "new")]) == 2
    assert "no dataset" in capsys.readouterr().err
