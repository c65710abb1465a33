"""`imgcls export` and `imgcls predict`: files written, tables, sorting, and exit codes for mistakes."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from imgcls_gui.cli import main

from .engine.export_fixtures import CLASSES, save_run, write_photos


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    root = tmp_path_factory.mktemp("cli")
    run = save_run(root / "run")
    assert main(["export", str(run), "--out", str(root / "m.onnx")]) == 0
    return run, root / "m.onnx"


@pytest.fixture
def folder(tmp_path) -> Path:
    """Five photos in nested folders, one with a unicode name, plus one unreadable file."""
    write_photos(tmp_path / "in", 3, seed=1)
    write_photos(tmp_path / "in" / "sub" / "déjà vu", 2, ext=".PNG", seed=2)
    (tmp_path / "in" / "sub" / "broken.jpg").write_bytes(b"\xff\xd8\xff garbage")
    return tmp_path / "in"


def _rows(path: Path) -> list[dict[str, str]]:
    return list(csv.DictReader(path.open(encoding="utf-8")))


def test_export_onnx_torchscript_and_bundle(exported, tmp_path, capsys):
    run, onnx_path = exported
    assert onnx_path.is_file()
    assert main(["export", str(run), "--format", "torchscript", "--out", str(tmp_path / "deep" / "m.pt"),
                 "--bundle", str(tmp_path / "bundle")]) == 0
    out = capsys.readouterr().out
    assert out.count("largest probability difference vs PyTorch") == 2 and "bundle ready" in out
    assert (tmp_path / "deep" / "m.pt").is_file() and (tmp_path / "bundle" / "predict.py").is_file()


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["export", "{run}"], "nothing to write"),
        (["export", "{run}", "--out", "{tmp}/model.pt"], "must end in .onnx"),
        (["export", "{tmp}/no-such-run", "--out", "{tmp}/m.onnx"], "checkpoint file not found"),
        (["predict", "{tmp}/absent.onnx", "{photos}", "--out", "{tmp}/r.csv"], "not found"),
        (["predict", "{onnx}", "{tmp}/no-such-folder", "--out", "{tmp}/r.csv"], "no such file or folder"),
        (["predict", "{onnx}", "{photos}", "--out", "{tmp}/r.txt"], ".csv or .json"),
        (["predict", "{onnx}", "{photos}"], "nothing to do"),
        (["predict", "{onnx}", "{photos}", "--out", "{tmp}/r.csv", "--move"], "only apply with --sort-into"),
        (["predict", "{onnx}", "{photos}", "--out", "{tmp}/r.csv", "--threshold", "1.5"], "between 0 and 1"),
        (["predict", "{onnx}", "{empty}", "--out", "{tmp}/r.csv"], "no image files found"),
    ],
)
def test_user_mistakes_exit_2_with_one_clear_line(exported, tmp_path, capsys, argv, message):
    run, onnx_path = exported
    photos = tmp_path / "photos"
    write_photos(photos, 1)
    (tmp_path / "empty").mkdir()
    values = {"run": run, "onnx": onnx_path, "tmp": tmp_path, "photos": photos, "empty": tmp_path / "empty"}
    assert main([a.format(**values) for a in argv]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("imgcls: error:") and message in err and len(err.splitlines()) == 1
    assert not (tmp_path / "r.csv").exists()


def test_predict_writes_one_csv_row_per_file_including_unreadable_ones(exported, folder, tmp_path, capsys):
    _, onnx_path = exported
    out = tmp_path / "results.csv"
    assert main(["predict", str(onnx_path), str(folder), "--out", str(out), "--top-k", "2", "--batch-size", "2"]) == 0
    rows = _rows(out)
    assert list(rows[0]) == ["path", "label", "score", "top1_label", "top1_prob", "top2_label", "top2_prob", "error"]
    assert len(rows) == 6 and any("déjà vu" in r["path"] for r in rows)
    bad = [r for r in rows if r["error"]]
    assert [Path(r["path"]).name for r in bad] == ["broken.jpg"] and bad[0]["label"] == ""
    for row in rows:
        if not row["error"]:
            assert row["label"] == row["top1_label"] in CLASSES
            assert float(row["top1_prob"]) >= float(row["top2_prob"])
    err = capsys.readouterr().err
    assert "img/s" in err and "5 of 6 images classified, 1 unreadable" in err


def test_predict_json_with_checkpoint_matches_onnx_csv(exported, folder, tmp_path):
    run, onnx_path = exported
    assert main(["predict", str(onnx_path), str(folder), "--out", str(tmp_path / "a.csv"), "--quiet"]) == 0
    assert main(["predict", str(run), str(folder), "--out", str(tmp_path / "b.json"), "--quiet"]) == 0
    from_json = json.loads((tmp_path / "b.json").read_text(encoding="utf-8"))
    assert [r["label"] for r in _rows(tmp_path / "a.csv")] == [r["label"] for r in from_json]
    assert len(from_json[0]["top_k"]) == 3


def test_sort_into_with_clashes_and_min_confidence(exported, folder, tmp_path, capsys):
    _, onnx_path = exported
    dest = tmp_path / "sorted"
    argv = ["predict", str(onnx_path), str(folder), "--sort-into", str(dest), "--quiet"]
    assert main([*argv, "--min-confidence", "0.0"]) == 0
    assert main([*argv, "--min-confidence", "1.0"]) == 0  # second run: everything is "uncertain"
    first = sorted(p.relative_to(dest).as_posix() for p in dest.rglob("*") if p.is_file() and p.parent.name != "uncertain")
    assert len(first) == 5 and all(p.split("/")[0] in CLASSES for p in first)
    assert len(list((dest / "uncertain").iterdir())) == 5
    assert main([*argv, "--min-confidence", "0.0"]) == 0  # same names again: suffixed, nothing overwritten
    assert len([p for p in dest.rglob("*") if p.is_file()]) == 15
    assert any(p.stem.endswith("-1") for p in dest.rglob("*.jpg"))
    assert "copied 5 images" in capsys.readouterr().err
    assert len(list(folder.rglob("*.*"))) == 6  # copies: the originals stay


def test_predict_exits_1_when_no_file_could_be_read(exported, tmp_path):
    _, onnx_path = exported
    bad = tmp_path / "bad.jpg"
    bad.write_text("no image")
    assert main(["predict", str(onnx_path), str(bad), "--out", str(tmp_path / "r.csv"), "--quiet"]) == 1
    assert _rows(tmp_path / "r.csv")[0]["error"]


@pytest.mark.slow
def test_train_export_predict_end_to_end(tmp_path):
    from .engine.tiny_data import make_class_folders

    data = make_class_folders(tmp_path / "data", classes=("red", "green", "blue"), per_class=6)
    tiny = ["--model", "mobilenet_v3_small", "--weights", "none", "--image-size", "32", "--batch-size", "8",
            "--workers", "0", "--device", "cpu", "--freeze", "none", "--quiet", "--epochs", "1"]
    assert main(["train", str(data), "--out", str(tmp_path / "run"), *tiny]) == 0
    assert main(["export", str(tmp_path / "run"), "--out", str(tmp_path / "m.onnx")]) == 0
    assert main(["predict", str(tmp_path / "m.onnx"), str(data), "--out", str(tmp_path / "o.csv"), "--quiet"]) == 0
    assert main(["predict", str(tmp_path / "run"), str(data), "--out", str(tmp_path / "c.csv"), "--quiet"]) == 0
    onnx_rows, ckpt_rows = _rows(tmp_path / "o.csv"), _rows(tmp_path / "c.csv")
    assert len(onnx_rows) == 18 and [r["label"] for r in onnx_rows] == [r["label"] for r in ckpt_rows]
    for a, b in zip(onnx_rows, ckpt_rows):
        assert float(a["score"]) == pytest.approx(float(b["score"]), abs=1e-4)
