"""A watched folder under a drop of many files: are all classified once, and at what cost over predicting them?

    .venv/bin/python benchmarks/watch_folder.py --files 1000

In one run, with the same checkpoint (mobilenet_v3_small at 64 px, random calibrated weights):
- watch: ``watch_and_predict`` watches an empty folder; N small PNGs are moved in at once; timed from
  the first move until the last row is reported (the settle time, 1 s by default, is part of it);
- plain: ``Predictor.predict`` over the same N files, already there (the reference: no watching).
Checks that every file was reported exactly once, and prints both times and their ratio.
"""

from __future__ import annotations

import argparse
import io
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=1000)
    parser.add_argument("--settle", type=float, default=1.0)
    parser.add_argument("--poll", action="store_true", help="scan instead of file-system events")
    args = parser.parse_args()

    import numpy as np
    from PIL import Image

    from imgcls_gui.engine import Predictor, WatchControl, watch_and_predict
    from tests.engine.export_fixtures import save_run

    work = Path(tempfile.mkdtemp(prefix="imgcls-watch-bench-"))
    predictor = Predictor.load(save_run(work / "run", backbone="mobilenet_v3_small"))
    staging, inbox = work / "staging", work / "inbox"
    staging.mkdir()
    inbox.mkdir()
    rng = np.random.default_rng(0)
    names = [f"{i:05d}.png" for i in range(args.files)]
    for name in names:
        buffer = io.BytesIO()
        Image.fromarray(rng.integers(0, 256, (48, 48, 3), dtype=np.uint8)).save(buffer, format="PNG")
        (staging / name).write_bytes(buffer.getvalue())

    predictor.predict(sorted(staging.iterdir())[:64], batch_size=32)  # warm-up: first calls set up torch's kernels
    start = time.perf_counter()
    predictor.predict(sorted(staging.iterdir()), batch_size=32)
    plain = time.perf_counter() - start

    reported: list[Path] = []
    control = WatchControl()
    done = threading.Event()

    def on_batch(batch) -> None:
        reported.extend(p.path for p in batch)
        if len(reported) >= args.files:
            done.set()

    thread = threading.Thread(target=watch_and_predict, args=(predictor, inbox, on_batch, control),
                              kwargs={"settle_s": args.settle, "use_events": not args.poll})
    thread.start()
    time.sleep(0.5)
    start = time.perf_counter()
    for name in names:
        (staging / name).rename(inbox / name)
    done.wait(600)
    watched = time.perf_counter() - start
    control.stop()
    thread.join()
    once = sorted(reported) == sorted(inbox / name for name in names)
    print(f"{args.files} files, {'polling' if args.poll else 'events'}, settle {args.settle:g} s: "
          f"watch {watched:.1f} s, plain predict {plain:.1f} s, ratio {watched / plain:.2f}; "
          f"each file classified exactly once: {once}")
    return 0 if once else 1


if __name__ == "__main__":
    sys.exit(main())
