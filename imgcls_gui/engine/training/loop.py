"""The inner loops of a run: entering a freezing phase, one epoch of training, one validation pass.

Each is a function of the run's state and a ``RunControl`` (emit events, honour stop/pause), so the
loops never see the trainer.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from .. import events as ev
from ..evaluation.evaluate import logits_of, predict_split, report_for
from .schedule import apply_lr, lr_factor
from .state import RunControl, RunState

if TYPE_CHECKING:
    import torch

BATCH_EVENT_INTERVAL_S = 0.1  # progress events at most ~10 per second (plus the last batch)


def enter_phase_for(run: RunState, epoch: int, control: RunControl) -> None:
    """Unfreeze when two-phase training reaches its fine-tune epochs; use cached features while the backbone is frozen."""
    from ..models.build import spec_of
    from ..models.freezing import freeze_plan
    from .feature_cache import backbone_is_frozen, build_feature_loaders

    config = run.plan.config
    if run.phase == "head" and freeze_plan(spec_of(run.model), config.freeze).phase_at(epoch) == "finetune":
        unfreeze(run)
        run.feature_loaders = None
        run.parallel = None  # DDP's set of parameters is fixed when it is built: wrap the unfrozen model anew
    if run.feature_loaders is None and config.train.feature_cache and backbone_is_frozen(run.model):
        run.feature_loaders = build_feature_loaders(run, control)


def unfreeze(run: RunState) -> None:
    """Unfreeze every layer group, adding their parameters to the optimizer with decayed rates."""
    from ..models.build import spec_of
    from ..models.freezing import freeze_plan, unfreeze_all_groups

    config = run.plan.config
    plan = freeze_plan(spec_of(run.model), config.freeze)
    unfreeze_all_groups(run.model, run.optimizer, config.optim.lr, lr_factors=plan.lr_factors)
    for group in run.optimizer.param_groups:
        group.setdefault("base_lr", group["lr"])
    run.phase = "finetune"


def _active(run: RunState) -> tuple["torch.nn.Module", Any, Any]:
    """(module to run, train loader, val loader): the head on cached features, or the whole model."""
    from ..models.build import head_module

    if run.feature_loaders is not None:
        return head_module(run.model), *run.feature_loaders
    return run.model, run.plan.train_loader, run.plan.val_loader


def _training_module(run: RunState, module: "torch.nn.Module") -> "torch.nn.Module":
    """What the training step runs: ``module`` itself, or ``module`` (the model, or the head on cached
    features) inside DistributedDataParallel."""
    from .distributed import wrap_for_training

    plan = run.plan
    if plan.world is None:
        return module
    if run.parallel is None or run.parallel.module is not module:
        run.parallel = wrap_for_training(module, plan.device, plan.config.train.sync_batchnorm)
    return run.parallel


def train_one_epoch(run: RunState, epoch: int, control: RunControl) -> dict[str, float]:
    """One pass over the training data; returns the epoch's train loss, last rate and speed."""
    import torch

    from ..models.freezing import set_frozen_batchnorm_eval

    plan = run.plan
    cfg = plan.config
    module, loader, _ = _active(run)
    images_input = module is run.model
    module = _training_module(run, module)
    device = plan.device
    module.train()
    set_frozen_batchnorm_eval(run.model)
    loader.set_epoch(epoch)  # order and augmentation are functions of (seed, epoch), so resume is exact
    started = last_emit = time.perf_counter()
    seen = 0
    loss_sum = torch.zeros((), device=device)
    batches = len(loader)
    lr = 0.0
    accumulate = plan.accumulate
    for batch, (images, targets, _index) in enumerate(loader):
        control.check_training_batch()
        first, group_start = batch % accumulate == 0, batch - batch % accumulate
        passes = min(accumulate, batches - group_start)  # the epoch's last group may be shorter
        last = batch - group_start == passes - 1
        if first:
            lr = apply_lr(run.optimizer, lr_factor(cfg.optim, run.step, plan.total_steps, plan.steps_per_epoch)
                          * plan.lr_scale)
        images = images.to(device, non_blocking=True)
        if plan.channels_last and images_input:
            images = images.contiguous(memory_format=torch.channels_last)
        targets = targets.to(device, non_blocking=True)
        loss = _step(run, module, images, targets, passes=passes, first=first, last=last)
        run.step += int(last)
        seen += images.shape[0]
        loss_sum += loss.detach() * images.shape[0]
        now = time.perf_counter()
        if now - last_emit >= BATCH_EVENT_INTERVAL_S or batch == batches - 1:
            last_emit = now
            control.emit(ev.BatchEnd(epoch, batch, batches, float(loss.item()), lr, seen / max(now - started, 1e-9), run.step))
    seconds = time.perf_counter() - started
    loss_total = float(loss_sum.item())
    if plan.world is not None:
        from .distributed import sum_over_ranks

        loss_total, seen_total = sum_over_ranks([loss_total, seen], device)
        seen = int(seen_total)
    return {
        "epoch": epoch,
        "train_loss": loss_total / max(seen, 1),
        "lr": lr,
        "seconds": seconds,
        "images_per_s": seen / max(seconds, 1e-9),
    }


def _step(run: RunState, module: "torch.nn.Module", images: "torch.Tensor", targets: "torch.Tensor", *,
          passes: int = 1, first: bool = True, last: bool = True) -> "torch.Tensor":
    """Forward, loss (plus aux head and L1), backward; the optimizer steps on the ``last`` of ``passes`` passes.

    Gradient accumulation: the ``first`` pass clears the gradients, each pass adds its loss / ``passes``;
    DistributedDataParallel exchanges gradients only on the last pass (``no_sync`` before it).
    """
    import contextlib

    import torch

    plan = run.plan
    amp_dtype = plan.amp_dtype
    with torch.autocast(plan.device.type, dtype=amp_dtype, enabled=amp_dtype is not None):
        output = module(images)
        loss = plan.criterion(logits_of(output), targets)
        aux = getattr(output, "aux_logits", None)
        if aux is not None:
            loss = loss + 0.4 * plan.criterion(aux, targets)
    l1 = plan.config.optim.l1
    if l1 > 0:
        params = [p for p in run.model.parameters() if p.requires_grad]
        loss = loss + l1 * sum(p.abs().sum() for p in params)
    if first:
        run.optimizer.zero_grad(set_to_none=True)
    no_sync = getattr(module, "no_sync", None)
    with no_sync() if no_sync is not None and not last else contextlib.nullcontext():
        scaled = loss / passes if passes > 1 else loss
        (run.scaler.scale(scaled) if run.scaler is not None else scaled).backward()
    if last:
        if run.scaler is not None:
            run.scaler.step(run.optimizer)
            run.scaler.update()
        else:
            run.optimizer.step()
    return loss


def validate(run: RunState, control: RunControl) -> dict[str, float]:
    """One eval pass over the validation data; returns val_loss and the metric scalars."""
    plan = run.plan
    module, _, loader = _active(run)
    preds = predict_split(  # the unwrapped model: each rank predicts its own unpadded shard, no collectives
        module, loader, plan.device, plan.task, amp_dtype=plan.amp_dtype,
        channels_last=plan.channels_last and module is run.model, should_stop=control.check_requests,
    )
    if plan.world is not None:
        from .distributed import gather_predictions

        preds = gather_predictions(preds)
    run.val_images = len(preds.indices)
    report = report_for(preds, plan.task, list(plan.classes))
    run.last_thresholds = report.thresholds
    return {"val_loss": preds.mean_loss, **report.scalars}
