"""`imgcls diagnose`: issues.csv has the promised columns, summary.json the counts; a run's backbone can be used;
existing outputs are not replaced without --force."""

from __future__ import annotations

import csv
import json

from PIL import Image

from imgcls_gui.cli import main
from imgcls_gui.engine import ISSUE_COLUMNS
from imgcls_gui.engine.config import FreezeConfig, ModelConfig
from imgcls_gui.engine.training.trainer import Trainer

from .engine.test_training import tiny_config
from .engine.tiny_data import make_class_folders

TINY = ["--model", "resnet18", "--weights", "none", "--image-size", "32", "--workers", "0", "--device", "cpu",
        "--folds", "3", "--quiet"]


def test_diagnose_writes_issues_and_summary_with_the_promised_columns(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("IMGCLS_CACHE_DIR", str(tmp_path / "cache"))
    data = make_class_folders(tmp_path / "data", classes=("red", "green", "blue"), per_class=10)
    Image.new("RGB", (40, 40), (128, 128, 128)).save(data / "red" / "zz-flat.png")  # an outlier
    (data / "green" / "004.png").rename(data / "red" / "004-was-green.png")  # a flipped label
    out = tmp_path / "report"
    assert main(["diagnose", str(data), "--out", str(out), *TINY]) == 0
    with open(out / "issues.csv", newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert tuple(rows[0]) == ISSUE_COLUMNS == ("path", "kind", "given_label", "suggested_label", "score", "other_path")
    assert {row["kind"] for row in rows} <= {"label", "duplicate", "outlier"}
    outlier = next(row for row in rows if row["kind"] == "outlier")
    assert outlier["path"].endswith("zz-flat.png") and outlier["given_label"] == "red"
    flipped = next(row for row in rows if row["path"].endswith("004-was-green.png"))
    assert (flipped["kind"], flipped["given_label"], flipped["suggested_label"]) == ("label", "red", "green")
    assert all(0 <= float(row["score"]) <= 2 for row in rows)
    summary = json.loads((out / "summary.json").read_text())
    assert summary["images"] == 31 and summary["labelled"] == 31 and summary["folds"] == 3
    assert summary["issues"]["outlier"] == 1 and summary["issues"]["label"] >= 1
    assert "likely label error" in capsys.readouterr().out

    assert main(["diagnose", str(data), "--out", str(out), *TINY]) == 2  # would replace issues.csv
    assert "--force" in capsys.readouterr().err


def test_diagnose_takes_a_runs_backbone(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("IMGCLS_CACHE_DIR", str(tmp_path / "cache"))
    data = make_class_folders(tmp_path / "data", per_class=6)
    cfg = tiny_config(data, epochs=1)
    cfg = cfg.replace(model=ModelConfig(name="resnet18", weights="none", image_size=32), freeze=FreezeConfig(mode="head"))
    Trainer(cfg, tmp_path / "run").fit()
    assert main(["diagnose", str(data), "--run", str(tmp_path / "run"), "--out", str(tmp_path / "out"), *TINY]) == 0
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert summary["backbone"] == "resnet18 from run run"
