from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from imgcls_gui.engine import events as ev
from imgcls_gui.engine.checkpoint import load_checkpoint
from imgcls_gui.engine.config import (AugmentConfig, DataConfig, FreezeConfig, ModelConfig, OptimConfig,
                                      RunConfig, TrainConfig)
from imgcls_gui.engine.errors import DatasetError
from imgcls_gui.engine.training.trainer import Trainer

from .tiny_data import make_class_folders, make_multilabel_csv

SHARED = Path(__file__).resolve().parents[2].parent / "shared" / "datasets"


def tiny_config(data: Path, **train) -> RunConfig:
    return RunConfig(
        data=DataConfig(path=str(data), num_workers=0, val_fraction=0.25),
        augment=AugmentConfig(random_resized_crop=False),
        model=ModelConfig(name="mobilenet_v3_small", weights="none", image_size=32),
        freeze=FreezeConfig(mode="none"),
        optim=OptimConfig(optimizer="adamw", lr=3e-3, scheduler="constant"),
        train=TrainConfig(**{"epochs": 3, "batch_size": 8, "seed": 1, "device": "cpu", **train}),
    )


class Recorder:
    def __init__(self, stop_after_epoch: int | None = None, trainer: Trainer | None = None) -> None:
        self.events: list[object] = []
        self.stop_after_epoch = stop_after_epoch
        self.trainer = trainer

    def on_event(self, event: object) -> None:
        self.events.append(event)
        if isinstance(event, ev.EpochEnd) and event.epoch == self.stop_after_epoch:
            self.trainer.request_stop()

    def of(self, kind: type) -> list:
        return [e for e in self.events if isinstance(e, kind)]


def test_fit_writes_a_complete_run_folder_and_announces_events(tmp_path):
    data = make_class_folders(tmp_path / "data")
    recorder = Recorder()
    result = Trainer(tiny_config(data), tmp_path / "run", callbacks=[recorder]).fit()
    run = tmp_path / "run"
    for name in ("config.yaml", "split.json", "metrics.json", "best.pt", "last.pt"):
        assert (run / name).is_file(), name
    metrics = json.loads((run / "metrics.json").read_text())
    assert [h["epoch"] for h in metrics["history"]] == [0, 1, 2]
    for key in ("train_loss", "val_loss", "seconds", "images_per_s", "accuracy", "f1_macro"):
        assert key in metrics["history"][0]
    assert metrics["final"]["accuracy"] == max(h["accuracy"] for h in metrics["history"])
    assert metrics["history"][-1]["train_loss"] < metrics["history"][0]["train_loss"]
    assert result.final == metrics["final"] and not result.stopped
    kinds = [type(e) for e in recorder.events]
    assert kinds.index(ev.FitStart) < kinds.index(ev.EpochStart) < kinds.index(ev.BatchEnd) < kinds.index(ev.EpochEnd)
    assert kinds[-1] is ev.FitEnd and len(recorder.of(ev.EpochEnd)) == 3
    ckpt = load_checkpoint(run / "best.pt")
    assert ckpt["classes"] == ["blue", "red"] and ckpt["task"] == "multiclass"
    assert RunConfig.from_dict(ckpt["config"]) == tiny_config(data)


def test_config_yaml_replays_the_same_run(tmp_path):
    data = make_class_folders(tmp_path / "data", per_class=8)
    first = Trainer(tiny_config(data, epochs=1), tmp_path / "a").fit()
    replay = Trainer(RunConfig.from_file(tmp_path / "a" / "config.yaml"), tmp_path / "b").fit()
    assert replay.final == pytest.approx(first.final, rel=1e-6, nan_ok=True) or _equal_but_time(replay.final, first.final)


def _equal_but_time(a: dict, b: dict) -> bool:
    skip = {"seconds", "images_per_s"}
    return all(a[k] == pytest.approx(b[k], nan_ok=True) for k in a if k not in skip)


def test_stop_then_resume_matches_an_uninterrupted_seeded_run(tmp_path):
    data = make_class_folders(tmp_path / "data")
    full = Trainer(tiny_config(data), tmp_path / "full").fit()

    trainer = Trainer(tiny_config(data), tmp_path / "part")
    trainer.callbacks.append(Recorder(stop_after_epoch=0, trainer=trainer))
    stopped = trainer.fit()
    assert stopped.stopped and stopped.epochs_run == 1
    assert load_checkpoint(tmp_path / "part" / "last.pt")["epoch"] == 1

    resumed = Trainer(RunConfig(), tmp_path / "part").fit(resume=True)
    assert not resumed.stopped and resumed.epochs_run == 3
    assert _equal_but_time(resumed.final, full.final)
    a = load_checkpoint(tmp_path / "full" / "last.pt")["model"]
    b = load_checkpoint(tmp_path / "part" / "last.pt")["model"]
    assert all(torch.allclose(a[k].float(), b[k].float(), atol=1e-6) for k in a)


def test_pause_blocks_until_resumed(tmp_path):
    import threading

    data = make_class_folders(tmp_path / "data", per_class=8)
    trainer = Trainer(tiny_config(data, epochs=1), tmp_path / "run")
    seen: list[str] = []

    class PauseOnFirstBatch:
        def on_event(self, event):
            if isinstance(event, ev.BatchEnd) and not seen:
                seen.append("paused")
                trainer.request_pause()
                threading.Timer(0.3, trainer.request_resume).start()
            if isinstance(event, ev.LogLine) and event.message in ("paused", "resumed"):
                seen.append(event.message)

    trainer.callbacks.append(PauseOnFirstBatch())
    result = trainer.fit()
    assert not result.stopped and seen[1:] == ["paused", "resumed"]


