"""``imgcls train``: fine-tune a backbone on a dataset; ``--config`` replays a saved run, ``--resume`` continues one."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..engine.config import RunConfig, override
from ..engine.errors import ConfigError


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("train", help="train a classifier", description=__doc__)
    p.add_argument("data", nargs="?", help="dataset: class folders, train/val folders, a CSV, a VOC folder or an imgcls project")
    p.add_argument("--out", help="run folder to create (config.yaml, split.json, metrics.json, best.pt, last.pt)")
    p.add_argument("--config", help="a config.yaml/json (e.g. from an earlier run); flags given here override it")
    p.add_argument("--resume", metavar="RUN_DIR", help="continue a stopped run from its last.pt")
    d = p.add_argument_group("data")
    d.add_argument("--format", choices=["auto", "folder", "split-folders", "csv", "voc"])
    d.add_argument("--images-root", help="folder that CSV paths are relative to")
    d.add_argument("--task", choices=["auto", "multiclass", "multilabel"])
    d.add_argument("--val-fraction", type=float)
    d.add_argument("--test-fraction", type=float)
    d.add_argument("--split-seed", type=int)
    d.add_argument("--workers", type=int, dest="num_workers", help="DataLoader workers (-1 = auto)")
    m = p.add_argument_group("model")
    m.add_argument("--model", help="backbone name (see `imgcls models`)")
    m.add_argument("--weights", help="imagenet | none | PATH (state dict or imgcls checkpoint)")
    m.add_argument("--hidden-size", type=int)
    m.add_argument("--dropout", type=float)
    m.add_argument("--image-size", type=int)
    f = p.add_argument_group("freezing")
    f.add_argument("--freeze", help="none | head | N (first N layer groups) | two-phase")
    f.add_argument("--head-epochs", type=int, help="two-phase: epochs with only the head trained")
    f.add_argument("--lr-decay", type=float, help="two-phase: rate factor per layer group below the head")
    o = p.add_argument_group("optimization")
    o.add_argument("--optimizer", choices=["sgd", "adam", "adamw", "rmsprop", "adagrad", "adadelta"])
    o.add_argument("--lr", type=float)
    o.add_argument("--momentum", type=float)
    o.add_argument("--nesterov", action="store_true", default=None)
    o.add_argument("--weight-decay", type=float)
    o.add_argument("--l1", type=float)
    o.add_argument("--label-smoothing", type=float)
    o.add_argument("--scheduler", choices=["constant", "step", "cosine", "onecycle"])
    o.add_argument("--warmup-epochs", type=float)
    o.add_argument("--step-size", type=int)
    o.add_argument("--gamma", type=float)
    t = p.add_argument_group("loop")
    t.add_argument("--epochs", type=int)
    t.add_argument("--batch-size", type=int)
    t.add_argument("--seed", type=int)
    t.add_argument("--device", help="auto | cpu | cuda | cuda:N | mps")
    t.add_argument("--no-amp", dest="amp", action="store_false", default=None, help="disable mixed precision on CUDA")
    t.add_argument("--early-stopping", type=int, dest="early_stopping_patience", metavar="PATIENCE")
    t.add_argument("--monitor", help="validation metric for best.pt/early stopping (auto: accuracy or map)")
    a = p.add_argument_group("augmentation")
    a.add_argument("--no-crop", dest="random_resized_crop", action="store_false", default=None)
    a.add_argument("--crop-scale-min", type=float)
    a.add_argument("--no-hflip", dest="hflip", action="store_false", default=None)
    a.add_argument("--vflip", action="store_true", default=None)
    a.add_argument("--rotation", type=float, dest="rotation_degrees")
    a.add_argument("--color-jitter", type=float)
    a.add_argument("--blur", type=float, dest="gaussian_blur", help="probability of a Gaussian blur")
    p.add_argument("--quiet", action="store_true", help="one line per epoch, no progress bars")
    p.set_defaults(func=run)


def config_from_args(args: argparse.Namespace) -> RunConfig:
    """Base config (file or defaults) with every flag the user gave applied on top."""
    cfg = RunConfig.from_file(args.config) if args.config else RunConfig()
    v = vars(args)
    pick = lambda *names: {n: v.get(n) for n in names}  # noqa: E731
    freeze_mode, freeze_groups = _parse_freeze(args.freeze)
    return cfg.replace(
        data=override(cfg.data, path=args.data, **pick("format", "images_root", "task", "val_fraction",
                                                      "test_fraction", "split_seed", "num_workers")),
        model=override(cfg.model, name=args.model, **pick("weights", "hidden_size", "dropout", "image_size")),
        freeze=override(cfg.freeze, mode=freeze_mode, groups=freeze_groups, **pick("head_epochs", "lr_decay")),
        optim=override(cfg.optim, **pick("optimizer", "lr", "momentum", "nesterov", "weight_decay", "l1",
                                         "label_smoothing", "scheduler", "warmup_epochs", "step_size", "gamma")),
        train=override(cfg.train, **pick("epochs", "batch_size", "seed", "device", "amp",
                                         "early_stopping_patience", "monitor")),
        augment=override(cfg.augment, **pick("random_resized_crop", "crop_scale_min", "hflip", "vflip",
                                             "rotation_degrees", "color_jitter", "gaussian_blur")),
    )


def _parse_freeze(value: str | None) -> tuple[str | None, int | None]:
    if value is None:
        return None, None
    if value.isdigit():
        return "first-n", int(value)
    if value in ("none", "head", "two-phase", "first-n"):
        return value, None
    raise ConfigError(f"--freeze {value!r}: use none, head, two-phase or a number of layer groups.")


def run(args: argparse.Namespace) -> int:
    from ..engine.training.trainer import Trainer
    from .progress import TerminalProgress

    callbacks = [TerminalProgress(quiet=args.quiet)]
    if args.resume:
        trainer = Trainer(RunConfig(), args.resume, callbacks=callbacks)
        result = trainer.fit(resume=True)
    else:
        cfg = config_from_args(args)
        if not cfg.data.path:
            raise ConfigError("no dataset given: `imgcls train DATA --out RUN_DIR` (or a --config naming data.path).")
        if not args.out:
            raise ConfigError("no run folder given: add --out RUN_DIR.")
        out = Path(args.out)
        if (out / "last.pt").exists():
            raise ConfigError(f"{out} already holds a run; use --resume {out} to continue it, or another --out.")
        result = Trainer(cfg, out, callbacks=callbacks).fit()
    print(f"run folder: {result.run_dir}")
    return 1 if result.stopped else 0
