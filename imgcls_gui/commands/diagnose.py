"""``imgcls diagnose``: likely label errors, near-duplicates and outliers of a dataset or project.

Writes ``issues.csv`` (path, kind, given_label, suggested_label, score, other_path) and
``summary.json`` to ``--out``. The embeddings come from ``--run`` (a run folder), else a project's
newest run with a best.pt, else ``--model`` with ``--weights``.
"""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    from ..engine import option_spec

    p = sub.add_parser("diagnose", help="find likely label errors, near-duplicates and outliers", description=__doc__,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("data", help="dataset (class folders, train/val folders, a CSV, a VOC folder) or an imgcls project")
    p.add_argument("--out", required=True, help="folder for issues.csv and summary.json")
    p.add_argument("--run", help="take the backbone of this run folder (default: a project's newest run with a model)")
    p.add_argument("--model", default=option_spec("model.name").default,
                   help="backbone when no run is used (see `imgcls models`; default: %(default)s)")
    p.add_argument("--weights", default=option_spec("model.weights").default,
                   help="its weights: imagenet, none or a weights file (default: %(default)s)")
    p.add_argument("--image-size", type=int, default=0, help="side of the square images are cropped to; 0 = the "
                   "backbone's own")
    p.add_argument("--folds", type=int, default=5, help="cross-validation folds of the head (default: %(default)s)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--format", default="auto", choices=["auto", "folder", "split-folders", "csv", "voc"])
    p.add_argument("--images-root")
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--workers", type=int, default=-1, help="image loader processes; -1 = chosen from the machine")
    p.add_argument("--device", default="auto")
    p.add_argument("--force", action="store_true", help="replace issues.csv and summary.json already in --out")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import sys
    from pathlib import Path

    from tqdm import tqdm

    from ..engine import (
        PROJECT_FILE,
        BackboneSource,
        ConfigError,
        ModelConfig,
        diagnose,
        latest_run_with_model,
        open_dataset,
        refuse_to_replace,
        write_diagnosis,
    )
    from .text import terminal_safe

    if args.folds < 2:
        raise ConfigError(f"--folds {args.folds} is out of range; use a whole number >= 2.")
    out = Path(args.out)
    refuse_to_replace([out / "issues.csv", out / "summary.json"], force=args.force, fix="choose another --out")
    run_dir = Path(args.run) if args.run else None
    if run_dir is None and (Path(args.data) / PROJECT_FILE).is_file():
        run_dir = latest_run_with_model(Path(args.data) / "runs")
    source = BackboneSource(run_dir, ModelConfig(name=args.model, weights=args.weights, image_size=args.image_size))
    dataset = open_dataset(args.data, args.format, args.images_root)
    with tqdm(desc="diagnosing", unit="step", file=sys.stderr, disable=args.quiet, dynamic_ncols=True) as bar:

        def progress(done: int, total: int) -> None:
            bar.total = total
            bar.n = done
            bar.refresh()

        def stage(text: str) -> None:
            bar.set_description_str(text[:60], refresh=True)

        result = diagnose(dataset, source, folds=args.folds, seed=args.seed, device=args.device,
                          batch_size=args.batch_size, num_workers=args.workers, progress=progress, stage=stage)
    issues_path, summary_path = write_diagnosis(result, out)
    counts = result.summary()["issues"]
    print(terminal_safe(f"{len(result.paths)} images ({len(result.labelled)} labelled), backbone {result.source}: "
                        f"{counts['label']} likely label error(s), {counts['duplicate']} near-duplicate(s), "
                        f"{counts['outlier']} outlier(s)"))
    for issue in result.issues[:10]:
        detail = f" -> {', '.join(issue.suggested)}" if issue.suggested else (f" ~ {issue.other.name}" if issue.other else "")
        print(terminal_safe(f"  {issue.kind:9} {issue.score:.3f}  {issue.path}  [{', '.join(issue.given) or '-'}]{detail}"))
    print(terminal_safe(f"written: {issues_path}, {summary_path}"))
    return 0
