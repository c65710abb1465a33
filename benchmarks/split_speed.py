"""How long splitting takes as datasets grow (the test suite checks the split is right, not how fast it is).

Times ``split_dataset`` on generated multi-class and multi-label datasets of growing size; roughly linear
growth is what to look for (a quadratic step would show as 10x size taking ~100x time). Writes the
"Split speed (issue 19)" section of benchmarks/RESULTS.md.

    .venv/bin/python benchmarks/split_speed.py [--sizes 1000 10000 100000] [--no-write]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
from common import ROOT, machine, stamp, update_results

SECTION = "## Split speed (issue 19)"


def multiclass(n: int, classes: int = 10):
    from imgcls_gui.engine.data.samples import LabeledDataset, Sample

    names = [f"c{k}" for k in range(classes)]
    samples = [Sample(Path(f"/data/{names[i % classes]}/{i}.jpg"), (names[i % classes],)) for i in range(n)]
    return LabeledDataset(Path("/data"), "folder", samples, names, "multiclass")


def multilabel(n: int, labels: int = 5, seed: int = 0):
    from imgcls_gui.engine.data.samples import LabeledDataset, Sample

    rng = np.random.default_rng(seed)
    names = [f"l{j}" for j in range(labels)]
    samples = []
    for i in range(n):
        chosen = [names[j] for j in range(labels) if rng.random() < 0.3] or [names[int(rng.integers(labels))]]
        samples.append(Sample(Path(f"/data/{i}.jpg"), tuple(chosen)))
    return LabeledDataset(Path("/data"), "csv", samples, names, "multilabel")


def seconds(ds, **fractions) -> float:
    from imgcls_gui.engine.data.split import split_dataset

    started = time.perf_counter()
    split_dataset(ds, **fractions)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 10_000, 100_000])
    parser.add_argument("--no-write", action="store_true", help="print only; leave RESULTS.md alone")
    args = parser.parse_args()
    seconds(multiclass(100), val_fraction=0.2)  # imports sklearn and iterstrat outside the timings
    seconds(multilabel(100), val_fraction=0.2)
    rows = ["| images | multi-class, val 0.2 + test 0.1 (s) | multi-label, val 0.2 (s) |", "|---:|---:|---:|"]
    for n in args.sizes:
        rows.append(f"| {n:,} | {seconds(multiclass(n), val_fraction=0.2, test_fraction=0.1):.3f} "
                    f"| {seconds(multilabel(n), val_fraction=0.2):.3f} |")
    section = "\n".join([SECTION, "", f"{stamp()}, {machine()}. `benchmarks/split_speed.py`.", "", *rows, ""])
    print(section)
    if not args.no_write:
        update_results(SECTION, section, ROOT / "benchmarks" / "RESULTS.md")


if __name__ == "__main__":
    main()