def test_two_phase_trains_head_first_then_everything(tmp_path):
    data = make_class_folders(tmp_path / "data", per_class=8)
    cfg = tiny_config(data, epochs=2).replace(freeze=FreezeConfig(mode="two-phase", head_epochs=1, lr_decay=0.5))
    recorder = Recorder()
    Trainer(cfg, tmp_path / "run", callbacks=[recorder]).fit()
    assert [e.phase for e in recorder.of(ev.EpochStart)] == ["head", "finetune"]
    ckpt = load_checkpoint(tmp_path / "run" / "last.pt")
    lrs = [g["base_lr"] for g in ckpt["optimizer"]["param_groups"]]
    assert len(lrs) > 1 and min(lrs) < max(lrs) == pytest.approx(cfg.optim.lr)


def test_multilabel_csv_trains_with_bce_and_tuned_thresholds(tmp_path):
    csv = make_multilabel_csv(tmp_path / "ml")
    result = Trainer(tiny_config(csv, epochs=2), tmp_path / "run").fit()
    assert {"map", "roc_auc_macro", "f1_macro"} <= set(result.final)
    ckpt = load_checkpoint(tmp_path / "run" / "best.pt")
    assert ckpt["task"] == "multilabel" and len(ckpt["thresholds"]) == 2


def test_one_class_is_refused_with_a_clear_error(tmp_path):
    data = make_class_folders(tmp_path / "data", classes=("red",))
    with pytest.raises(DatasetError, match="class"):
        Trainer(tiny_config(data), tmp_path / "run").fit()


@pytest.mark.slow
@pytest.mark.skipif(not (SHARED / "hymenoptera").is_dir(), reason="shared datasets not present")
def test_trains_on_real_hymenoptera_photos(tmp_path):
    cfg = tiny_config(SHARED / "hymenoptera", epochs=3, batch_size=16)
    cfg = cfg.replace(model=ModelConfig(name="mobilenet_v3_small", weights="none", image_size=64),
                      augment=AugmentConfig(), data=DataConfig(path=str(SHARED / "hymenoptera"), num_workers=1))
    result = Trainer(cfg, tmp_path / "run").fit()
    history = result.history
    assert history[-1]["train_loss"] < history[0]["train_loss"]
    split = json.loads((tmp_path / "run" / "split.json").read_text())
    assert split  # the given train/val split is stored with the run
    assert 0.0 <= result.final["accuracy"] <= 1.0 and "f1_macro" in result.final


@pytest.mark.slow
@pytest.mark.skipif(not (SHARED / "miml").is_dir(), reason="shared datasets not present")
def test_trains_on_real_multilabel_miml(tmp_path):
    cfg = tiny_config(SHARED / "miml" / "miml_labels_1.csv", epochs=2, batch_size=32)
    cfg = cfg.replace(model=ModelConfig(name="mobilenet_v3_small", weights="none", image_size=48),
                      data=DataConfig(path=str(SHARED / "miml" / "miml_labels_1.csv"), num_workers=1, val_fraction=0.2))
    result = Trainer(cfg, tmp_path / "run").fit()
    assert result.history[-1]["train_loss"] < result.history[0]["train_loss"]
    assert 0.0 <= result.final["map"] <= 1.0 and 0.0 <= result.final["roc_auc_macro"] <= 1.0


def test_decoded_image_cache_gives_the_same_run(tmp_path):
    from imgcls_gui.engine.config import DataConfig

    data = make_class_folders(tmp_path / "data", per_class=6)
    plain = Trainer(tiny_config(data, epochs=1), tmp_path / "a").fit()
    cfg = tiny_config(data, epochs=1)
    recorder = Recorder()
    cached = Trainer(cfg.replace(data=DataConfig(**{**cfg.data.__dict__, "cache_images": True})), tmp_path / "b",
                     callbacks=[recorder]).fit()
    assert any("into memory" in e.message for e in recorder.of(ev.LogLine))
    # Cached images are stored already shrunk to the resize size, so losses agree closely, not bit for bit.
    assert cached.final["train_loss"] == pytest.approx(plain.final["train_loss"], rel=0.01)
    assert cached.final["accuracy"] == plain.final["accuracy"]


def test_early_stopping_ends_the_run_when_the_monitor_stalls(tmp_path):
    data = make_class_folders(tmp_path / "data", per_class=6)
    cfg = tiny_config(data, epochs=6, early_stopping_patience=1, monitor="val_loss")
    # Frozen backbone (BatchNorm too) and a zero learning rate: the validation loss cannot improve.
    cfg = cfg.replace(optim=OptimConfig(optimizer="sgd", lr=0.0, scheduler="constant"), freeze=FreezeConfig(mode="head"))
    recorder = Recorder()
    result = Trainer(cfg, tmp_path / "run", callbacks=[recorder]).fit()
    assert result.epochs_run == 2 and result.best_epoch == 0
    assert any("early stopping" in e.message for e in recorder.of(ev.LogLine))


def test_auto_batch_size_is_resolved_and_recorded(tmp_path):
    data = make_class_folders(tmp_path / "data", per_class=6)
    Trainer(tiny_config(data, epochs=1, batch_size=0), tmp_path / "run").fit()
    assert load_checkpoint(tmp_path / "run" / "last.pt")["config"]["train"]["batch_size"] > 0
    assert RunConfig.from_file(tmp_path / "run" / "config.yaml").train.batch_size == 0  # replays as auto
