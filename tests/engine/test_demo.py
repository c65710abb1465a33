from __future__ import annotations

from collections import Counter

import pytest
from PIL import Image

from imgcls_gui.engine.data.datasets import load_dataset, require_trainable
from imgcls_gui.engine.data.demo import DEMO_FOLDER_NAME, demo_dataset_dir
from imgcls_gui.engine.errors import DatasetError
from imgcls_gui.engine.data.health import health_report


def test_demo_dataset_is_a_trainable_folder_of_digits(tmp_path):
    folder = demo_dataset_dir(tmp_path / "demo", per_class=12, image_size=24)
    assert folder == tmp_path / "demo"
    ds = load_dataset(folder)
    require_trainable(ds)
    assert ds.format == "folder" and ds.classes == [str(d) for d in range(10)]
    assert Counter(s.labels[0] for s in ds.samples) == {str(d): 12 for d in range(10)}
    with Image.open(ds.samples[0].path) as image:
        assert image.size == (24, 24) and image.mode == "RGB"
    report = health_report(ds)
    assert report.problems == () and report.duplicates == ()
    assert [p.name for p in tmp_path.iterdir()] == ["demo"]  # no staging folder left behind


def test_second_call_returns_the_same_folder_without_rewriting(tmp_path):
    folder = demo_dataset_dir(tmp_path / "demo", per_class=3)
    stamps = {p: p.stat().st_mtime_ns for p in folder.rglob("*.png")}
    assert len(stamps) == 30
    assert demo_dataset_dir(tmp_path / "demo", per_class=3) == folder
    assert {p: p.stat().st_mtime_ns for p in folder.rglob("*.png")} == stamps


def test_default_location_honours_imgcls_data_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("IMGCLS_DATA_DIR", str(tmp_path / "data"))
    folder = demo_dataset_dir(per_class=2)
    assert folder == tmp_path / "data" / DEMO_FOLDER_NAME
    assert len(load_dataset(folder).samples) == 20


def test_an_existing_empty_folder_is_filled_but_a_foreign_one_is_left_alone(tmp_path):
    (tmp_path / "empty").mkdir()
    assert len(load_dataset(demo_dataset_dir(tmp_path / "empty", per_class=1)).samples) == 10
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "thesis.txt").write_text("keep me")
    with pytest.raises(DatasetError, match="not an imgcls demo folder"):
        demo_dataset_dir(tmp_path / "mine", per_class=1)
    assert [p.name for p in (tmp_path / "mine").iterdir()] == ["thesis.txt"]
