"""`imgcls explain`: overlay PNGs and their index, and the mistakes it refuses."""

from __future__ import annotations

import csv

import pytest
from PIL import Image

from imgcls_gui.cli import main
from imgcls_gui.commands.explain import INDEX_COLUMNS, INDEX_FILE

from .engine.export_fixtures import CLASSES, save_run, write_photos


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    return save_run(tmp_path_factory.mktemp("cli-explain") / "run")


def test_explain_writes_one_overlay_per_image_and_an_index(run, tmp_path, capsys):
    photos = write_photos(tmp_path / "in", 2, size=(48, 40))
    (tmp_path / "in" / "broken.jpg").write_bytes(b"\xff\xd8\xff garbage")
    out = tmp_path / "out"

    assert main(["explain", str(run), str(tmp_path / "in"), "--out", str(out), "--quiet"]) == 0

    rows = list(csv.DictReader((out / INDEX_FILE).open(encoding="utf-8")))
    assert tuple(rows[0]) == INDEX_COLUMNS
    good = [r for r in rows if not r["error"]]
    assert sorted(r["path"] for r in good) == sorted(map(str, photos))
    assert all(r["label"] in CLASSES and r["method"] == "gradcam" and 0 <= float(r["probability"]) <= 1 for r in good)
    for row in good:
        with Image.open(out / row["overlay"]) as image:
            assert image.format == "PNG" and image.size == (48, 40)
    assert [r["path"].endswith("broken.jpg") for r in rows if r["error"]] == [True]
    assert "2 overlay(s) of 2 image(s)" in capsys.readouterr().err

    # a second run into the same folder would mix overlays: refused unless --force; --label picks classes
    assert main(["explain", str(run), str(photos[0]), "--out", str(out)]) == 2
    assert "already holds other files" in capsys.readouterr().err
    assert main(["explain", str(run), str(photos[0]), "--out", str(out), "--force", "--quiet",
                 "--label", "ant", "--label", "bee", "--method", "eigencam"]) == 0
    labels = [r["label"] for r in csv.DictReader((out / INDEX_FILE).open(encoding="utf-8"))]
    assert labels == ["ant", "bee"]


def test_explain_refuses_an_exported_model_by_name(run, tmp_path, capsys):
    photos = write_photos(tmp_path / "in", 1)
    (tmp_path / "m.onnx").write_bytes(b"x")
    assert main(["explain", str(tmp_path / "m.onnx"), str(photos[0]), "--out", str(tmp_path / "o")]) == 2
    assert "run folder" in capsys.readouterr().err
