"""The ``imgcls`` command line: train, tune, lr-find, evaluate, export, predict, explain, inspect, models.

Each sub-command lives in ``imgcls_gui/commands/<name>.py`` with ``register(subparsers)``; this
module only builds the parser and turns engine errors into one clear line and a non-zero exit.
No Qt here, ever.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Sequence

from . import __version__
from .engine import ImgclsError

COMMAND_MODULES = ("train", "tune", "lr_find", "evaluate", "export", "predict", "explain", "inspect", "diagnose",
                   "models")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="imgcls", description="Train, evaluate, export and run image classifiers by transfer learning."
    )
    parser.add_argument("--version", action="version", version=f"imgcls {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in COMMAND_MODULES:
        try:
            module = importlib.import_module(f"imgcls_gui.commands.{name}")
        except ModuleNotFoundError as exc:
            if exc.name == f"imgcls_gui.commands.{name}":
                continue  # a command not built yet must not break the others
            raise
        module.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    args.argv = list(sys.argv[1:] if argv is None else argv)  # what `train --nproc-per-node` runs in each process
    try:
        return int(args.func(args) or 0)
    except ImgclsError as exc:
        from .commands.text import error_line
        from .engine import launched_by_torchrun, process_rank, record_rank_failure

        record_rank_failure(exc)  # under torchrun: the launcher names this rank and this message
        where = f"process {process_rank()}: " if launched_by_torchrun() else ""
        print(f"imgcls: error: {where}{error_line(exc)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("imgcls: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:
        if os.environ.get("TORCHELASTIC_ERROR_FILE"):  # a torchrun worker: let the launcher report the cause
            from .engine import record_rank_failure

            record_rank_failure(exc)
        raise


if __name__ == "__main__":
    sys.exit(main())
