"""How long the UI thread stalls during the live features (issue 18; the method of ui_responsiveness.py).

Boots the real main window (offscreen), makes a project of hymenoptera photos and a checkpoint of
mobilenet_v3_small (random calibrated weights: speed does not depend on them), then, while a 10 ms
timer ticks on the UI thread: live prediction on a video of the photos standing in for a camera,
a capture burst into a class from the same video, and a watched folder receiving photos.
Writes the "Live capture and prediction (issue 18)" section of benchmarks/RESULTS.md.

    .venv/bin/python benchmarks/live_responsiveness.py [--frames 100] [--burst 30] [--arrivals 200]
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

from common import ROOT, SHARED, machine, stamp
from ui_responsiveness import TARGET_MS, copy_subset, record, summarise, tick_meter, waiter

SECTION = "## Live capture and prediction (issue 18)"


def run(args: argparse.Namespace) -> dict[str, dict[str, float]]:
    import numpy as np
    from PIL import Image
    from PySide6.QtCore import QCoreApplication
    from PySide6.QtWidgets import QApplication

    sys.path.insert(0, str(ROOT))
    from imgcls_gui.gui.main_window import MainWindow
    from imgcls_gui.gui.state import ImportRequest
    from imgcls_gui.gui.worker import running_workers
    from tests.engine.export_fixtures import save_run
    from tests.gui.video_file import write_mjpeg_avi

    work = Path(tempfile.mkdtemp(prefix="imgcls-live-bench-"))
    os.environ["IMGCLS_DATA_DIR"] = str(work / "data")
    QCoreApplication.setOrganizationName("imgcls-benchmark")
    app = QApplication.instance() or QApplication([])

    wait = waiter(app)

    photos = copy_subset(SHARED / "hymenoptera" / "train", work / "photos", 20)
    frames = [np.asarray(Image.open(p).convert("RGB").resize((640, 480))) for p in sorted(photos.rglob("*.jpg"))[:40]]
    video = write_mjpeg_avi(work / "camera.avi", frames, fps=15)
    window = MainWindow(probe_device=False)
    window.show()
    window.projects.create_project(work / "project", "Live benchmark")
    window.state.request_import(ImportRequest((photos,), "auto"))
    wait(lambda: window.state.project.image_count() >= 40 and not running_workers())
    run_dir = save_run(work / "project" / "runs" / "r1", classes=("ants", "bees"), backbone="mobilenet_v3_small")
    meter, results = tick_meter(), {}

    def phase(name: str, start, done, count) -> None:
        started = time.perf_counter()
        meter.measure()
        start()
        wait(done)
        results[name] = {**summarise(meter.gaps), "seconds": time.perf_counter() - started, "images": count()}

    inference = window.panel("inference")
    window.show_panel("inference")
    inference.source.choose(run_dir)  # the checkpoint itself (a run without metrics.json is not listed)
    wait(lambda: inference.predictor is not None)
    inference.live_button.click()

    phase("live prediction, 640x480 video", lambda: inference.live.use_video(video),
          lambda: inference.live.classified >= args.frames, lambda: inference.live.classified)
    inference.live_button.click()

    dataset = window.panel("dataset")
    window.show_panel("dataset")
    dataset.tabs.setCurrentWidget(dataset.capture)
    capture = dataset.capture
    capture.use_video(video)
    wait(lambda: capture.source.latest_image() is not None)
    capture.class_combo.setCurrentText("bees")
    capture.count.setValue(args.burst)
    capture.rate.setValue(15.0)
    phase("capture burst at 15 frames/s", capture.start_burst,
          lambda: capture.status.text().startswith("Captured") and not running_workers(), lambda: args.burst)
    dataset.tabs.setCurrentIndex(0)

    inbox = work / "inbox"
    inbox.mkdir()
    window.show_panel("inference")
    arrivals = sorted((SHARED / "hymenoptera").rglob("*.jpg"))[: args.arrivals]

    def drop() -> None:
        inference.watch_folder(inbox)
        for n, photo in enumerate(arrivals):
            shutil.copy(photo, inbox / f"{n:05d}{photo.suffix}")

    phase("watched folder, photos copied in", drop, lambda: len(inference.results.rows) >= len(arrivals),
          lambda: len(inference.results.rows))
    inference.cancel()
    wait(lambda: inference.worker is None)
    meter.timer.stop()
    window.close()
    shutil.rmtree(work, ignore_errors=True)
    return results


def write_section(results: dict[str, dict[str, float]], args: argparse.Namespace) -> str:
    lines = [SECTION, "",
             f"`benchmarks/live_responsiveness.py --frames {args.frames} --burst {args.burst} --arrivals {args.arrivals}` "
             f"on {stamp()}, {machine()}, load average before the run {args.load:.1f}. A 10 ms timer ticks on the UI "
             "thread of the real window (offscreen); mobilenet_v3_small at 64 px on the CPU. Target: no gap over "
             f"{TARGET_MS} ms.", "",
             "| phase | duration | ticks | longest gap | p99 | p95 | median | gaps > 50 ms |",
             "|---|---|---|---|---|---|---|---|"]
    for name, r in results.items():
        lines.append(f"| {name} | {r['seconds']:.0f} s, {r['images']} images | {r['ticks']} | {r['max']:.0f} ms | "
                     f"{r['p99']:.0f} ms | {r['p95']:.0f} ms | {r['median']:.1f} ms | {r['over_target']} |")
    return "\n".join(lines + [""])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=100)
    parser.add_argument("--burst", type=int, default=30)
    parser.add_argument("--arrivals", type=int, default=200)
    parser.add_argument("--no-write", action="store_true", help="print only; leave RESULTS.md alone")
    record(SECTION, run, write_section, parser.parse_args())

if __name__ == "__main__":
    main()
