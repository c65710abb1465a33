"""Everything a run needs before its first batch: data, split, loaders, model, freezing, optimizer."""

from __future__ import annotations

import dataclasses
import math
from typing import TYPE_CHECKING, Any

from .. import events as ev
from ..checkpoint import atomic_write_text
from ..errors import CheckpointError, DatasetError
from .loop import RunState

if TYPE_CHECKING:
    from ..data.split import Split
    from .trainer import Trainer


def prepare_run(trainer: "Trainer", state: dict[str, Any] | None) -> RunState:
    from ..data.loading import ImageDataset, encode_targets, make_loader
    from ..device import resolve_device
    from ..models.build import build_model, preprocessing_for
    from ..data.preprocess import eval_transform
    from ..data.transforms import train_transform
    from .trainer import monitor_for, open_dataset, restore_run_rng

    cfg = trainer.config
    ds = trainer.dataset
    if ds is None:
        trainer.emit(ev.LogLine(f"reading dataset {cfg.data.path}", "debug"))
        ds = open_dataset(cfg.data.path, cfg.data.format, cfg.data.images_root, cfg.data.task)
    elif cfg.data.task != "auto":
        ds.task = cfg.data.task
    from ..data.datasets import require_trainable

    require_trainable(ds)
    split = _load_or_make_split(trainer, ds)
    if state is None:
        atomic_write_text(trainer.run_dir / "config.yaml", cfg.to_yaml())
    classes = list(ds.classes)
    if state is not None and list(state["classes"]) != classes:
        raise CheckpointError(f"{trainer.run_dir}: the dataset's classes changed since this run started; start a new run.")
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
        trainer.emit(ev.LogLine(
            f"class(es) {', '.join(untrained)} have no training images (only in val or test), so the model cannot "
            "learn them; move some of their images into the training part.", "warning"))
    pre = preprocessing_for(cfg.model)
    device = resolve_device(cfg.train.device)
    if device.type == "cpu":
        import torch

        torch.set_flush_denormal(True)  # tiny weights and gradients otherwise slow CPU kernels many-fold
    task = ds.task
    cache = _decoded_image_cache([s.path for s in train_samples + val_samples], pre.resize_size, trainer) \
        if cfg.data.cache_images else None
    train_set = ImageDataset([s.path for s in train_samples], encode_targets(train_samples, classes, task),
                             train_transform(pre, cfg.augment), draft_size=pre.resize_size, cache=cache)
    val_set = ImageDataset([s.path for s in val_samples], encode_targets(val_samples, classes, task),
                           eval_transform(pre), draft_size=pre.resize_size, cache=cache)
    batch_size = cfg.train.batch_size
    if batch_size <= 0:
        from .autotune import auto_batch_size
        from ..models.registry import get_backbone

        batch_size = auto_batch_size(get_backbone(cfg.model.name), pre.image_size, device.type)
        cfg = trainer.config = cfg.replace(train=dataclasses.replace(cfg.train, batch_size=batch_size))
        trainer.emit(ev.LogLine(f"batch size {batch_size} chosen for {device.type}"))
    train_loader = make_loader(train_set, batch_size=batch_size, shuffle=True, num_workers=cfg.data.num_workers,
                               device_type=device.type, seed=cfg.train.seed, drop_last=len(train_set) % batch_size == 1)
    val_loader = make_loader(val_set, batch_size=batch_size, shuffle=False, num_workers=cfg.data.num_workers,
                             device_type=device.type, seed=cfg.train.seed)
    model_cfg = cfg.model if state is None else _without_weights(cfg.model)
    trainer.emit(ev.LogLine(f"building {cfg.model.name} ({cfg.model.weights if state is None else 'resumed'} weights)", "debug"))
    model = build_model(model_cfg, len(classes))
    run = RunState(
        config=cfg, run_dir=trainer.run_dir, device=device, classes=classes, task=task,
        monitor=monitor_for(cfg, task), preprocessing=pre, train_set=train_set, val_set=val_set,
        train_loader=train_loader, val_loader=val_loader, model=model, optimizer=None,  # type: ignore[arg-type]
        criterion=_criterion(task, cfg.optim.label_smoothing),
    )
    _setup_model_and_optimizer(run, state)
    if state is not None:
        _restore(run, state)
        restore_run_rng(state)
    return run


