"""Every kind of broken or odd image file, imported, checked, trained on and predicted on in one dataset.

A refused file is named with its reason at each step; an odd but valid file is used like any other;
either way the other images keep working.
"""

from __future__ import annotations

import csv
import warnings
from pathlib import Path

import numpy as np
import pytest
from PIL import ImageFile

from imgcls_gui import cli
from imgcls_gui.engine.data import images
from imgcls_gui.engine.data.loading import UnreadableImageWarning
from imgcls_gui.engine.data.datasets import load_dataset
from imgcls_gui.engine.errors import ImageReadError
from imgcls_gui.engine.data.health import health_report
from imgcls_gui.engine.data.images import check_image, load_image
from imgcls_gui.engine.deploy.predict import Predictor
from imgcls_gui.engine.deploy.predict_io import load_model_input
from imgcls_gui.engine.data.preprocess import Preprocessing, eval_transform
from imgcls_gui.engine.training.trainer import Trainer

from ..engine.tiny_data import make_class_folders
from .corpus import IMAGE_CASES, BadImage, write_images
from .helpers import permissions_enforced, tiny_config

# The corpus holds a FIFO and /dev/zero: a regression that opens them must fail, not hang (thread method: the
# reader may be stuck in a worker thread).
pytestmark = pytest.mark.timeout(600, method="thread")

CASES = {case.name: case for case in IMAGE_CASES}
NOT_A_SAMPLE = {"folder-named-jpeg"}  # a folder is walked into by importers, never listed as an image


@pytest.fixture(scope="module")
def enforced():
    with permissions_enforced() as ok:
        yield ok


def expected_kind(case: BadImage, enforced: bool) -> str | None:
    if case.name == "no-read-permission" and not enforced:
        pytest.skip("cannot make file permissions bind as root here")
    return case.refused_as


@pytest.fixture(scope="module")
def dataset(tmp_path_factory, enforced) -> tuple[Path, dict[str, Path]]:
    """data/{red,blue}/ with 10 good images each, and the whole corpus inside data/red/odd/."""
    root = tmp_path_factory.mktemp("bad-images") / "data"
    make_class_folders(root, classes=("red", "blue"), per_class=10, size=32)
    return root, write_images(root / "red" / "odd")


@pytest.fixture(scope="module")
def trained(dataset, tmp_path_factory, enforced):
    """One epoch on the dataset with every corpus file in it; returns (result, warning messages)."""
    root, _ = dataset
    run_dir = tmp_path_factory.mktemp("bad-images-run") / "run"
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = Trainer(tiny_config(root, epochs=1, batch_size=8), run_dir).fit()
    messages = [str(w.message) for w in caught if issubclass(w.category, UnreadableImageWarning)]
    return result, messages


@pytest.mark.parametrize("name", CASES)
def test_each_file_is_refused_with_its_reason_or_loads_as_rgb(dataset, enforced, name):
    case, path = CASES[name], dataset[1][name]
    kind = expected_kind(case, enforced)
    problem = check_image(path)
    if kind is None:
        assert problem is None, problem
        image = load_image(path)
        assert image.mode == "RGB" and image.width >= 1 and image.height >= 1
        return
    assert problem is not None and problem.kind == kind and problem.path == str(path)
    with pytest.raises(ImageReadError) as info:
        load_image(path)
    message = str(info.value)
    assert message.startswith(str(path)) and problem.reason in message and len(problem.reason) > 10


def test_import_lists_every_file_and_the_health_report_names_each_bad_one(dataset, enforced):
    root, paths = dataset
    ds = load_dataset(root)
    listed = {s.path for s in ds.samples}
    assert ds.classes == ["blue", "red"] and len(ds.samples) == 20 + len(paths) + 1 - len(NOT_A_SAMPLE)  # +1: original.png
    assert {paths[name] for name in CASES if name not in NOT_A_SAMPLE} <= listed
    report = health_report(ds)
    found = {Path(p.path): p.kind for p in report.problems}
    expected = {paths[name]: CASES[name].refused_as for name in CASES
                if CASES[name].refused_as and name not in NOT_A_SAMPLE and (enforced or name != "no-read-permission")}
    assert found == expected
    copy = paths["duplicate-file"]
    assert [sorted(group) for group in report.duplicates] == [sorted([str(copy), str(copy.with_name("original.png"))])]
    text = report.to_text()
    assert all(str(path) in text for path in expected)


