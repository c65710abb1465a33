"""`imgcls tune`: a search from the command line, its outputs, and resuming it."""

from __future__ import annotations

import csv
import json

import yaml

from imgcls_gui.cli import main
from imgcls_gui.engine.config import RunConfig
from imgcls_gui.engine.training.search_space import DEFAULT_SPACE_YAML

from .engine.tiny_data import make_class_folders

TINY = ["--model", "mobilenet_v3_small", "--weights", "none", "--image-size", "32", "--batch-size", "8",
        "--workers", "0", "--device", "cpu", "--freeze", "head", "--quiet"]


def test_tune_writes_trials_best_config_and_importance_and_resumes(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("IMGCLS_CACHE_DIR", str(tmp_path / "cache"))
    data = make_class_folders(tmp_path / "data", per_class=6, size=32)
    space = tmp_path / "space.yaml"
    space.write_text("lr: {low: 1.0e-3, high: 1.0e-1, log: true}\nhidden_size: [0, 8]\n")
    out = tmp_path / "search"
    assert main(["tune", str(data), "--trials", "2", "--epochs", "1", "--space", str(space), "--out", str(out),
                 *TINY]) == 0
    err = capsys.readouterr().err
    assert "searching lr, hidden_size over 2 trials" in err and "best: trial" in err

    rows = list(csv.DictReader((out / "trials.csv").open()))
    assert [row["trial"] for row in rows] == ["0", "1"]
    for column in ("state", "pruned", "metric", "value", "duration_s", "epochs_run", "run_dir", "lr", "hidden_size"):
        assert all(row[column] != "" for row in rows), column
    assert {row["metric"] for row in rows} == {"accuracy"} and {row["pruned"] for row in rows} == {"false"}
    best = RunConfig.from_file(out / "best" / "config.yaml")
    best_row = max(rows, key=lambda row: (float(row["value"]), -int(row["trial"])))
    assert best == RunConfig.from_file(out / best_row["run_dir"] / "config.yaml")
    assert best.optim.lr == float(best_row["lr"]) and best.train.epochs == 1
    assert isinstance(json.loads((out / "importance.json").read_text()), dict)

    assert main(["tune", "--resume", str(out), "--lr", "0.1"]) == 2
    assert "--lr cannot be given with --resume" in capsys.readouterr().err
    assert main(["tune", str(data), "--out", str(out), *TINY]) == 2
    assert f"--resume {out}" in capsys.readouterr().err
    assert main(["tune", "--resume", str(out), "--quiet"]) == 0  # both trials finished: nothing runs again
    assert "2 already finished" in capsys.readouterr().err
    assert len(list(csv.DictReader((out / "trials.csv").open()))) == 2


def test_show_space_prints_the_default_and_a_bad_space_is_one_line(tmp_path, capsys):
    assert main(["tune", "--show-space"]) == 0
    assert yaml.safe_load(capsys.readouterr().out) == yaml.safe_load(DEFAULT_SPACE_YAML)
    space = tmp_path / "space.yaml"
    space.write_text("lr: {low: 0.1, high: 0.01}\n")
    data = make_class_folders(tmp_path / "data", per_class=3, size=32)
    assert main(["tune", str(data), "--space", str(space), "--out", str(tmp_path / "s"), *TINY]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [f"imgcls: error: {space}: lr: low (0.1) must be below high (0.01)."]
    assert not (tmp_path / "s").exists()
