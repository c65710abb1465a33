"""``imgcls export``: a run's model as one self-contained ONNX file or TorchScript, checked against
PyTorch before it is written; ``--bundle DIR`` adds labels, a README and a stand-alone predict.py."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..engine import ExportError
from .text import terminal_safe


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("export", help="export a trained run to ONNX or TorchScript", description=__doc__)
    p.add_argument("run", help="run folder (or a .pt checkpoint)")
    p.add_argument("--format", choices=["onnx", "torchscript"], default="onnx")
    p.add_argument("--out", help="file to write (.onnx for ONNX)")
    p.add_argument("--bundle", metavar="DIR", help="also write DIR/model.onnx, labels.json, README.md, predict.py")
    p.add_argument("--opset", type=int, help="ONNX opset (default: the exporter's current one)")
    p.add_argument("--force", action="store_true", help="replace an existing --out file or the bundle's files")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..engine import export_bundle, export_onnx, export_torchscript

    if not args.out and not args.bundle:
        raise ExportError("nothing to write: give --out PATH, --bundle DIR, or both.")
    _refuse_overwrites(args)
    if args.out:
        out = Path(args.out)
        if args.format == "onnx" and out.suffix.lower() != ".onnx":
            raise ExportError(f"{out}: an ONNX file must end in .onnx (that is how imgcls predict recognises it).")
        _make_parent(out)
        if args.format == "onnx":
            report = export_onnx(args.run, out, opset=args.opset)
        else:
            report = export_torchscript(args.run, out)
        print(terminal_safe(report.summary()))  # the summary names the model's classes
    if args.bundle:
        report = export_bundle(args.run, args.bundle, opset=args.opset)
        print(terminal_safe(report.summary()))  # the summary names the model's classes
        print(f"bundle ready: {args.bundle} (model.onnx, labels.json, README.md, predict.py)")
    return 0


def _refuse_overwrites(args: argparse.Namespace) -> None:
    """Before any work: never replace the run's checkpoint, an existing file or a user's own README.md
    or predict.py without --force."""
    from ..engine import BUNDLE_FILES, refuse_to_replace, refuse_to_replace_source

    run = Path(args.run)
    if args.out:
        sources = [run / "best.pt", run / "last.pt"] if run.is_dir() else [run]
        refuse_to_replace_source(args.out, sources, force=args.force)
        refuse_to_replace([args.out], force=args.force, fix="choose another --out")
    if args.bundle:
        bundle = Path(args.bundle)
        refuse_to_replace([bundle / name for name in BUNDLE_FILES], force=args.force,
                          fix=f"a bundle writes {', '.join(BUNDLE_FILES)}; choose a new or empty --bundle folder")


def _make_parent(path: Path) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ExportError(f"{path.parent}: cannot create the output folder ({exc.strerror or exc}).") from exc
