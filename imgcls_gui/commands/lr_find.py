"""``imgcls lr-find``: sweep the learning rate on a dataset and suggest one to train at.

Takes train's model, freezing, optimizer, data and loop flags (from the same option table), so
the sweep runs on the run ``imgcls train`` would start with them: ``--lr`` is only the reference
drawn on the plot. Writes ``lr_find.json`` and ``lr_find.png`` (plus the config.yaml and
split.json of the setup) into ``--out``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from ..engine import ConfigError, events as ev, run_options
from .text import terminal_safe
from .train import SECTION_TITLES, add_option_flag, config_from_args

# Options that only shape a whole run's length or schedule: a sweep sets its own rates and steps.
NOT_FOR_A_SWEEP = frozenset({"train.epochs", "optim.scheduler", "optim.warmup_epochs", "optim.step_size",
                             "optim.gamma", "train.early_stopping_patience", "train.monitor", "freeze.head_epochs"})
SUGGESTION_HELP = "valley (recommended), steepest descent, minimum/10"


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("lr-find", help="find a learning rate to train at", description=(
        "Learning-rate range test: train a few hundred steps at rates growing exponentially, stop when the loss "
        f"diverges, and suggest rates ({SUGGESTION_HELP}). Model and data options are train's; the sweep runs on "
        "cached features when the backbone is frozen."))
    p.add_argument("data", nargs="?", help="dataset: class folders, train/val folders, a CSV, a VOC folder or an imgcls project")
    p.add_argument("--out", help="folder for lr_find.json, lr_find.png and the setup's config.yaml and split.json")
    p.add_argument("--config", help="a config.yaml/json (e.g. from an earlier run); flags given here override it")
    sweep = p.add_argument_group("sweep")
    sweep.add_argument("--start-lr", type=float, default=None, metavar="X", help="first rate tried (default: 1e-07)")
    sweep.add_argument("--end-lr", type=float, default=None, metavar="X", help="last rate tried (default: 10)")
    sweep.add_argument("--steps", type=int, default=None, metavar="N",
                       help="optimizer steps from the first rate to the last (10 to 10000; default: 200)")
    groups = {section: p.add_argument_group(title) for section, title in SECTION_TITLES.items()}
    for spec in run_options():
        if spec.flag is not None and spec.name not in NOT_FOR_A_SWEEP:
            add_option_flag(groups[spec.section], spec)
    p.add_argument("--force", action="store_true", help="write into an --out folder that already holds other files")
    p.add_argument("--quiet", action="store_true", help="no progress bar, only the result")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..engine import find_lr, refuse_busy_folder

    cfg = config_from_args(args)
    if not cfg.data.path:
        raise ConfigError("no dataset given: `imgcls lr-find DATA --out DIR` (or a --config naming data.path).")
    if not args.out:
        raise ConfigError("no output folder given: add --out DIR.")
    out = Path(args.out)
    refuse_busy_folder(out, force=args.force, what="the sweep's lr_find.json, lr_find.png, config.yaml and split.json")
    sweep = {name: value for name, value in (("start_lr", args.start_lr), ("end_lr", args.end_lr),
                                             ("steps", args.steps)) if value is not None}
    progress = SweepProgress(quiet=args.quiet)
    try:
        result = find_lr(cfg, out, callbacks=[progress], **sweep)
    finally:
        progress.close()
    where = "cached backbone features (frozen backbone)" if result.on_features else "the whole model"
    last = f"{result.lrs[-1]:.2g}, where the loss diverged" if result.diverged and result.lrs else f"{result.end_lr:g}"
    print(f"swept {len(result.lrs)} of {result.steps} steps, rates {result.start_lr:g} to {last}, on {where}")
    for note in result.notes:
        print(f"note: {note}")
    recommended = result.recommended
    if recommended is None:
        print(f"no learning rate suggested; see {out / 'lr_find.png'}")
        return 1
    print("suggested learning rates:")
    for index, (rule, lr) in enumerate(result.suggestions.items()):
        print(f"  {rule:<11} {lr:.2e}" + ("  (recommended)" if index == 0 else ""))
    print(f"  {'current':<11} {result.current_lr:.2e}  (--lr)")
    print(f"train with --lr {recommended:.2e}; plot: {out / 'lr_find.png'}, figures: {out / 'lr_find.json'}")
    return 0


class SweepProgress:
    """An engine callback drawing one tqdm bar over the sweep's steps on stderr, with the rate and loss."""

    def __init__(self, quiet: bool = False) -> None:
        self.quiet = quiet
        self.bar: Any = None

    def on_event(self, event: Any) -> None:
        from tqdm import tqdm

        if isinstance(event, ev.LrFindStep) and not self.quiet:
            if self.bar is None:
                self.bar = tqdm(total=event.steps, desc="lr sweep", unit="step", file=sys.stderr, dynamic_ncols=True)
            self.bar.set_postfix(lr=f"{event.lr:.2e}", loss=f"{event.smoothed:.3f}", refresh=False)
            self.bar.update(event.step + 1 - self.bar.n)  # redraws at most ~10 times a second
        elif isinstance(event, ev.LogLine) and event.level != "debug":
            message = terminal_safe(event.message)  # log lines quote file and class names
            if self.bar is not None:
                self.bar.write(message, file=sys.stderr)
            else:
                print(message, file=sys.stderr)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None
