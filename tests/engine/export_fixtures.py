"""Run folders for export and prediction tests, built without training so they are fast."""

from __future__ import annotations

import copy
import functools
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from imgcls_gui.engine.checkpoint import save_checkpoint
from imgcls_gui.engine.config import DataConfig, ModelConfig, RunConfig
from imgcls_gui.engine.models.build import build_model, head_module, preprocessing_for

IMAGE_SIZE = 64
# Not alphabetical (sorted: ant, bee, wasp), as a one-hot CSV's columns or a project's classes often are:
# code that sorts the classes anywhere between checkpoint and prediction names every class wrongly.
CLASSES = ("wasp", "ant", "bee")
MULTILABEL_CLASSES = ("trees", "desert", "sea")


def calibrated_model(name: str, num_classes: int, *, seed: int = 0) -> torch.nn.Module:
    """``build_model(weights="none")`` whose BatchNorm statistics and head are fitted to smooth random
    images, so that predictions differ between images and are confident (a fresh random network
    answers about the same for every input). A copy of one made once per session: calibrating costs
    several CPU-seconds and some twenty tests ask for the same few models."""
    return copy.deepcopy(_calibrated(name, num_classes, seed))


@functools.lru_cache(maxsize=None)
def _calibrated(name: str, num_classes: int, seed: int) -> torch.nn.Module:
    torch.manual_seed(seed)
    model = build_model(ModelConfig(name=name, weights="none"), num_classes)
    for module in model.modules():
        if isinstance(module, torch.nn.modules.batchnorm._BatchNorm):
            module.reset_running_stats()
            module.momentum = None  # cumulative average over the calibration batches
    head = [m for m in head_module(model).modules() if isinstance(m, torch.nn.Linear)][-1]
    features: list[torch.Tensor] = []
    hook = head.register_forward_hook(lambda module, inputs, output: features.append(inputs[0]))
    with torch.no_grad():
        model.train()
        for i in range(3):
            model(_smooth_batch(16, seed + i))
        model.eval()
        features.clear()
        model(_smooth_batch(32, seed + 100))
        hook.remove()
        seen = torch.cat(features)
        logits = seen @ head.weight.T
        head.weight.mul_(3.0 / (logits - logits.mean(0)).std(0).clamp_min(1e-6)[:, None])  # logits spread ~3
        head.bias.copy_(-(seen.mean(0) @ head.weight.T))  # centred: every class wins somewhere
    return model


def _smooth_batch(count: int, seed: int) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed)
    coarse = torch.rand(count, 3, 4, 4, generator=generator)
    images = torch.nn.functional.interpolate(coarse, size=(IMAGE_SIZE, IMAGE_SIZE), mode="bilinear")
    return (images - 0.45) / 0.225


def save_run(
    run_dir: Path,
    *,
    classes: tuple[str, ...] = CLASSES,
    task: str = "multiclass",
    thresholds: list[float] | None = None,
    backbone: str = "resnet18",
    data_path: str = "",
) -> Path:
    """A run folder holding best.pt with every key the checkpoint module documents; returns run_dir."""
    model_cfg = ModelConfig(name=backbone, weights="none", image_size=IMAGE_SIZE)
    config = RunConfig(data=DataConfig(path=data_path), model=model_cfg)
    model = calibrated_model(backbone, len(classes))
    metrics = {"val_loss": 0.9, "accuracy": 0.75, "f1_macro": 0.7, "train_loss": 1.1, "seconds": 3.0}
    state = {
        "imgcls_version": "0.1.0",
        "created": "2026-01-02T03:04:05+00:00",
        "model": model.state_dict(),
        "optimizer": None,
        "scheduler": None,
        "scaler": None,
        "epoch": 1,
        "step": 10,
        "phase": "train",
        "best_metric": 0.75,
        "best_epoch": 0,
        "history": [metrics],
        "metrics": metrics,
        "rng": None,
        "classes": list(classes),
        "task": task,
        "thresholds": thresholds,
        "preprocessing": preprocessing_for(model_cfg).to_dict(),
        "config": config.to_dict(),
    }
    run_dir.mkdir(parents=True, exist_ok=True)
    save_checkpoint(state, run_dir / "best.pt")
    return run_dir


def write_photos(folder: Path, count: int, *, size: tuple[int, int] = (96, 72), ext: str = ".jpg", seed: int = 0) -> list[Path]:
    """Smooth colourful images (not noise): different images, different predictions."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(count):
        coarse = rng.integers(0, 256, (4, 4, 3), dtype=np.uint8)
        image = Image.fromarray(coarse).resize(size, Image.BILINEAR)
        path = folder / f"img_{i:03d}{ext}"
        image.save(path, **({"quality": 95} if ext in (".jpg", ".jpeg") else {}))
        paths.append(path)
    return paths
