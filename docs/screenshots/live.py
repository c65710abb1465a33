"""The live features in the real app, with a screenshot of each: the Dataset panel's Capture view
taking a burst from a video file standing in for a camera, live prediction on that video in the
Inference panel, and a watched folder filling the table as photos arrive.

The video is a Motion-JPEG AVI of flowers17 photos (tests/gui/video_file.py writes it, no encoder
needed); the model is a short run of mobilenet_v3_small at 96 px trained here on the CPU from
random weights (no ImageNet weights can be downloaded where these pictures are made), so its
predictions are only as good as such a run. Run it under Xvfb:

    xvfb-run -a -s "-screen 0 1400x900x24" .venv/bin/python docs/screenshots/live.py

With IMGCLS_SHOTS_RUN=<a run folder this script trained before>, that run is copied instead of training
one. Writes capture-view.png, live-prediction.png, live-gradcam.png and watch-mode.png beside this file. Needs
../shared/datasets/flowers17 and Qt Multimedia (PySide6-Addons, libpulse0 on Linux).
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent))
from workflow import FLOWERS, OUT, WINDOW_SIZE, copy_photos, fresh_app, waiter  # noqa: E402  (puts the repo on the path)

CLASSES = {"c1": "daffodil", "c4": "bluebell", "c12": "coltsfoot"}
TRAIN_PER_CLASS = 30


def video_of_photos(path: Path, first: int, per_class: int = 2, repeat: int = 6) -> Path:
    from tests.gui.video_file import write_mjpeg_avi

    frames = []
    for folder in CLASSES:
        for photo in sorted((FLOWERS / folder).iterdir())[first:first + per_class]:
            image = Image.open(photo).convert("RGB").resize((320, 240))
            frames += [np.asarray(image)] * repeat
    return write_mjpeg_avi(path, frames, fps=6)


def main() -> None:
    work, app = fresh_app("imgcls-live-shots-")

    from imgcls_gui.engine import Trainer
    from imgcls_gui.engine.config import (AugmentConfig, DataConfig, FreezeConfig, ModelConfig, OptimConfig,
                                          RunConfig, TrainConfig)
    from imgcls_gui.gui.main_window import MainWindow
    from imgcls_gui.gui.state import ImportRequest
    from imgcls_gui.gui.worker import running_workers

    wait = waiter(app)

    def shoot(name: str) -> None:
        wait(lambda: True, settle_s=0.8)
        window.grab().save(str(OUT / name))
        print(f"saved {OUT / name}")

    photos = copy_photos(work / "photos", 0, TRAIN_PER_CLASS, CLASSES)
    window = MainWindow()
    window.resize(*WINDOW_SIZE)
    window.show()
    window.projects.create_project(work / "Flowers", "Flowers")
    window.state.request_import(ImportRequest((photos,), "auto"))
    wait(lambda: window.state.project.image_count() == TRAIN_PER_CLASS * len(CLASSES) and not running_workers())

    from common import calibrated_init

    weights = work / "mobilenet_v3_small-flowers-bn.pth"
    if not os.environ.get("IMGCLS_SHOTS_RUN"):
        calibrated_init("mobilenet_v3_small", weights)
    config = RunConfig(
        data=DataConfig(path=str(work / "Flowers"), num_workers=0, val_fraction=0.25),
        augment=AugmentConfig(crop_scale_min=0.5, color_jitter=0.2),
        model=ModelConfig(name="mobilenet_v3_small", weights=str(weights), image_size=96, dropout=0.2),
        freeze=FreezeConfig(mode="first-n", groups=5),
        optim=OptimConfig(lr=3e-3, warmup_epochs=0.5),
        train=TrainConfig(epochs=10, batch_size=16, seed=0, device="cpu"),
    )
    run_dir = work / "Flowers" / "runs" / "flowers-live"
    if os.environ.get("IMGCLS_SHOTS_RUN"):  # a run this script trained before: the same pictures, minutes sooner
        shutil.copytree(os.environ["IMGCLS_SHOTS_RUN"], run_dir)
    else:
        Trainer(config, run_dir).fit()
    window.state.notify_runs()

    video = video_of_photos(work / "camera.avi", TRAIN_PER_CLASS)
    dataset = window.panel("dataset")
    window.show_panel("dataset")
    dataset.tabs.setCurrentWidget(dataset.capture)
    capture = dataset.capture
    capture.use_video(video)
    wait(lambda: capture.source.latest_image() is not None, settle_s=1.0)
    capture.class_combo.setCurrentText("bluebell")
    capture.count.setValue(6)
    capture.rate.setValue(6.0)
    capture.start_burst()
    wait(lambda: capture.status.text().startswith("Captured") and not running_workers(), settle_s=1.0)
    shoot("capture-view.png")
    dataset.tabs.setCurrentIndex(0)

    inference = window.panel("inference")
    window.show_panel("inference")
    wait(lambda: inference.predictor is not None)
    inference.live_button.click()
    inference.live.use_video(video)
    wait(lambda: inference.live.classified >= 20, settle_s=0.5)
    shoot("live-prediction.png")
    inference.live.gradcam.setChecked(True)  # Show Grad-CAM: the top class's heatmap over the picture
    wait(lambda: inference.live.heat is not None, settle_s=1.5)
    shoot("live-gradcam.png")
    inference.live.gradcam.setChecked(False)
    inference.live_button.click()

    inbox = work / "inbox"
    inbox.mkdir()
    arriving = sorted((work / "photos" / "daffodil").iterdir())[:4] + sorted((work / "photos" / "coltsfoot").iterdir())[:4]
    for photo in arriving[:3]:
        shutil.copy(photo, inbox / photo.name)
    inference.watch_folder(inbox)
    wait(lambda: len(inference.results.rows) == 3)
    for photo in arriving[3:]:
        shutil.copy(photo, inbox / photo.name)
        wait(lambda: True, settle_s=0.3)
    wait(lambda: len(inference.results.rows) == len(arriving) and inference.thumbnails.is_idle(), settle_s=1.0)
    shoot("watch-mode.png")
    inference.cancel()
    wait(lambda: inference.worker is None)
    window.close()


if __name__ == "__main__":
    main()
