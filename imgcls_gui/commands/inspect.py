"""``imgcls inspect``: the dataset health report (unreadable files, duplicates, class balance)."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("inspect", help="check a dataset's health", description=__doc__)
    p.add_argument("data")
    p.add_argument("--format", default="auto", choices=["auto", "folder", "split-folders", "csv", "voc"])
    p.add_argument("--images-root")
    p.add_argument("--min-per-class", type=int, default=5)
    p.add_argument("--quick", action="store_true", help="skip decoding every image")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import sys

    from tqdm import tqdm

    from ..engine import health_report, open_dataset
    from .text import terminal_safe

    ds = open_dataset(args.data, args.format, args.images_root)
    with tqdm(desc="checking images", unit="img", file=sys.stderr, disable=args.quick) as bar:

        def progress(done: int, total: int) -> None:
            bar.total = total
            bar.n = done
            bar.refresh()

        report = health_report(ds, check_images=not args.quick, min_per_class=args.min_per_class, progress=progress)
    print(terminal_safe(f"{ds.root} ({ds.format}, {ds.task}, {len(ds.classes)} classes)"))
    print(terminal_safe(report.to_text()))  # file and class names may hold escape sequences
    return 0
