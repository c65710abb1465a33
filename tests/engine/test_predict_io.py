"""Finding image files, decoding them exactly like training evaluation, and writing result tables."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from imgcls_gui.engine.deploy import predict_io
from imgcls_gui.engine.errors import DatasetError, ImgclsError
from imgcls_gui.engine.data.images import load_image
from imgcls_gui.engine.deploy.predict import Prediction
from imgcls_gui.engine.deploy.predict_io import (decoded_batches, iter_image_paths, load_model_input, output_writer,
                                          write_csv, write_json, write_predictions)
from imgcls_gui.engine.data.preprocess import Preprocessing, preprocess_image

PRE = Preprocessing.for_size(64)  # resize 73, crop 64


def _photo(path: Path, size=(90, 70), mode="RGB", seed=0, **save) -> Path:
    rng = np.random.default_rng(seed)
    coarse = Image.fromarray(rng.integers(0, 256, (5, 5, 3), dtype=np.uint8)).resize(size, Image.BILINEAR)
    path.parent.mkdir(parents=True, exist_ok=True)
    coarse.convert(mode).save(path, **save)
    return path


def test_folders_are_walked_recursively_in_stable_order_with_any_case_and_unicode(tmp_path):
    _photo(tmp_path / "b" / "deep" / "x.JPG")
    _photo(tmp_path / "a" / "été" / "夏.png")
    _photo(tmp_path / "a" / "1.jpeg")
    _photo(tmp_path / "top.Tiff", save={})
    (tmp_path / "notes.txt").write_text("not an image")
    _photo(tmp_path / ".hidden" / "h.jpg")
    _photo(tmp_path / "a" / "._resource_fork.jpg")
    found = iter_image_paths([tmp_path])
    assert [p.relative_to(tmp_path).as_posix() for p in found] == ["top.Tiff", "a/1.jpeg", "a/été/夏.png", "b/deep/x.JPG"]
    assert iter_image_paths([tmp_path], recursive=False) == [tmp_path / "top.Tiff"]


def test_named_files_are_kept_whatever_their_extension_and_duplicates_dropped(tmp_path):
    image = _photo(tmp_path / "a.jpg")
    odd = tmp_path / "scan.dat"
    odd.write_bytes(b"whatever")
    assert iter_image_paths([odd, image, tmp_path, image]) == [odd, image]


def test_a_missing_input_is_an_error_naming_it(tmp_path):
    with pytest.raises(DatasetError, match="nope"):
        iter_image_paths([tmp_path / "nope"])


@pytest.mark.parametrize(
    ("name", "mode", "save"),
    [("rgb.jpg", "RGB", {"quality": 90}), ("gray.jpg", "L", {}), ("cmyk.jpg", "CMYK", {}), ("plain.png", "RGB", {})],
)
def test_decoding_gives_exactly_the_training_evaluation_tensor(tmp_path, name, mode, save):
    path = _photo(tmp_path / name, mode=mode, **save)
    expected = preprocess_image(load_image(path, draft_size=PRE.resize_size), PRE)
    got = load_model_input(path, PRE)
    assert got.shape == (3, 64, 64) and torch.equal(got, expected)


def test_small_jpegs_take_the_fast_decoder_and_honour_exif_orientation(tmp_path):
    path = tmp_path / "rotated.jpg"
    image = Image.open(_photo(tmp_path / "src.png", size=(100, 60)))
    exif = image.getexif()
    exif[0x0112] = 6  # "rotate 90° clockwise to display"
    image.save(path, exif=exif, quality=95)
    fast = predict_io._decode_small_jpeg(path, PRE.resize_size)
    assert fast is not None and tuple(fast.shape) == (3, 100, 60)  # upright: taller than wide
    assert torch.equal(load_model_input(path, PRE), preprocess_image(load_image(path, draft_size=PRE.resize_size), PRE))


def test_big_jpegs_decode_in_draft_mode_as_training_evaluation_does(tmp_path):
    path = _photo(tmp_path / "big.jpg", size=(400, 300), quality=90)  # shorter side >= 2 x 73: draft shrinks it
    assert predict_io._decode_small_jpeg(path, PRE.resize_size) is None
    draft = preprocess_image(load_image(path, draft_size=PRE.resize_size), PRE)
    assert torch.equal(load_model_input(path, PRE), draft)
    full = preprocess_image(load_image(path), PRE)
    assert not torch.equal(draft, full) and (draft - full).abs().mean().item() < 0.05  # close, not identical


def test_batches_keep_input_order_and_report_unreadable_files(tmp_path):
    good = [_photo(tmp_path / f"g{i}.jpg", seed=i) for i in range(3)]
    empty = tmp_path / "empty.jpg"
    empty.write_bytes(b"")
    text = tmp_path / "text.png"
    text.write_text("hello")
    truncated = tmp_path / "cut.jpg"
    truncated.write_bytes(good[0].read_bytes()[:300])
    paths = [good[0], empty, text, good[1], truncated, good[2]]
    batches = list(decoded_batches(paths, PRE, batch_size=2, workers=2))
    assert [b.paths for b in batches] == [tuple(paths[0:2]), tuple(paths[2:4]), tuple(paths[4:6])]
    assert [b.ok for b in batches] == [(0,), (1,), (1,)]
    assert [sorted(b.errors) for b in batches] == [[1], [0], [0]]
    assert "empty" in batches[0].errors[1] and "truncated" in batches[2].errors[0]
    assert torch.equal(batches[1].tensor[0], load_model_input(good[1], PRE))

    only_bad = list(decoded_batches([empty, text], PRE, batch_size=4))
    assert len(only_bad) == 1 and only_bad[0].tensor is None and sorted(only_bad[0].errors) == [0, 1]


def test_batch_size_must_be_positive():
    with pytest.raises(ImgclsError, match="batch size"):
        next(decoded_batches([], PRE, 0))


def _predictions(tmp_path: Path) -> list[Prediction]:
    return [
        Prediction(tmp_path / "été" / "a,b.jpg", "bee", 0.75, (("bee", 0.75), ("ant", 0.2)), ("bee",)),
        Prediction(tmp_path / "bad.jpg", "", None, (), (), "not an image"),
        Prediction(tmp_path / "c.jpg", "ant;bee", 0.9, (("ant", 0.9),), ("ant", "bee")),
    ]


def test_csv_has_one_row_per_file_with_top_k_and_error_columns(tmp_path):
    out = tmp_path / "out.csv"
    write_csv(_predictions(tmp_path), out, top_k=2)
    rows = list(csv.reader(out.open(encoding="utf-8")))
    assert rows[0] == ["path", "label", "score", "top1_label", "top1_prob", "top2_label", "top2_prob", "error"]
    assert rows[1] == [str(tmp_path / "été" / "a,b.jpg"), "bee", "0.750000", "bee", "0.750000", "ant", "0.200000", ""]
    assert rows[2] == [str(tmp_path / "bad.jpg"), "", "", "", "", "", "", "not an image"]
    assert rows[3][:5] == [str(tmp_path / "c.jpg"), "ant;bee", "0.900000", "ant", "0.900000"] and rows[3][5:] == ["", "", ""]
    assert [p.name for p in tmp_path.iterdir()] == ["out.csv"]  # written through a temp file, none left


def test_json_has_the_same_fields(tmp_path):
    out = tmp_path / "out.json"
    write_predictions(_predictions(tmp_path), out)
    data = json.loads(out.read_text(encoding="utf-8"))
    assert [d["label"] for d in data] == ["bee", "", "ant;bee"] and data[1]["error"] == "not an image"
    assert data[0]["top_k"] == [{"label": "bee", "prob": 0.75}, {"label": "ant", "prob": 0.2}]
    assert data[0]["path"].endswith("a,b.jpg") and data[2]["labels_over_threshold"] == ["ant", "bee"]


def test_output_format_follows_the_extension(tmp_path):
    assert output_writer(tmp_path / "x.CSV") is write_csv and output_writer("y.json") is write_json
    with pytest.raises(ImgclsError, match=r"\.csv or \.json"):
        output_writer(tmp_path / "x.txt")
