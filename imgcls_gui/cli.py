"""The ``imgcls`` command line: train, tune, lr-find, evaluate, export, predict, explain, inspect, models.

Each sub-command lives in ``imgcls_gui/commands/<name>.py`` with ``register(subparsers)``; this
module only builds the parser and turns engine errors into one clear line and a non-zero exit.
No Qt here, ever.
"""

from __future__ import annotations

import argparse
import importlib
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
    try:
        return int(args.func(args) or 0)
    except ImgclsError as exc:
        from .commands.text import error_line

        print(f"imgcls: error: {error_line(exc)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("imgcls: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
