"""Likely label errors: how many of 10% planted label flips does ``diagnose`` find on flowers17?

flowers17 (1,360 photos, 17 classes) with a seeded 10% of labels flipped to another class. Prints
the precision and recall of cleanlab's flagged set (its default threshold), the precision of the
top-k ranked images (k = number of flips) against a random ranking's 0.10, and the wall time of
the whole diagnosis once features are cached (the first run extracts them, timed too).
Usage: python benchmarks/label_errors.py [--model resnet18] [--weights calibrated|imagenet|FILE]
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import tempfile
import time
from pathlib import Path

import numpy as np
from common import ROOT, SHARED, calibrated_init, machine, stamp, update_results


def flipped(dataset, fraction: float, seed: int):
    """A copy of ``dataset`` with ``fraction`` of its labels moved to another class; returns (copy, flipped rows)."""
    rng = np.random.default_rng(seed)
    n = len(dataset.samples)
    rows = set(rng.choice(n, size=round(fraction * n), replace=False).tolist())
    samples = []
    for i, sample in enumerate(dataset.samples):
        if i in rows:
            others = [c for c in dataset.classes if c != sample.labels[0]]
            sample = dataclasses.replace(sample, labels=(others[rng.integers(len(others))],))
        samples.append(sample)
    return dataclasses.replace(dataset, samples=samples), rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--model", default="resnet18")
    parser.add_argument("--weights", default="calibrated", help="calibrated (random, BN stats from flowers17), "
                        "imagenet (needs the cached file) or a weights file")
    parser.add_argument("--fraction", type=float, default=0.10)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--cache", default="", help="folder for the init and the feature cache (default: a fresh temporary one)")
    parser.add_argument("--record", action="store_true", help="write the figures into benchmarks/RESULTS.md")
    args = parser.parse_args()

    from imgcls_gui.engine import BackboneSource, ModelConfig, diagnose, load_dataset

    work = Path(args.cache) if args.cache else Path(tempfile.mkdtemp(prefix="imgcls-label-errors-"))
    weights = args.weights
    if weights == "calibrated":  # kept beside the features: the same init keys the same cached rows
        weights = str(calibrated_init(args.model, work / f"{args.model}-calibrated.pt"))
    source = BackboneSource(model=ModelConfig(name=args.model, weights=weights))
    data, truth = flipped(load_dataset(str(SHARED / "flowers17")), args.fraction, args.seed)
    cache = str(work / "features")
    common = dict(device=args.device, cache_dir=cache, seed=args.seed, num_workers=min(4, os.cpu_count() or 1))

    started = time.perf_counter()
    first = diagnose(data, source, **common)
    first_s = time.perf_counter() - started
    started = time.perf_counter()
    result = diagnose(data, source, **common)  # the features now come from the cache
    cached_s = time.perf_counter() - started

    labelled = np.array(result.labelled)
    flagged = set(labelled[result.flagged].tolist())
    k = len(truth)
    top_k = set(labelled[np.argsort(result.label_quality, kind="stable")[:k]].tolist())
    hits = len(flagged & truth)
    precision = hits / len(flagged) if flagged else 0.0
    recall = hits / k
    top_k_precision = len(top_k & truth) / k
    accuracy = float((result.probabilities.argmax(1) == np.array(
        [result.classes.index(data.samples[i].labels[0]) for i in result.labelled])).mean())
    lines = [
        f"{len(data.samples)} images, {k} labels flipped ({args.fraction:.0%}, seed {args.seed}); backbone "
        f"{result.source} ({args.weights} init); {result.folds}-fold head, out-of-sample accuracy {accuracy:.3f} "
        "against the noisy labels",
        f"flagged {len(flagged)}: precision {precision:.3f}, recall {recall:.3f}",
        f"top-{k} precision {top_k_precision:.3f} vs random 0.100 ({top_k_precision / 0.1:.1f}x)",
        f"wall time: {first_s:.1f} s with feature extraction ({first.computed_features} computed), "
        f"{cached_s:.1f} s from cached features (cross-validation {result.seconds['cross_validation']:.1f} s, "
        f"neighbours {result.seconds['neighbours']:.2f} s); duplicates {len(result.of_kind('duplicate'))}, "
        f"outliers {len(result.of_kind('outlier'))}",
    ]
    print("\n".join(lines))
    print(machine())
    if args.record:
        section = (
            "## Likely label errors (issue 14)\n\n"
            f"Date: {stamp()}. Machine: {machine()}; shared with other jobs. "
            "`python benchmarks/label_errors.py --record`\n\n" + "\n".join(f"- {line}" for line in lines) + "\n"
        )
        update_results("## Likely label errors (issue 14)", section, ROOT / "benchmarks" / "RESULTS.md")


if __name__ == "__main__":
    main()
