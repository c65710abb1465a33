"""``imgcls explain``: Grad-CAM overlays showing where a trained model looked, one PNG per image and class.

MODEL is a run folder or its .pt checkpoint (an exported .onnx has no layers to look inside). Multi-class
models explain the predicted class, multi-label models every label they predict (the top one when
none passes its threshold); --label explains the named classes instead. DIR/explanations.csv lists
each overlay with the image, the class and the model's probability.

Exit status: 0 when overlays were written (unreadable images are listed with their error), 1 when
no image could be read, 2 for a usage error."""

from __future__ import annotations

import argparse
import csv
import io
import sys
from pathlib import Path

from ..engine import ImgclsError
from .text import terminal_safe

INDEX_FILE = "explanations.csv"
INDEX_COLUMNS = ("path", "label", "probability", "predicted", "method", "overlay", "error")


def register(sub: argparse._SubParsersAction) -> None:
    from ..engine import CAM_METHODS

    p = sub.add_parser("explain", help="Grad-CAM overlays: where the model looked", description=__doc__,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("model", help="run folder or .pt checkpoint")
    p.add_argument("inputs", nargs="+", metavar="IMAGES", help="image files and/or folders (searched recursively)")
    p.add_argument("--out", required=True, metavar="DIR", help="folder for the overlay PNGs and explanations.csv")
    p.add_argument("--label", action="append", metavar="CLASS",
                   help="explain this class instead of the predicted ones (repeat for several)")
    p.add_argument("--method", choices=CAM_METHODS, default="gradcam",
                   help="gradcam (default), gradcam++, or eigencam: gradient-free, one map for all classes")
    p.add_argument("--threshold", type=float, help="multi-label: replaces the model's stored per-label thresholds")
    p.add_argument("--max-side", type=int, metavar="PX", help="shrink overlays to at most PX pixels on the longer side")
    p.add_argument("--device", default="cpu", help="cpu | auto | cuda | mps (default cpu)")
    p.add_argument("--no-recursive", dest="recursive", action="store_false", help="only the top level of folders")
    p.add_argument("--force", action="store_true", help="write into a --out folder that already holds files")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from ..engine import Explainer, atomic_write_text, iter_image_paths, refuse_busy_folder, write_overlays

    if args.threshold is not None and not 0.0 <= args.threshold <= 1.0:
        raise ImgclsError(f"--threshold must be between 0 and 1 (got {args.threshold}).")
    if args.max_side is not None and args.max_side < 16:
        raise ImgclsError(f"--max-side must be at least 16 pixels (got {args.max_side}).")
    paths = iter_image_paths(args.inputs, recursive=args.recursive, skip=[args.out])
    if not paths:
        raise ImgclsError(f"no image files found in {', '.join(args.inputs)}.")
    refuse_busy_folder(args.out, force=args.force, what="the overlays")
    explainer = Explainer.load(args.model, device=args.device)
    out = Path(args.out)
    rows: list[tuple] = []
    taken: set[str] = set()
    failed = 0
    with tqdm(total=len(paths), unit="img", desc="explain", file=sys.stderr, dynamic_ncols=True,
              disable=args.quiet) as bar:
        for path in paths:  # one image at a time: full-size heatmaps are not kept for the whole folder
            explanations = explainer.explain([path], labels=args.label, method=args.method,
                                             threshold=args.threshold, max_side=args.max_side)
            written = write_overlays(explanations, out, taken=taken)
            for explanation, file in zip(explanations, written):
                failed += file is None
                rows.append((str(explanation.path), explanation.label,
                             "" if file is None else f"{explanation.probability:.6f}",
                             "" if file is None else int(explanation.predicted), explanation.method,
                             file.name if file is not None else "", explanation.error))
            bar.update(1)
    atomic_write_text(out / INDEX_FILE, _csv_text(rows))
    made = len(rows) - failed
    summary = f"{made} overlay(s) of {len(paths) - failed} image(s) written to {out}"
    if failed:
        summary += f"; {failed} unreadable (see the error column of {INDEX_FILE})"
    print(terminal_safe(summary), file=sys.stderr)
    return 1 if made == 0 else 0


def _csv_text(rows: list[tuple]) -> str:
    from ..engine import spreadsheet_safe

    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(INDEX_COLUMNS)
    writer.writerows([spreadsheet_safe(cell) for cell in row] for row in rows)  # a name may start with "="
    return buffer.getvalue()
