"""``imgcls train``: fine-tune a backbone on a dataset; ``--config`` replays a saved run, ``--resume`` continues one.

Every ``RunConfig`` option gets its flag from the engine's option table (``run_options()``): name,
help, choices and valid range are written once, there. Numbers are parsed and range-checked
here, so a bad value ends in one ``imgcls: error: --lr ...`` line that names the valid range.
"""

from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path
from typing import Any

from ..engine import (
    PRESETS, ConfigError, OptionSpec, OptionValueError, RunConfig, apply_preset, option_spec, preset_named, run_options,
)

SECTION_TITLES = {"data": "data", "augment": "augmentation", "model": "model", "freeze": "freezing",
                  "optim": "optimization", "train": "loop"}
# Options without a flag of their own: the positional DATA, and --freeze N for the first-n count.
SET_ANOTHER_WAY = {"data.path": "DATA", "freeze.groups": "--freeze N"}
# Allowed beside --resume (a flag that only says how to run, not what to train, belongs here).
RESUME_KEEPS = ("resume", "train.epochs", "quiet", "func", "command", "nproc_per_node", "argv")


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("train", help="train a classifier", description="Fine-tune a backbone on a dataset. "
                       "--config replays a saved run, --resume continues one. Numbers are checked against their "
                       "valid range before anything starts.")
    p.add_argument("data", nargs="?", help="dataset: class folders, train/val folders, a CSV, a VOC folder or an imgcls project")
    p.add_argument("--out", help="run folder to create (config.yaml, split.json, metrics.json, best.pt, last.pt)")
    p.add_argument("--config", help="a config.yaml/json (e.g. from an earlier run); flags given here override it")
    p.add_argument("--resume", metavar="RUN_DIR", help="continue a stopped run from its last.pt; with --epochs N, "
                   "train a finished or stopped run on up to N epochs (no other flag may be given)")
    p.add_argument("--preset", metavar="NAME", help="start from one of the Training panel's presets: "
                   + "; ".join(f"{preset.cli_name} ({preset.purpose.rstrip('.')})" for preset in PRESETS)
                   + ". Written over --config's values; flags given here override both")
    add_run_option_flags(p)
    p.add_argument("--force", action="store_true", help="train into an --out folder that already holds other files")
    p.add_argument("--quiet", action="store_true", help="one line per epoch, no progress bars")
    p.add_argument("--nproc-per-node", type=int, metavar="N", help="train data-parallel in N processes on this "
                   "machine (one per GPU; Gloo on CPU) through torch.distributed.run; --batch-size is per process and "
                   "the learning rate is scaled by N (see the README). For several machines, start "
                   "`torchrun ... -m imgcls_gui.cli train ...` on each instead")
    p.set_defaults(func=run)


def add_run_option_flags(parser: argparse.ArgumentParser, title_prefix: str = "") -> None:
    """One flag per run option that has one, in a group per config section (``imgcls tune`` shares them)."""
    groups = {section: parser.add_argument_group(title_prefix + title) for section, title in SECTION_TITLES.items()}
    for spec in run_options():
        if spec.flag is not None:
            add_option_flag(groups[spec.section], spec)


def add_option_flag(group: Any, spec: OptionSpec) -> None:
    """The flag of one option: its help says the valid values and the default."""
    values = _values_and_default(spec)
    text = (f"{spec.option.help} ({values})" if values else spec.option.help).replace("%", "%%")
    if spec.kind is bool:
        group.add_argument(spec.flag, dest=spec.name, action=argparse.BooleanOptionalAction, default=None, help=text)
    elif spec.name == "freeze.mode":
        group.add_argument(spec.flag, dest=spec.name, metavar="{none,head,N,two-phase}",
                           help="none: every layer trains; head: only the new head; N: the first N layer groups "
                           "stay frozen; two-phase: the head alone for --head-epochs, then everything at smaller "
                           "rates for earlier groups (--lr-decay)")
    else:
        metavar = spec.option.metavar or ("{" + ",".join(spec.choices) + "}" if spec.choices else
                                          {int: "N", float: "X"}.get(spec.kind, spec.key.upper()))
        group.add_argument(spec.flag, dest=spec.name, metavar=metavar, help=text)


def _values_and_default(spec: OptionSpec) -> str:
    if spec.kind is bool:
        return f"default: {'on' if spec.default else 'off'}"
    if spec.choices or spec.kind is str:
        return "" if spec.default in ("", None) else f"default: {spec.default}"
    return f"{spec.range_text()}; default: {spec.default}"


def config_from_args(args: argparse.Namespace) -> RunConfig:
    """Base config (file or defaults), then the preset's values, then every flag the user gave (checked
    against its range) on top."""
    cfg = RunConfig.from_file(args.config) if args.config else RunConfig()
    if getattr(args, "preset", None):
        cfg = apply_preset(cfg, preset_named(args.preset))
    given = vars(args)
    changes: dict[str, dict[str, Any]] = {}
    for spec in run_options():
        raw = given.get(spec.name)
        if raw is None:
            continue
        if spec.name == "freeze.mode":
            mode, count = parse_freeze(raw)
            changes.setdefault("freeze", {}).update(mode=mode, **({} if count is None else {"groups": count}))
        else:
            changes.setdefault(spec.section, {})[spec.key] = flag_value(spec, raw)
    if args.data is not None:
        changes.setdefault("data", {})["path"] = args.data
    return cfg.replace(**{name: dataclasses.replace(getattr(cfg, name), **values) for name, values in changes.items()})


