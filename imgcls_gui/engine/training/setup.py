"""Everything a run needs before its first batch: data, split, loaders, model, freezing, optimizer."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..checkpoint import atomic_write_text
from ..config import RunConfig
from ..errors import CheckpointError, DatasetError
from ..evaluation.metrics import default_monitor
from .state import Criterion, RunControl, RunPlan, RunState

if TYPE_CHECKING:
    import torch

    from ..data.samples import LabeledDataset
    from ..data.split import Split
    from .checkpointing import ResumePoint
    from .distributed import World


def prepare_run(
    config: RunConfig, run_dir: Path, dataset: "LabeledDataset | None", resume: "ResumePoint | None", control: RunControl,
    world: "World | None" = None,
) -> RunState:
    """Set a run up to its first batch: data, split, loaders, model, freezing, optimizer (restored from ``resume``).

    The returned state's ``plan.config`` is ``config`` resolved (an automatic batch size chosen);
    the caller adopts it, nothing is written back here. ``world``: this process's place in a
    data-parallel run (its loaders take its shard; only rank 0 writes config.yaml and split.json).
    """
    from ..data.datasets import open_dataset, require_trainable
    from ..data.loading import ImageDataset, encode_targets, make_loader
    from ..data.preprocess import eval_transform
    from ..data.transforms import train_transform
    from ..device import resolve_device
    from ..models.build import build_model, preprocessing_for
    from .balance import balanced_sample_weights, class_loss_weights
    from .checkpointing import restore_progress
    from .distributed import batch_layout, rank_device

    cfg = config
    ds = dataset
    if ds is None:
        control.log(f"reading dataset {cfg.data.path}", "debug")
        ds = open_dataset(cfg.data.path, cfg.data.format, cfg.data.images_root, cfg.data.task)
    elif cfg.data.task != "auto":
        ds.task = cfg.data.task
    require_trainable(ds)
    writes = world is None or world.is_main
    split = _load_or_make_split(run_dir, cfg, ds, write=writes)
    if resume is None and writes:
        atomic_write_text(run_dir / "config.yaml", cfg.to_yaml())
    classes = tuple(ds.classes)
    if resume is not None and resume.classes != classes:
        raise CheckpointError(f"{run_dir}: the dataset's classes changed since this run started; start a new run.")
    train_samples = [ds.samples[i] for i in split.train]
    val_samples = [ds.samples[i] for i in split.val]
    if not train_samples or not val_samples:
        fix = "put labeled images in both its train and val parts" if any(s.split for s in ds.samples) \
            else "add images or raise the validation fraction"
        raise DatasetError(
            f"{ds.root}: need at least one training and one validation image "
            f"(got {len(train_samples)} and {len(val_samples)}); {fix}."
        )
    untrained = sorted(set(classes) - {label for s in train_samples for label in s.labels})
    if untrained:
        control.log(
            f"class(es) {', '.join(untrained)} have no training images (only in val or test), so the model cannot "
            "learn them; move some of their images into the training part.", "warning")
    pre = preprocessing_for(cfg.model)
    device = rank_device(resolve_device(cfg.train.device), world)
    amp_dtype, channels_last, forward_channels_last = _speed_ups(device, cfg, control)
    task = ds.task
    cache = _decoded_image_cache([s.path for s in train_samples + val_samples], pre.resize_size, control) \
        if cfg.data.cache_images else None
    train_set = ImageDataset([s.path for s in train_samples], encode_targets(train_samples, classes, task),
                             train_transform(pre, cfg.augment), draft_size=pre.resize_size, cache=cache)
    val_set = ImageDataset([s.path for s in val_samples], encode_targets(val_samples, classes, task),
                           eval_transform(pre), draft_size=pre.resize_size, cache=cache)
    batch_size = cfg.train.batch_size
    if batch_size <= 0:
        from ..models.registry import get_backbone
        from .autotune import auto_batch_size

        batch_size = auto_batch_size(get_backbone(cfg.model.name), pre.image_size, device.type)
        cfg = cfg.replace(train=dataclasses.replace(cfg.train, batch_size=batch_size))
        control.log(f"batch size {batch_size} chosen for {device.type}")
    sample_weights = balanced_sample_weights(train_set.targets, task, len(classes)) \
        if cfg.train.sampler == "balanced" else None
    world_size = world.world_size if world is not None else 1
    layout = batch_layout(batch_size, world_size, resume.ckpt.get("global_batch") if resume is not None else None)
    if world is not None or layout.accumulate > 1:
        control.log(f"global batch {layout.global_batch}: {world_size} process(es) x {layout.accumulate} pass(es) x "
                    f"{layout.micro_batch} images; learning rate x {layout.lr_scale:g} (linear scaling rule)")
    shard = (world.rank, world.world_size) if world is not None else None
    micro = layout.micro_batch
    shard_size = -(-len(train_set) // world_size)  # DistributedSampler pads every shard to this size
    train_loader = make_loader(train_set, batch_size=micro, shuffle=True, num_workers=cfg.data.num_workers,
                               device_type=device.type, seed=cfg.train.seed, drop_last=shard_size % micro == 1,
                               sample_weights=sample_weights, shard=shard)
    val_loader = make_loader(val_set, batch_size=micro, shuffle=False, num_workers=cfg.data.num_workers,
                             device_type=device.type, seed=cfg.train.seed, shard=shard, pad_shard=False)
    loss_weights = None
    if cfg.train.class_weights == "auto":
        loss_weights = class_loss_weights(train_set.targets, task, len(classes)).to(device)
        control.log("class weights: " + ", ".join(f"{c} {w:.2f}" for c, w in zip(classes, loss_weights.tolist())))
    plan = RunPlan(
        config=cfg, run_dir=run_dir, device=device, classes=classes, task=task, monitor=monitor_for(cfg, task),
        preprocessing=pre, train_set=train_set, val_set=val_set, train_loader=train_loader, val_loader=val_loader,
        criterion=_criterion(task, cfg.optim.label_smoothing, loss_weights), amp_dtype=amp_dtype,
        known_sha1={Path(s.path): s.sha1 for s in train_samples + val_samples if s.sha1},
        train_sample_weights=sample_weights, channels_last=channels_last, world=world, layout=layout,
        forward_channels_last=forward_channels_last,
    )
    model_cfg = cfg.model if resume is None else dataclasses.replace(cfg.model, weights="none")
    control.log(f"building {cfg.model.name} ({cfg.model.weights if resume is None else 'resumed'} weights)", "debug")
    run = _model_and_optimizer(plan, build_model(model_cfg, len(classes)), resumed_phase=resume.phase if resume else None)
    if resume is not None:
        restore_progress(run, resume)
    return run


def _speed_ups(device: "torch.device", cfg: RunConfig, control: RunControl) -> "tuple[torch.dtype | None, bool, bool]":
    """(autocast dtype, channels-last, channels-last for forward passes alone) for the run: CUDA from
    train.amp/channels_last, the CPU from train.cpu_speed and the backbone's family."""
    import torch

    from ..device import cpu_capabilities, resolve_cpu_speed
    from ..evaluation.forward import autocast_dtype
    from ..models.registry import get_backbone

    if device.type != "cpu":
        channels_last = cfg.train.channels_last and device.type == "cuda"
        return autocast_dtype(device, cfg.train.amp), channels_last, channels_last
    torch.set_flush_denormal(True)  # tiny weights and gradients otherwise slow CPU kernels many-fold
    speed = resolve_cpu_speed(cfg.train.cpu_speed, cpu_capabilities(), get_backbone(cfg.model.name).family)
    if speed.note:
        control.log(speed.note, "warning")
    control.log(f"CPU speed-ups ({cfg.train.cpu_speed}): {speed.describe()}", "debug")
    return (torch.bfloat16 if speed.bf16 else None), speed.channels_last, speed.forward_channels_last