def test_training_uses_every_good_file_and_names_every_bad_one(dataset, trained, enforced):
    result, messages = trained
    _, paths = dataset
    assert not result.stopped and result.epochs_run == 1 and (result.run_dir / "best.pt").is_file()
    bad = [name for name in CASES if CASES[name].refused_as and name not in NOT_A_SAMPLE
           and (enforced or name != "no-read-permission")]
    for name in bad:
        hits = [m for m in messages if m.startswith(str(paths[name]))]
        assert len(hits) == 1, (name, hits)  # warned once, then skipped for the rest of the run
        assert "another image is used in its place" in hits[0]
    good = {str(paths[name]) for name in CASES if not CASES[name].refused_as}
    assert not [m for m in messages if any(m.startswith(g + ":") for g in good)]


@pytest.fixture(scope="module")
def predictions(dataset, trained, enforced):
    _, paths = dataset
    predictor = Predictor.load(trained[0].run_dir)
    results = predictor.predict(list(paths.values()), batch_size=4, top_k=2)
    return predictor, dict(zip(paths, results))


@pytest.mark.parametrize("name", CASES)
def test_prediction_gives_each_file_a_row_with_a_label_or_its_reason(dataset, predictions, enforced, name):
    case, path = CASES[name], dataset[1][name]
    kind = expected_kind(case, enforced)
    predictor, by_name = predictions
    row = by_name[name]
    assert row.path == path
    if kind is None:
        assert row.error == "" and row.label in predictor.classes and 0.0 <= row.score <= 1.0
    else:
        assert row.error and row.label == "" and row.score is None
        assert row.error == check_image(path).reason  # the same words as the health report


def test_cli_predict_over_the_corpus_writes_one_row_per_file_and_exits_0(dataset, trained, enforced, tmp_path, capsys):
    root, paths = dataset
    out = tmp_path / "predictions.csv"
    code = cli.main(["predict", str(trained[0].run_dir), str(root / "red" / "odd"), "--out", str(out), "--quiet"])
    assert code == 0
    rows = {Path(row["path"]): row for row in csv.DictReader(out.open(encoding="utf-8"))}
    refused = {paths[n] for n in CASES if CASES[n].refused_as and n not in NOT_A_SAMPLE
               and (enforced or n != "no-read-permission")}
    assert {p for p, row in rows.items() if row["error"]} == refused
    assert all(rows[p]["label"] for p in rows if p not in refused)
    assert f"{len(refused)} unreadable" in capsys.readouterr().err


def test_exif_rotated_photo_is_upright_for_training_and_prediction(dataset):
    path = dataset[1]["exif-rotated-jpeg"]
    image = np.asarray(load_image(path), dtype=float)
    assert image.shape[:2] == (48, 24)  # stored 48 x 24 landscape, upright it is a portrait
    top, bottom = image[:20].mean(axis=(0, 1)), image[-20:].mean(axis=(0, 1))
    assert top[0] > 150 > top[2] and bottom[2] > 150 > bottom[0]  # red above blue, as the label was given
    pre = Preprocessing.for_size(24, (0.0, 0.0, 0.0), (1.0, 1.0, 1.0))
    for tensor in (load_model_input(path, pre), eval_transform(pre)(load_image(path, draft_size=pre.resize_size))):
        assert tensor[0, :8].mean() > 0.6 > tensor[2, :8].mean()
        assert tensor[2, -8:].mean() > 0.6 > tensor[0, -8:].mean()


def test_decompression_bomb_is_refused_from_its_header_without_decoding(dataset, monkeypatch):
    decoded: list[tuple[int, int]] = []
    original = ImageFile.ImageFile.load

    def recording_load(self):
        decoded.append(self.size)
        return original(self)

    monkeypatch.setattr(ImageFile.ImageFile, "load", recording_load)
    path = dataset[1]["decompression-bomb"]
    assert check_image(path).kind == "too-large"
    pre = Preprocessing.for_size(32, (0.5, 0.5, 0.5), (0.5, 0.5, 0.5))
    with pytest.raises(ImageReadError, match="refused without decoding"):
        load_model_input(path, pre)
    assert decoded == []
    assert check_image(dataset[1]["one-pixel"]) is None and decoded  # the recorder does see real decodes
    assert all(w * h <= images.MAX_IMAGE_PIXELS for w, h in decoded)
