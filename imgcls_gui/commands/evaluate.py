"""``imgcls evaluate``: metrics of a run's best checkpoint on its saved split or on other data."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("evaluate", help="evaluate a trained run", description=__doc__)
    p.add_argument("run", help="run folder (or a .pt checkpoint)")
    p.add_argument("--data", help="evaluate on this dataset instead of the run's own")
    p.add_argument("--split", default="val", choices=["train", "val", "test", "all"])
    p.add_argument("--out", help="write the full report as JSON here")
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--device", default="auto")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..engine import evaluate_run, write_report

    report = evaluate_run(args.run, data=args.data, split=args.split, batch_size=args.batch_size, device=args.device)
    scalars = ", ".join(f"{k}={v:.4f}" for k, v in report["scalars"].items())
    print(f"{report['images']} images ({report['split']}): loss={report['loss']:.4f}, {scalars}")
    if args.out:
        write_report(report, args.out)
        print(f"report written to {args.out}")
    return 0
