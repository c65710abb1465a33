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


def test_demo_dataset_reports_its_progress_per_class(tmp_path):
    seen: list[tuple[int, int]] = []
    demo_dataset_dir(tmp_path / "demo", per_class=2, image_size=8, progress=lambda done, total: seen.append((done, total)))
    assert seen == [(d, 10) for d in range(1, 11)]


def test_demo_options_keep_imagenet_weights_when_cached():
    from imgcls_gui.engine.config import RunConfig
    from imgcls_gui.engine.training.demo import demo_run_config

    config = demo_run_config(is_cached=lambda name: True)
    assert (config.model, config.freeze, config.train) == (RunConfig().model, RunConfig().freeze, RunConfig().train)


def test_demo_options_never_mirror_digits():
    from imgcls_gui.engine.training.demo import demo_run_config

    for cached in (True, False):
        augment = demo_run_config(is_cached=lambda name: cached).augment
        assert not augment.hflip and not augment.vflip and augment.crop_scale_min >= 0.5


def test_demo_options_take_the_smallest_cached_backbone_when_the_default_is_not_cached():
    from imgcls_gui.engine.models.registry import get_backbone
    from imgcls_gui.engine.training.demo import demo_run_config

    config = demo_run_config(is_cached=lambda name: name in {"resnet50", "mobilenet_v3_small"})
    assert (config.model.name, config.model.weights) == ("mobilenet_v3_small", "imagenet")
    assert get_backbone("mobilenet_v3_small").params_millions < get_backbone("resnet50").params_millions


def test_demo_options_train_from_scratch_when_no_weights_are_cached():
    from imgcls_gui.engine.config import RunConfig
    from imgcls_gui.engine.training.demo import demo_run_config

    config = demo_run_config(is_cached=lambda name: False)
    assert config.model.weights == "none" and config.freeze.mode == "none"  # a frozen random body learns nothing
    assert config.model.name == RunConfig().model.name and 0 < config.model.image_size <= 64
    assert config.train == RunConfig().train  # nothing else changes