def flag_value(spec: OptionSpec, raw: Any) -> Any:
    """``raw`` (the flag's text) as the option's type, refused with the valid range when it does not fit."""
    if spec.kind is bool:
        return raw
    if spec.choices and raw not in spec.choices:
        raise ConfigError(f"{spec.flag} {raw}: use {spec.range_text()}.")
    value: Any = raw
    if spec.kind in (int, float):
        try:
            value = spec.kind(raw)
        except ValueError:
            raise ConfigError(f"{spec.flag} {raw}: expected {spec.range_text()}.") from None
    problem = spec.problem(value)
    if problem:
        raise OptionValueError(f"{spec.flag} {raw} {problem}.", spec.name, raw, problem)
    return value


def parse_freeze(value: str) -> tuple[str, int | None]:
    """``--freeze`` text: none | head | two-phase | first-n | N (freeze the first N layer groups)."""
    if value.isdigit():
        return "first-n", int(value)
    if value in ("none", "head", "two-phase", "first-n"):
        return value, None
    raise ConfigError(f"--freeze {value}: use none, head, two-phase or a number of layer groups (0 or more).")


def flags_given_with_resume(args: argparse.Namespace) -> list[str]:
    """The flags given besides --resume, --epochs and --quiet, as the user typed them."""
    named = {spec.name: spec for spec in run_options()}
    given = []
    for dest, value in vars(args).items():
        spec = named.get(dest)
        # Not given: None, or False/"" for a plain switch or text (an option's False is its --no-X).
        if value is None or dest in RESUME_KEEPS or (spec is None and value in (False, "")):
            continue
        if spec is None:
            given.append("DATA" if dest == "data" else f"--{dest.replace('_', '-')}")
        elif spec.kind is bool:
            given.append(spec.flag if value else f"--no-{spec.flag[2:]}")
        else:
            given.append(spec.flag)
    return given


def run(args: argparse.Namespace) -> int:
    from ..engine import Trainer, freeze_plan, get_backbone, launch_local, launched_by_torchrun, process_rank, \
        refuse_busy_folder
    from .progress import TerminalProgress

    if args.nproc_per_node is not None and not launched_by_torchrun():
        check_before_launch(args)
        launch_local(args.nproc_per_node, "imgcls_gui.cli", args.argv)  # each process runs this command again
        return 0
    main_rank = process_rank() == 0  # under torchrun only rank 0 prints (and writes the run folder)

    callbacks = [TerminalProgress(quiet=args.quiet)]
    if args.resume:
        others = flags_given_with_resume(args)
        if others:
            raise ConfigError(
                f"{others[0]} cannot be given with --resume: a resumed run keeps its own settings (only --epochs N, "
                f"to train it further, may be given); to change them, start a new run with --config "
                f"{Path(args.resume) / 'config.yaml'} {others[0]} ... --out NEW_RUN."
            )
        raw_epochs = vars(args).get("train.epochs")
        epochs = None if raw_epochs is None else flag_value(option_spec("train.epochs"), raw_epochs)
        result = Trainer(RunConfig(), args.resume, callbacks=callbacks).fit(resume=True, epochs=epochs)
    else:
        cfg = config_from_args(args)
        if not cfg.data.path:
            raise ConfigError("no dataset given: `imgcls train DATA --out RUN_DIR` (or a --config naming data.path).")
        if not args.out:
            raise ConfigError("no run folder given: add --out RUN_DIR.")
        out = Path(args.out)
        if main_rank:  # the other ranks of a torchrun launch would see the files rank 0 has begun writing
            if (out / "last.pt").exists() and not args.force:
                raise ConfigError(f"{out} already holds a run; use --resume {out} to continue it, or another --out.")
            refuse_busy_folder(out, force=args.force,
                               what="the run's config.yaml, split.json, metrics.json and checkpoints")
        if not args.quiet and main_rank:
            print(f"freezing: {freeze_plan(get_backbone(cfg.model.name), cfg.freeze).describe()}")
        result = Trainer(cfg, out, callbacks=callbacks).fit()
    if main_rank:
        print(f"run folder: {result.run_dir}")
    return 1 if result.stopped else 0


def check_before_launch(args: argparse.Namespace) -> None:
    """The mistakes worth one clear line before any process starts: a bad flag, a busy --out, no data."""
    if args.resume:
        if not (Path(args.resume) / "last.pt").is_file():
            raise ConfigError(f"{args.resume}: no last.pt to resume from; give the run folder of a stopped run.")
        return
    cfg = config_from_args(args)
    if not cfg.data.path or not args.out:
        raise ConfigError("no dataset or run folder given: `imgcls train DATA --out RUN_DIR --nproc-per-node N`.")
    out = Path(args.out)
    if (out / "last.pt").exists() and not args.force:
        raise ConfigError(f"{out} already holds a run; use --resume {out} to continue it, or another --out.")
