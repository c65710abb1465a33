"""Per-run training state and the inner loops (one epoch of training, one validation pass)."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .. import events as ev
from ..config import RunConfig
from ..evaluation.evaluate import logits_of, predict_split, report_for
from .schedule import apply_lr, lr_factor

if TYPE_CHECKING:
    import torch

    from .trainer import Trainer

BATCH_EVENT_INTERVAL_S = 0.1  # progress events at most ~10 per second (plus the last batch)


@dataclass
class RunState:
    config: RunConfig
    run_dir: Path
    device: "torch.device"
    classes: list[str]
    task: str
    monitor: str
    preprocessing: Any
    train_set: Any
    val_set: Any
    train_loader: Any
    val_loader: Any
    model: "torch.nn.Module"
    optimizer: "torch.optim.Optimizer"
    criterion: Any
    scaler: Any = None
    amp_dtype: Any = None
    phase: str = "train"
    step: int = 0
    start_epoch: int = 0
    history: list[dict[str, float]] = field(default_factory=list)
    best_value: float = -math.inf
    best_epoch: int = -1
    best_metrics: dict[str, float] = field(default_factory=dict)
    best_thresholds: list[float] | None = None
    epochs_since_best: int = 0
    last_thresholds: list[float] | None = None
    feature_loaders: tuple[Any, Any] | None = None  # (train, val) when training the head on cached features

    @property
    def steps_per_epoch(self) -> int:
        return max(1, len(self.train_loader))  # the feature loader batches the same images the same way

    @property
    def total_steps(self) -> int:
        return self.steps_per_epoch * self.config.train.epochs

    @property
    def channels_last(self) -> bool:
        return self.config.train.channels_last and self.device.type == "cuda"

    # -- phases (two-phase freezing) ---------------------------------------------------------
    def enter_phase_for(self, epoch: int, trainer: "Trainer") -> None:
        from ..models.build import spec_of
        from ..models.freezing import freeze_plan
        from .feature_cache import backbone_is_frozen, build_feature_loaders

        if self.phase == "head" and freeze_plan(spec_of(self.model), self.config.freeze).phase_at(epoch) == "finetune":
            self.unfreeze()
            self.feature_loaders = None
        if self.feature_loaders is None and self.config.train.feature_cache and backbone_is_frozen(self.model):
            self.feature_loaders = build_feature_loaders(self, trainer)

    def _active(self) -> tuple["torch.nn.Module", Any, Any]:
        """(module to run, train loader, val loader): the head on cached features, or the whole model."""
        from ..models.build import head_module

        if self.feature_loaders is not None:
            return head_module(self.model), *self.feature_loaders
        return self.model, self.train_loader, self.val_loader

    def unfreeze(self) -> None:
        from ..models.build import spec_of
        from ..models.freezing import freeze_plan, unfreeze_all_groups

        plan = freeze_plan(spec_of(self.model), self.config.freeze)
        unfreeze_all_groups(self.model, self.optimizer, self.config.optim.lr, lr_factors=plan.lr_factors)
        for group in self.optimizer.param_groups:
            group.setdefault("base_lr", group["lr"])
        self.phase = "finetune"

    # -- training ----------------------------------------------------------------------------
    def train_one_epoch(self, epoch: int, trainer: "Trainer") -> dict[str, float]:
        import torch

        from ..models.freezing import set_frozen_batchnorm_eval

        module, loader, _ = self._active()
        device = self.device
        module.train()
        set_frozen_batchnorm_eval(self.model)
        loader.generator.manual_seed(self.config.train.seed * 1000 + epoch)
        cfg = self.config
        started = last_emit = time.perf_counter()
        seen = 0
        loss_sum = torch.zeros((), device=device)
        batches = len(loader)
        lr = 0.0
        images_input = module is self.model
        for batch, (images, targets, _index) in enumerate(loader):
            trainer.check_requests()
            lr = apply_lr(self.optimizer, lr_factor(cfg.optim, self.step, self.total_steps, self.steps_per_epoch))
            images = images.to(device, non_blocking=True)
            if self.channels_last and images_input:
                images = images.contiguous(memory_format=torch.channels_last)
            targets = targets.to(device, non_blocking=True)
            loss = self._step(module, images, targets)
            self.step += 1
            seen += images.shape[0]
            loss_sum += loss.detach() * images.shape[0]
            now = time.perf_counter()
            if now - last_emit >= BATCH_EVENT_INTERVAL_S or batch == batches - 1:
                last_emit = now
                trainer.emit(ev.BatchEnd(epoch, batch, batches, float(loss.item()), lr, seen / max(now - started, 1e-9), self.step))
        seconds = time.perf_counter() - started
        return {
            "epoch": epoch,
            "train_loss": float(loss_sum.item()) / max(seen, 1),
            "lr": lr,
            "seconds": seconds,
            "images_per_s": seen / max(seconds, 1e-9),
        }

    def _step(self, module: "torch.nn.Module", images: "torch.Tensor", targets: "torch.Tensor") -> "torch.Tensor":
        import torch

        use_amp = self.amp_dtype is not None
        with torch.autocast(self.device.type, dtype=self.amp_dtype, enabled=use_amp):
            output = module(images)
            loss = self.criterion(logits_of(output), targets)
            aux = getattr(output, "aux_logits", None)
            if aux is not None:
                loss = loss + 0.4 * self.criterion(aux, targets)
        if self.config.optim.l1 > 0:
            params = [p for p in self.model.parameters() if p.requires_grad]
            loss = loss + self.config.optim.l1 * sum(p.abs().sum() for p in params)
        self.optimizer.zero_grad(set_to_none=True)
        if self.scaler is not None:
            self.scaler.scale(loss).backward()
            self.scaler.step(self.optimizer)
            self.scaler.update()
        else:
            loss.backward()
            self.optimizer.step()
        return loss

    # -- validation and bookkeeping -----------------------------------------------------------
    def validate(self, trainer: "Trainer") -> dict[str, float]:
        module, _, loader = self._active()
        preds = predict_split(
            module, loader, self.device, self.task, amp=self.amp_dtype is not None,
            channels_last=self.channels_last and module is self.model, should_stop=trainer.check_requests,
        )
        report = report_for(preds, self.task, self.classes)
        self.last_thresholds = report.thresholds
        return {"val_loss": preds.mean_loss, **report.scalars}

    def update_best(self, epoch: int, metrics: dict[str, float]) -> bool:
        self.history.append(dict(metrics))
        value = metrics.get(self.monitor, math.nan)
        if self.monitor.endswith("loss"):
            value = -value
        improved = not math.isnan(value) and value > self.best_value
        if improved or self.best_epoch < 0:
            self.best_value = value if not math.isnan(value) else self.best_value
            self.best_epoch = epoch
            self.best_metrics = {k: v for k, v in metrics.items() if k != "epoch"}
            self.best_thresholds = self.last_thresholds
            self.epochs_since_best = 0
            return True
        self.epochs_since_best += 1
        return False

    def should_stop_early(self, epoch: int) -> bool:
        patience = self.config.train.early_stopping_patience
        return patience > 0 and self.epochs_since_best >= patience

    def checkpoint_state(self, epoch: int, metrics: dict[str, float]) -> dict[str, Any]:
        import datetime

        from ... import __version__

        return {
            "imgcls_version": __version__,
            "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
            "model": {k: v.contiguous() for k, v in self.model.state_dict().items()},
            "optimizer": self.optimizer.state_dict(),
            "scheduler": {"step": self.step},
            "scaler": self.scaler.state_dict() if self.scaler is not None else None,
            "epoch": epoch + 1,
            "step": self.step,
            "phase": self.phase,
            "best_metric": self.best_value,
            "best_epoch": self.best_epoch,
            "best_metrics": self.best_metrics,
            "best_thresholds": self.best_thresholds,
            "epochs_since_best": self.epochs_since_best,
            "history": self.history,
            "metrics": metrics,
            "classes": list(self.classes),
            "task": self.task,
            "thresholds": self.last_thresholds,
            "preprocessing": self.preprocessing.to_dict(),
            "config": self.config.to_dict(),
        }