def monitor_for(config: RunConfig, task: str) -> str:
    """The metric that picks the best epoch: the configured one, or the task's default."""
    return default_monitor(task) if config.train.monitor == "auto" else config.train.monitor


def _model_and_optimizer(plan: RunPlan, model: "torch.nn.Module", resumed_phase: str | None) -> RunState:
    """Freeze as configured, move the model to the device, build the optimizer (and the fp16 scaler)."""
    import torch

    from ..models.build import spec_of
    from ..models.freezing import freeze_layer_groups, freeze_plan, trainable_parameter_groups
    from .loop import unfreeze
    from .schedule import build_optimizer

    cfg = plan.config
    freezing = freeze_plan(spec_of(model), cfg.freeze)
    freeze_layer_groups(model, freezing.frozen_names)
    model.to(plan.device)
    if plan.channels_last:
        model.to(memory_format=torch.channels_last)
    if not any(p.requires_grad for p in model.parameters()):
        raise DatasetError("every layer is frozen, so nothing would learn; unfreeze at least the head.")
    optimizer = build_optimizer(trainable_parameter_groups(model, cfg.optim.lr, 1.0), cfg.optim)
    scaler = torch.amp.GradScaler("cuda") if plan.amp_dtype == torch.float16 else None
    run = RunState(plan, model, optimizer, scaler, phase=freezing.phase_at(0))
    if resumed_phase == "finetune":
        unfreeze(run)
    return run


def _load_or_make_split(run_dir: Path, config: RunConfig, ds: "LabeledDataset", write: bool = True) -> "Split":
    """The run's saved split (split.json), or a new one saved there (``write``; other ranks make the same one)."""
    from ..data.split import read_split_file, split_dataset

    path = run_dir / "split.json"
    if path.is_file():
        return read_split_file(path, ds)
    data = config.data
    split = split_dataset(ds, val_fraction=data.val_fraction, test_fraction=data.test_fraction, seed=data.split_seed)
    if write:
        atomic_write_text(path, split.to_json(ds))
    return split


def _criterion(task: str, smoothing: float, weights: "torch.Tensor | None" = None) -> Criterion:
    """Cross-entropy (multi-class) or BCE with label smoothing (multi-label); ``weights`` per class
    (``training/balance.py``): cross-entropy's ``weight``, BCE's ``pos_weight``."""
    import torch

    if task == "multilabel":
        bce = torch.nn.BCEWithLogitsLoss(pos_weight=weights)

        def multilabel_loss(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
            targets = targets.float()
            if smoothing > 0:
                targets = targets * (1 - smoothing) + smoothing / 2
            return bce(logits.float(), targets)

        return multilabel_loss
    return torch.nn.CrossEntropyLoss(weight=weights, label_smoothing=smoothing)


def _decoded_image_cache(paths: list[Any], short_side: int, control: RunControl) -> dict:
    """Decode and shrink every image once, before loader workers fork (they inherit the cache)."""
    import time

    from ..data.loading import decode_into_cache

    started = time.perf_counter()
    cache = decode_into_cache(paths, short_side)
    control.log(f"decoded {len(cache)} images into memory in {time.perf_counter() - started:.1f}s")
    return cache
