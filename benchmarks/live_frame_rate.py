"""Frames/s the Inference panel's live view classifies when frames come faster than it can classify them
(issue 20: the frames go to the child process and back; this measures what that crossing costs).

Boots the real main window (offscreen) with a checkpoint of mobilenet_v3_small (random calibrated weights: speed
does not depend on them) and offers the live view a synthetic 640x480 frame every 2 ms (it classifies the newest
one when the last is done, as with a camera); counts frames classified per second over ``--seconds``, without and
with Grad-CAM. Prints the rates (no RESULTS.md writing: the section there was written from two runs of it).

    .venv/bin/python benchmarks/live_frame_rate.py [--seconds 8]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

from common import machine, stamp
from ui_responsiveness import waiter


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=8.0)
    args = parser.parse_args()
    import numpy as np
    from PySide6.QtCore import QCoreApplication, QTimer
    from PySide6.QtGui import QImage
    from PySide6.QtWidgets import QApplication

    from imgcls_gui.gui.main_window import MainWindow
    from tests.engine.export_fixtures import save_run

    work = Path(tempfile.mkdtemp(prefix="imgcls-frame-rate-"))
    os.environ["IMGCLS_DATA_DIR"] = str(work / "data")
    QCoreApplication.setOrganizationName("imgcls-benchmark")
    app = QApplication.instance() or QApplication([])

    wait = waiter(app)
    window = MainWindow(probe_device=False)
    window.show()
    panel = window.panel("inference")
    window.show_panel("inference")
    panel.source.choose(save_run(work / "r1", classes=("ants", "bees"), backbone="mobilenet_v3_small"))
    wait(lambda: panel.predictor is not None)
    live = panel.live
    rng = np.random.default_rng(0)
    frames = [rng.integers(0, 255, (480, 640, 3), dtype=np.uint8) for _ in range(8)]
    images = [QImage(f.data, 640, 480, 3 * 640, QImage.Format.Format_RGB888).copy() for f in frames]
    offered = [0]
    live.source.latest_image = lambda: images[offered[0] % len(frames)]  # a camera that always has a new frame
    live.source.latest_pixels = lambda: frames[offered[0] % len(frames)]

    def offer() -> None:
        offered[0] += 1
        live._frame()

    timer = QTimer()
    timer.timeout.connect(offer)
    print(f"{stamp()}, {machine()}, load average {os.getloadavg()[0]:.1f}")
    for gradcam in (False, True):
        live.gradcam.setChecked(gradcam)
        timer.start(2)
        first = live.classified
        wait(lambda: live.classified >= first + 3)  # the first frames load the model (and Explainer)
        started, count = time.monotonic(), live.classified
        wait(lambda: time.monotonic() - started >= args.seconds)
        rate = (live.classified - count) / (time.monotonic() - started)
        timer.stop()
        wait(lambda: not live.task.busy)
        print(f"Grad-CAM {'on' if gradcam else 'off'}: {rate:.1f} frames/s classified")
    window.close()


if __name__ == "__main__":
    main()
