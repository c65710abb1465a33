"""``imgcls export``: a run's model as one self-contained ONNX file or TorchScript, checked against
PyTorch before it is written; ``--bundle DIR`` adds labels, a README and a stand-alone predict.py.
``--int8`` quantizes the ONNX model, calibrated on the run's training images, and writes it only when
it agrees with the fp32 model on enough of the run's validation images (the report is printed, saved
beside the model and kept in its metadata)."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..engine import DEFAULT_CALIBRATION_IMAGES, DEFAULT_MIN_AGREEMENT, ExportError
from .text import terminal_safe


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("export", help="export a trained run to ONNX or TorchScript", description=__doc__)
    p.add_argument("run", help="run folder (or a .pt checkpoint)")
    p.add_argument("--format", choices=["onnx", "torchscript"], default="onnx")
    p.add_argument("--out", help="file to write (.onnx for ONNX)")
    p.add_argument("--bundle", metavar="DIR", help="also write DIR/model.onnx, labels.json, README.md, predict.py")
    p.add_argument("--opset", type=int, help="ONNX opset (default: the exporter's current one)")
    p.add_argument("--int8", action="store_true",
                   help="ONNX INT8 (static quantization, calibrated on the run's training images; refused when it "
                        "disagrees with fp32 on the validation images too often)")
    p.add_argument("--calibration-images", type=int, metavar="N", help=f"--int8: training images to calibrate on "
                   f"(default {DEFAULT_CALIBRATION_IMAGES})")
    p.add_argument("--min-agreement", type=float, metavar="X", help=f"--int8: least share of validation images "
                   f"whose top-1 must match fp32, 0 to 1 (default {DEFAULT_MIN_AGREEMENT})")
    p.add_argument("--force", action="store_true", help="replace an existing --out file or the bundle's files")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..engine import export_bundle, export_onnx, export_torchscript

    if not args.out and not args.bundle:
        raise ExportError("nothing to write: give --out PATH, --bundle DIR, or both.")
    _check_int8_flags(args)
    _refuse_overwrites(args)
    if args.out:
        out = Path(args.out)
        if args.format == "onnx" and out.suffix.lower() != ".onnx":
            raise ExportError(f"{out}: an ONNX file must end in .onnx (that is how imgcls predict recognises it).")
        _make_parent(out)
        if args.int8:
            report = _export_int8(args, out, bundle=False)
        elif args.format == "onnx":
            report = export_onnx(args.run, out, opset=args.opset)
        else:
            report = export_torchscript(args.run, out)
        print(terminal_safe(report.summary()))  # the summary names the model's classes
    if args.bundle:
        report = _export_int8(args, Path(args.bundle), bundle=True) if args.int8 else export_bundle(
            args.run, args.bundle, opset=args.opset)
        print(terminal_safe(report.summary()))  # the summary names the model's classes
        print(f"bundle ready: {args.bundle} (model.onnx, labels.json, README.md, predict.py)")
    return 0


def _check_int8_flags(args: argparse.Namespace) -> None:
    if args.int8 and args.format != "onnx":
        raise ExportError("--int8 makes an ONNX model; drop --format torchscript.")
    if not args.int8 and (args.calibration_images is not None or args.min_agreement is not None):
        raise ExportError("--calibration-images and --min-agreement apply to --int8 exports only; add --int8.")
    if args.calibration_images is not None and args.calibration_images < 1:
        raise ExportError(f"--calibration-images must be at least 1 (got {args.calibration_images}).")
    if args.min_agreement is not None and not 0.0 <= args.min_agreement <= 1.0:
        raise ExportError(f"--min-agreement is a share from 0 to 1, e.g. 0.97 (got {args.min_agreement}).")


def _export_int8(args: argparse.Namespace, out: Path, *, bundle: bool):
    from ..engine import export_bundle_int8, export_onnx_int8

    options = {"opset": args.opset}
    if args.calibration_images is not None:
        options["calibration_images"] = args.calibration_images
    if args.min_agreement is not None:
        options["min_agreement"] = args.min_agreement
    return (export_bundle_int8 if bundle else export_onnx_int8)(args.run, out, **options)


def _refuse_overwrites(args: argparse.Namespace) -> None:
    """Before any work: never replace the run's checkpoint, an existing file or a user's own README.md
    or predict.py without --force."""
    from ..engine import BUNDLE_FILES, quantization_report_path, refuse_to_replace, refuse_to_replace_source

    run = Path(args.run)
    if args.out:
        sources = [run / "best.pt", run / "last.pt"] if run.is_dir() else [run]
        refuse_to_replace_source(args.out, sources, force=args.force)
        written = [args.out, quantization_report_path(args.out)] if args.int8 else [args.out]
        refuse_to_replace(written, force=args.force, fix="choose another --out")
    if args.bundle:
        bundle = Path(args.bundle)
        names = [*BUNDLE_FILES, quantization_report_path("model.onnx").name] if args.int8 else list(BUNDLE_FILES)
        refuse_to_replace([bundle / name for name in names], force=args.force,
                          fix=f"a bundle writes {', '.join(names)}; choose a new or empty --bundle folder")


def _make_parent(path: Path) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ExportError(f"{path.parent}: cannot create the output folder ({exc.strerror or exc}).") from exc
