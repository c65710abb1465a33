"""Optimizers and learning-rate schedules.

Schedules are a pure function of the global step (``lr_factor``), applied to each parameter
group's ``base_lr``. That keeps resume exact (the step is in the checkpoint) and lets two-phase
freezing add parameter groups mid-run without rebuilding a torch scheduler.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from ..config import OptimConfig
from ..errors import ConfigError

if TYPE_CHECKING:
    import torch


def build_optimizer(param_groups: list[dict], cfg: OptimConfig) -> "torch.optim.Optimizer":
    """An optimizer over ``param_groups`` (each with its own ``lr``); weight decay is L2 (decoupled for AdamW)."""
    import torch

    for group in param_groups:
        group.setdefault("base_lr", group["lr"])
    name = cfg.optimizer.lower()
    wd = cfg.weight_decay
    if name == "sgd":
        return torch.optim.SGD(param_groups, lr=cfg.lr, momentum=cfg.momentum, nesterov=cfg.nesterov and cfg.momentum > 0, weight_decay=wd)
    if name == "adam":
        return torch.optim.Adam(param_groups, lr=cfg.lr, weight_decay=wd)
    if name == "adamw":
        return torch.optim.AdamW(param_groups, lr=cfg.lr, weight_decay=wd)
    if name == "rmsprop":
        return torch.optim.RMSprop(param_groups, lr=cfg.lr, momentum=cfg.momentum, weight_decay=wd)
    if name == "adagrad":
        return torch.optim.Adagrad(param_groups, lr=cfg.lr, weight_decay=wd)
    if name == "adadelta":
        return torch.optim.Adadelta(param_groups, lr=cfg.lr, weight_decay=wd)
    raise ConfigError(f"unknown optimizer '{cfg.optimizer}'; use sgd, adam, adamw, rmsprop, adagrad or adadelta.")


def lr_factor(cfg: OptimConfig, step: int, total_steps: int, steps_per_epoch: int) -> float:
    """Multiplier of each group's base rate at optimizer step ``step`` (0-based)."""
    total_steps = max(1, total_steps)
    warmup = int(round(cfg.warmup_epochs * steps_per_epoch))
    if cfg.scheduler == "onecycle":
        # Leslie Smith's schedule as in torch's OneCycleLR (cosine up over 30%, cosine down to ~0).
        peak = max(1, int(0.3 * total_steps))
        if step < peak:
            return _cosine(1 / 25, 1.0, step / peak)
        return _cosine(1.0, 1 / 1e4 / 25, (step - peak) / max(1, total_steps - peak))
    if warmup and step < warmup:
        return (step + 1) / (warmup + 1)
    if cfg.scheduler == "constant":
        return 1.0
    if cfg.scheduler == "step":
        epoch = step // max(1, steps_per_epoch)
        return cfg.gamma ** (epoch // max(1, cfg.step_size))
    if cfg.scheduler == "cosine":
        progress = (step - warmup) / max(1, total_steps - warmup)
        return _cosine(1.0, 0.0, min(1.0, progress))
    raise ConfigError(f"unknown scheduler '{cfg.scheduler}'; use constant, step, cosine or onecycle.")


def apply_lr(optimizer: "torch.optim.Optimizer", factor: float) -> float:
    """Set every group's lr to base_lr * factor; return the head group's (last group's) lr for display."""
    lr = 0.0
    for group in optimizer.param_groups:
        group["lr"] = group.get("base_lr", group["lr"]) * factor
        lr = group["lr"]
    return lr


def _cosine(start: float, end: float, progress: float) -> float:
    return end + (start - end) * (1 + math.cos(math.pi * progress)) / 2
