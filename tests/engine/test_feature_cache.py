from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from imgcls_gui.engine import events as ev
from imgcls_gui.engine.config import AugmentConfig, DataConfig, FreezeConfig, ModelConfig, TrainConfig
from imgcls_gui.engine.training.feature_cache import FeatureStore, backbone_is_frozen, cached_features
from imgcls_gui.engine.models.freezing import apply_freeze_mode
from imgcls_gui.engine.models.build import build_model
from imgcls_gui.engine.training.trainer import Trainer

from .test_training import Recorder, tiny_config
from .tiny_data import make_class_folders


def head_config(data, tmp_path, *, cache: bool, views: int = 0, epochs: int = 3):
    cfg = tiny_config(data, epochs=epochs)
    return cfg.replace(
        model=ModelConfig(name="resnet18", weights="none", image_size=32),
        augment=AugmentConfig(random_resized_crop=False, hflip=False),  # train view == eval view
        freeze=FreezeConfig(mode="head"),
        train=TrainConfig(**{**cfg.train.__dict__, "feature_cache": cache, "feature_views": views,
                             "feature_cache_dir": str(tmp_path / "cache")}),
    )


def test_backbone_is_frozen_only_when_everything_below_the_head_is():
    model = build_model(ModelConfig(name="resnet18", weights="none"), 2)
    apply_freeze_mode(model, "head")
    assert backbone_is_frozen(model)
    apply_freeze_mode(model, "first-n", 2)
    assert not backbone_is_frozen(model)


def test_cached_head_training_matches_the_uncached_path(tmp_path, monkeypatch):
    from imgcls_gui.engine.data import preprocess
    from imgcls_gui.engine.data import transforms

    # Same images in, same features out: the uncached path sees exactly the eval view too.
    monkeypatch.setattr(transforms, "train_transform", lambda pre, aug: preprocess.eval_transform(pre))
    data = make_class_folders(tmp_path / "data")
    plain = Trainer(head_config(data, tmp_path, cache=False), tmp_path / "plain").fit()
    recorder = Recorder()
    cached = Trainer(head_config(data, tmp_path, cache=True), tmp_path / "cached", callbacks=[recorder]).fit()
    assert any("features ready" in e.message for e in recorder.of(ev.LogLine))
    for a, b in zip(plain.history, cached.history):
        assert b["train_loss"] == pytest.approx(a["train_loss"], rel=1e-3, abs=1e-4)
        assert b["val_loss"] == pytest.approx(a["val_loss"], rel=1e-3, abs=1e-4)
        assert b["accuracy"] == a["accuracy"]


def test_second_run_reads_features_from_the_cache(tmp_path):
    data = make_class_folders(tmp_path / "data", per_class=8)
    Trainer(head_config(data, tmp_path, cache=True, views=2, epochs=1), tmp_path / "a").fit()
    files = sorted((tmp_path / "cache").glob("*.npy"))
    assert len(files) == 3  # eval view (val) + 2 augmented views (train)
    recorder = Recorder()
    Trainer(head_config(data, tmp_path, cache=True, views=2, epochs=1), tmp_path / "b", callbacks=[recorder]).fit()
    ready = [e.message for e in recorder.of(ev.LogLine) if "features ready" in e.message]
    assert ready and "(0 computed" in ready[0]


def test_augmented_views_differ_but_are_reproducible(tmp_path):
    data = make_class_folders(tmp_path / "data", per_class=6)
    cfg = head_config(data, tmp_path, cache=True, views=2, epochs=1)
    cfg = cfg.replace(augment=AugmentConfig(random_resized_crop=True, hflip=True))
    Trainer(cfg, tmp_path / "a").fit()
    arrays = {p.name: np.load(p) for p in (tmp_path / "cache").glob("*.npy")}
    shapes = {a.shape for a in arrays.values()}
    train_views = [a for a in arrays.values() if a.shape[0] == max(s[0] for s in shapes)]
    assert len(train_views) == 2 and not np.allclose(train_views[0], train_views[1])
    first = {k: v.copy() for k, v in arrays.items()}
    for p in (tmp_path / "cache").glob("*"):
        p.unlink()
    Trainer(cfg, tmp_path / "b").fit()
    again = {p.name: np.load(p) for p in (tmp_path / "cache").glob("*.npy")}
    assert again.keys() == first.keys()
    assert all(np.allclose(again[k], first[k], atol=1e-3) for k in first)


def test_store_computes_only_missing_rows_and_honours_the_ram_budget(tmp_path):
    store = FeatureStore(tmp_path, "k")
    calls: list[list[int]] = []

    def compute(idx):
        calls.append(list(idx))
        return np.array([[float(i), float(i)] for i in idx], dtype=np.float16)

    rows, fresh = cached_features(store, ["a", "b"], compute, ram_budget_bytes=1 << 20)
    assert fresh == 2 and rows.tolist() == [[0, 0], [1, 1]]
    rows, fresh = cached_features(store, ["b", "c", "a"], lambda idx: compute([5 for _ in idx]), ram_budget_bytes=1 << 20)
    assert fresh == 1 and rows.tolist() == [[1, 1], [5, 5], [0, 0]]
    mapped, _ = cached_features(store, ["c", "a"], compute, ram_budget_bytes=1)
    assert not isinstance(mapped, np.ndarray) and [list(mapped[i]) for i in range(2)] == [[5, 5], [0, 0]]
    assert json.loads((tmp_path / "k.json").read_text()) == ["a", "b", "c"]


def test_two_phase_uses_the_cache_then_the_full_pipeline(tmp_path):
    data = make_class_folders(tmp_path / "data", per_class=8)
    cfg = head_config(data, tmp_path, cache=True, epochs=2).replace(freeze=FreezeConfig(mode="two-phase", head_epochs=1))
    recorder = Recorder()
    Trainer(cfg, tmp_path / "run", callbacks=[recorder]).fit()
    images_per_s = [e.metrics["images_per_s"] for e in recorder.of(ev.EpochEnd)]
    assert [e.phase for e in recorder.of(ev.EpochStart)] == ["head", "finetune"]
    assert images_per_s[0] > images_per_s[1]  # head on features vs whole network on images


def test_a_project_that_hashed_its_images_is_not_hashed_again(tmp_path, monkeypatch):
    from imgcls_gui.engine.data import images
    from imgcls_gui.engine.data.datasets import load_dataset
    from imgcls_gui.engine.project.store import Project, scan_image_info

    data = make_class_folders(tmp_path / "data", per_class=6)
    with Project.create(tmp_path / "proj") as project:
        project.import_dataset(load_dataset(str(data)))
        project.update_image_info(scan_image_info(project.images()))
        dataset = project.to_labeled_dataset()
    assert all(s.sha1 for s in dataset.samples)
    hashed: list[str] = []
    real_sha1 = images.file_sha1
    monkeypatch.setattr(images, "file_sha1", lambda path: hashed.append(str(path)) or real_sha1(path))
    cfg = head_config(data, tmp_path, cache=True, epochs=1)
    Trainer(cfg, tmp_path / "run", dataset=dataset).fit()
    assert len(list((tmp_path / "cache").glob("*.npy"))) == 1 and hashed == []
    dataset.samples[0] = type(dataset.samples[0])(dataset.samples[0].path, dataset.samples[0].labels)  # hash unknown
    Trainer(cfg, tmp_path / "run2", dataset=dataset).fit()
    assert hashed == [str(dataset.samples[0].path)]