def _setup_model_and_optimizer(run: RunState, state: dict[str, Any] | None) -> None:
    import torch

    from ..models.build import spec_of
    from ..models.freezing import freeze_layer_groups, freeze_plan, trainable_parameter_groups
    from .schedule import build_optimizer

    cfg = run.config
    plan = freeze_plan(spec_of(run.model), cfg.freeze)
    freeze_layer_groups(run.model, plan.frozen_names)
    run.phase = plan.phase_at(0)
    run.model.to(run.device)
    if run.channels_last:
        run.model.to(memory_format=torch.channels_last)
    if not any(p.requires_grad for p in run.model.parameters()):
        raise DatasetError("every layer is frozen, so nothing would learn; unfreeze at least the head.")
    run.optimizer = build_optimizer(trainable_parameter_groups(run.model, cfg.optim.lr, 1.0), cfg.optim)
    if state is not None and state.get("phase") == "finetune":
        run.unfreeze()
    if run.device.type == "cuda" and cfg.train.amp:
        bf16 = torch.cuda.is_bf16_supported()
        run.amp_dtype = torch.bfloat16 if bf16 else torch.float16
        run.scaler = None if bf16 else torch.amp.GradScaler("cuda")


def _restore(run: RunState, state: dict[str, Any]) -> None:
    run.model.load_state_dict(state["model"])
    run.optimizer.load_state_dict(state["optimizer"])
    if run.scaler is not None and state.get("scaler"):
        run.scaler.load_state_dict(state["scaler"])
    run.step = int(state["step"])
    run.start_epoch = int(state["epoch"])
    run.history = list(state["history"])
    run.best_value = float(state.get("best_metric", -math.inf))
    run.best_epoch = int(state.get("best_epoch", -1))
    run.best_metrics = dict(state.get("best_metrics") or {})
    run.best_thresholds = state.get("best_thresholds")
    run.epochs_since_best = int(state.get("epochs_since_best", 0))


def _load_or_make_split(trainer: "Trainer", ds: Any) -> "Split":
    from ..data.split import read_split_file, split_dataset

    path = trainer.run_dir / "split.json"
    if path.is_file():
        return read_split_file(path, ds)
    data = trainer.config.data
    split = split_dataset(ds, val_fraction=data.val_fraction, test_fraction=data.test_fraction, seed=data.split_seed)
    atomic_write_text(path, split.to_json(ds))
    return split


def _criterion(task: str, smoothing: float):
    import torch

    if task == "multilabel":
        bce = torch.nn.BCEWithLogitsLoss()

        def multilabel_loss(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
            targets = targets.float()
            if smoothing > 0:
                targets = targets * (1 - smoothing) + smoothing / 2
            return bce(logits.float(), targets)

        return multilabel_loss
    return torch.nn.CrossEntropyLoss(label_smoothing=smoothing)


def _without_weights(model_cfg: Any) -> Any:
    import dataclasses

    return dataclasses.replace(model_cfg, weights="none")


def _decoded_image_cache(paths: list[Any], short_side: int, trainer: "Trainer") -> dict:
    """Decode and shrink every image once, in threads, before loader workers fork (they inherit it).

    Keys match ``ImageDataset``'s own cache keys, so unreadable files simply stay out and are
    handled by the dataset as usual.
    """
    import time
    from concurrent.futures import ThreadPoolExecutor

    from ..data.loading import ImageDataset

    started = time.perf_counter()
    probe = ImageDataset(paths, _zeros(len(paths)), lambda image: image, draft_size=short_side, cache={})

    def decode(index: int) -> None:
        try:
            probe._image(index)
        except Exception:  # noqa: BLE001 - the dataset reports unreadable files when it meets them
            pass

    with ThreadPoolExecutor(max_workers=4) as pool:
        list(pool.map(decode, range(len(paths))))
    trainer.emit(ev.LogLine(f"decoded {len(probe.cache)} images into memory in {time.perf_counter() - started:.1f}s"))
    return probe.cache


def _zeros(n: int) -> Any:
    import torch

    return torch.zeros(n)
