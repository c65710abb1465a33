"""``imgcls tune``: search training settings with Optuna; ``--resume`` continues a search that was stopped or killed.

The base run is set with the same flags as ``imgcls train`` (from the option table), the searched
parameters by a space file (``--space``; ``--show-space`` prints the default one to start from).
Each trial is a run folder under ``OUT/trials/``; ``OUT/trials.csv``, ``OUT/best/config.yaml`` and
``OUT/importance.json`` hold the results.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from pathlib import Path

from ..engine import ConfigError
from ..engine import events as ev
from .text import terminal_safe
from .train import add_run_option_flags, config_from_args, flags_given_with_resume


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("tune", help="search training settings (learning rate, regularisation, freezing...)",
                       description="Search training settings with Optuna (TPE sampler, pruning of trials that trail "
                       "the others). Every trial is a run folder under OUT/trials/; results go to OUT/trials.csv, "
                       "OUT/best/config.yaml (replay with imgcls train --config) and OUT/importance.json. The run "
                       "options below set the base every trial starts from; --epochs is per trial.")
    p.add_argument("data", nargs="?", help="dataset: class folders, train/val folders, a CSV, a VOC folder or an imgcls project")
    p.add_argument("--out", help="search folder to create")
    p.add_argument("--resume", metavar="DIR", help="continue the search in DIR (finished trials are kept; one that "
                   "was running is tried again); --trials and --timeout may be given")
    p.add_argument("--trials", type=int, metavar="N", help="trials in all (default 20)")
    p.add_argument("--timeout", type=float, metavar="S", help="start no trial after S seconds (default: no limit)")
    p.add_argument("--space", metavar="SPACE_YAML", help="the parameters to search and their ranges (default: "
                   "--show-space's)")
    p.add_argument("--show-space", action="store_true", help="print the default search space (a space file to edit) and exit")
    p.add_argument("--metric", choices=("auto", "accuracy", "f1_macro", "map", "roc_auc_macro", "val_loss"),
                   help="validation metric to optimise (default auto: accuracy, or mAP for multi-label)")
    p.add_argument("--pruner", choices=("median", "halving", "none"), help="stop trials trailing the others: "
                   "median (default), halving (successive halving) or none")
    p.add_argument("--sampler-seed", type=int, metavar="N", help="seed of the sampler (default 0); runs keep --seed")
    p.add_argument("--config", help="a config.yaml to start every trial from; flags given here override it")
    add_run_option_flags(p, "base run: ")
    p.add_argument("--force", action="store_true", help="search into an --out folder that already holds other files")
    p.add_argument("--quiet", action="store_true", help="one line per trial, no progress bar")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..engine import (DEFAULT_SPACE_YAML, SEARCH_FILE, Search, SearchSettings, default_space, read_space,
                          refuse_busy_folder)

    if args.show_space:
        print(DEFAULT_SPACE_YAML, end="")
        return 0
    progress = TuneProgress(quiet=args.quiet)
    if args.resume:
        others = [flag for flag in flags_given_with_resume(args) if flag not in ("--trials", "--timeout")]
        others += ["--epochs"] if vars(args).get("train.epochs") is not None else []
        if others:
            raise ConfigError(f"{others[0]} cannot be given with --resume: a resumed search keeps its settings "
                              "(only --trials and --timeout may be given).")
        _check_counts(args)
        result = Search(args.resume, callbacks=[progress]).resume(trials=args.trials, timeout_s=args.timeout)
    else:
        base = config_from_args(args)
        if not base.data.path:
            raise ConfigError("no dataset given: `imgcls tune DATA --out DIR` (or a --config naming data.path).")
        if not args.out:
            raise ConfigError("no search folder given: add --out DIR.")
        _check_counts(args)
        if (Path(args.out) / SEARCH_FILE).exists():
            raise ConfigError(f"{args.out} already holds a search; continue it with --resume {args.out}, or choose "
                              "another --out.")
        refuse_busy_folder(args.out, force=args.force, what="the search's trials, study.sqlite and results")
        space = read_space(args.space) if args.space else default_space()
        settings = SearchSettings(trials=20 if args.trials is None else args.trials, timeout_s=args.timeout or 0.0,
                                  metric=args.metric or "auto", pruner=args.pruner or "median",
                                  seed=args.sampler_seed or 0)
        result = Search(args.out, callbacks=[progress]).start(base, space, settings)
    progress.close()
    _print_summary(result)
    return 1 if result.stopped else 0


def _check_counts(args: argparse.Namespace) -> None:
    if args.trials is not None and args.trials < 1:
        raise ConfigError(f"--trials {args.trials} is out of range; use a whole number >= 1.")
    if args.timeout is not None and not args.timeout >= 0:
        raise ConfigError(f"--timeout {args.timeout} is out of range; use a number of seconds >= 0.")


def _print_summary(result: Any) -> None:
    out = result.folder
    done = [t for t in result.trials if t.state in ("complete", "pruned")]
    pruned = sum(t.state == "pruned" for t in result.trials)
    _print(f"{'stopped' if result.stopped else 'done'}: {len(done)} trial(s) finished ({pruned} pruned)")
    if result.best is not None:
        _print(f"best: trial {result.best.number}, {result.metric} {result.best.value:.4f}  {_params(result.best.params)}")
        _print(f"best settings: {out / 'best' / 'config.yaml'} (imgcls train --config ... to train them fully)")
    if result.importance:
        _print("parameter importance (fANOVA):")
        for name, value in result.importance.items():
            _print(f"  {name:<18} {value:6.3f}  {'#' * round(value * 40)}")
    _print(f"trials: {out / 'trials.csv'}")


def _params(params: dict[str, Any]) -> str:
    return " ".join(f"{k}={v:.3g}" if isinstance(v, float) else f"{k}={v}" for k, v in params.items())


def _print(message: str, bar: Any = None) -> None:
    message = terminal_safe(message)
    if bar is not None:
        bar.write(message, file=sys.stderr)
    else:
        print(message, file=sys.stderr)


class TuneProgress:
    """An engine callback for searches: a bar over trials and one line per finished trial (stderr)."""

    def __init__(self, quiet: bool = False) -> None:
        self.quiet = quiet
        self.bar: Any = None
        self.metric = ""
        self.trials = 0

    def on_event(self, event: Any) -> None:
        if isinstance(event, ev.SearchStart):
            self.metric, self.trials = event.metric, event.trials
            resumed = f", {event.done} already finished" if event.done else ""
            _print(f"searching {', '.join(event.parameters) or 'nothing (every parameter fixed)'} over "
                   f"{event.trials} trials{resumed}; judged by validation {event.metric} ({event.direction})")
            if not self.quiet:
                from tqdm import tqdm

                self.bar = tqdm(total=event.trials, initial=event.done, desc="search", unit="trial",
                                file=sys.stderr, dynamic_ncols=True)
        elif isinstance(event, ev.TrialEnd):
            value = "-" if event.value is None else f"{event.value:.4f}"
            best = "" if event.best_value is None else f"  best {event.best_value:.4f} (#{event.best_number})"
            _print(f"trial {event.number}: {event.state:<8} {self.metric}={value}{best}  {event.seconds:.1f}s, "
                   f"{event.epochs_run} epoch(s)  {_params(event.params)}", bar=self.bar)
            if self.bar is not None and event.state in ("complete", "pruned"):
                self.bar.update(1)
        elif isinstance(event, ev.LogLine) and event.level == "warning":
            _print(event.message, bar=self.bar)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None
