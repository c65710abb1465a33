"""``imgcls predict``: classify image files and folders with an exported .onnx, a run folder or a
.pt checkpoint; results as CSV or JSON, optionally sorted into per-class folders.

With --watch DIR: classify the images already in DIR, then each new one once it is completely
written, appending rows to the --out CSV as they come (and sorting them with --sort-into) until
Ctrl+C. Started again with the same --out, it skips the files the CSV already has.

Exit status: 0 when the images were classified (unreadable files are listed with their error),
1 when no file could be read, 2 for a usage error (missing model, bad option)."""

from __future__ import annotations

import argparse
import os
import sys

from ..engine import ImgclsError
from .text import terminal_safe


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("predict", help="classify images with a trained or exported model", description=__doc__,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("model", help="exported .onnx, imgcls TorchScript export, run folder or .pt checkpoint")
    p.add_argument("inputs", nargs="+", metavar="INPUT", help="image files and/or folders (searched recursively)")
    p.add_argument("--out", help="results file: .csv or .json")
    p.add_argument("--top-k", type=int, default=3, help="how many ranked labels per image (default 3)")
    p.add_argument("--threshold", type=float, help="replaces the model's stored per-label thresholds")
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--sort-into", metavar="DIR", help="copy images into DIR/<predicted class>/")
    p.add_argument("--move", action="store_true", help="with --sort-into: move instead of copy")
    p.add_argument("--min-confidence", type=float, help="with --sort-into: lower scores go to DIR/uncertain/ "
                   "(another name when a class is called 'uncertain')")
    p.add_argument("--no-recursive", dest="recursive", action="store_false", help="only the top level of folders")
    p.add_argument("--threads", type=int, help="onnxruntime threads, at most this machine's CPU cores "
                   f"({os.cpu_count() or 1}; default: the physical cores)")
    p.add_argument("--device", default="cpu", help="cpu | auto | cuda | mps (default cpu)")
    p.add_argument("--trust-code", action="store_true",
                   help="load a TorchScript model not exported on this machine: it runs its own code (ONNX never does)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.add_argument("--watch", action="store_true", help="keep watching the one INPUT folder: classify each new image "
                   "once it is completely written, appending to --out (a .csv) until Ctrl+C")
    p.add_argument("--settle", type=float, default=1.0, metavar="SECONDS", help="with --watch: a file counts as "
                   "completely written once its size has not changed for this long (default 1)")
    p.add_argument("--poll", type=float, metavar="SECONDS", help="with --watch: scan the folder this often instead "
                   "of using file-system events (network shares, where events do not arrive)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..engine import Predictor, iter_image_paths, output_writer, write_predictions

    _check_options(args)
    if args.watch:
        from .predict_watch import run_watch

        return run_watch(args)
    if args.out:
        output_writer(args.out)  # a wrong extension fails now, not after the whole run
    # A sort folder inside an input folder must not be read back in: a rerun would sort the copies again.
    paths = iter_image_paths(args.inputs, recursive=args.recursive, skip=[args.sort_into] if args.sort_into else ())
    if not paths:
        raise ImgclsError(f"no image files found in {', '.join(args.inputs)}.")
    predictor = Predictor.load(args.model, device=args.device, threads=args.threads, trust_code=args.trust_code)
    top_k = min(args.top_k, len(predictor.classes))
    predictions = _predict_with_bar(predictor, paths, args, top_k)
    failed = sum(1 for p in predictions if p.error)
    if args.out:
        write_predictions(predictions, args.out, top_k)
    summary = f"{len(predictions) - failed} of {len(predictions)} images classified"
    if failed:
        summary += f", {failed} unreadable (see the error column)"
    print(summary + (f"; results in {args.out}" if args.out else ""), file=sys.stderr)
    sorted_none = _sort(predictions, args, predictor.classes) if args.sort_into else False
    return 1 if failed == len(predictions) or sorted_none else 0


def _check_options(args: argparse.Namespace) -> None:
    if not args.out and not args.sort_into:
        raise ImgclsError("nothing to do: give --out FILE.csv|FILE.json and/or --sort-into DIR.")
    if (args.move or args.min_confidence is not None) and not args.sort_into:
        raise ImgclsError("--move and --min-confidence only apply with --sort-into DIR.")
    for name in ("threshold", "min_confidence"):
        value = getattr(args, name)
        if value is not None and not 0.0 <= value <= 1.0:
            raise ImgclsError(f"--{name.replace('_', '-')} must be between 0 and 1 (got {value}).")
    if (args.poll is not None or args.settle != 1.0) and not args.watch:
        raise ImgclsError("--poll and --settle only apply with --watch.")
    if args.watch:
        if len(args.inputs) != 1 or not os.path.isdir(args.inputs[0]):
            raise ImgclsError("--watch takes one folder to watch as INPUT.")
        if not args.out or not args.out.lower().endswith(".csv"):
            raise ImgclsError("--watch appends results as they come: give --out FILE.csv.")
        if not args.settle >= 0 or (args.poll is not None and not args.poll > 0):
            raise ImgclsError("--settle must be 0 or more seconds and --poll more than 0 seconds.")
    if args.batch_size < 1 or args.top_k < 0:
        raise ImgclsError("--batch-size must be at least 1 and --top-k at least 0.")
    cores = os.cpu_count() or 1
    if args.threads is not None and not 1 <= args.threads <= cores:
        # More threads than cores only adds switching, and a huge count exhausts the machine's threads.
        raise ImgclsError(f"--threads {args.threads} is out of range; use a whole number from 1 to {cores} "
                          "(this machine's CPU cores).")


def _predict_with_bar(predictor, paths, args: argparse.Namespace, top_k: int):
    from tqdm import tqdm

    with tqdm(total=len(paths), unit="img", desc="predict", file=sys.stderr, dynamic_ncols=True,
              disable=args.quiet) as bar:
        return predictor.predict(paths, batch_size=args.batch_size, top_k=top_k, threshold=args.threshold,
                                 progress=lambda done, total: bar.update(done - bar.n))


def _sort(predictions, args: argparse.Namespace, classes) -> bool:
    """Sort into --sort-into and say truthfully what was done; True when files were to be sorted and none was."""
    from ..engine import sort_into

    report = sort_into(predictions, args.sort_into, move=args.move, min_confidence=args.min_confidence,
                       classes=classes)
    folders = ", ".join(f"{name} {count}" for name, count in sorted(report.counts.items()))
    # class names come from the model file and paths from the user's folders: escape before printing
    print(terminal_safe(f"{report.summary()} into {args.sort_into} ({folders})"), file=sys.stderr)
    if report.uncertain and report.uncertain_folder != "uncertain":
        print(terminal_safe(f"imgcls: a class is called 'uncertain', so low-confidence images went to "
                            f"{report.uncertain_folder}/"), file=sys.stderr)
    for path, reason in report.not_removed:
        print(terminal_safe(f"imgcls: {path} is also still in its folder (could not remove it: {reason}); "
                            "the sorted file is a second name for it (a hard link)"), file=sys.stderr)
    for path, reason in report.failed:
        print(terminal_safe(f"imgcls: could not sort {path}: {reason}"), file=sys.stderr)
    return bool(report.failed) and report.placed == 0
