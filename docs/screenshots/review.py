"""A screenshot of the Dataset panel's Review view after "Find issues" on flowers17 photos with planted mistakes.

Four flowers17 classes, 15 photos each; three photos sit in the wrong class folder and one photo is
there twice (a shrunk re-encoded copy). The diagnosis uses resnet18 from random weights whose
BatchNorm statistics were measured on flowers17 (``benchmarks/common.py``): ImageNet weights
cannot be downloaded where these pictures are made, and with no run in the project there is no
trained model to draw a Grad-CAM overlay, so the view shows the plain image and says so.

    xvfb-run -a -s "-screen 0 1400x900x24" .venv/bin/python docs/screenshots/review.py

Writes review-view.png beside this file. Needs ../shared/datasets/flowers17.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from workflow import FLOWERS, OUT, fresh_app, waiter  # noqa: E402  (puts the repository and benchmarks/ on the path)

CLASSES = {"c1": "daffodil", "c4": "bluebell", "c9": "fritillary", "c12": "coltsfoot"}
PER_CLASS = 15


def main() -> None:
    from PIL import Image

    work, app = fresh_app("imgcls-review-shot-")

    from common import calibrated_init

    from imgcls_gui.engine.config import DataConfig, ModelConfig, RunConfig, TrainConfig
    from imgcls_gui.gui.main_window import MainWindow
    from imgcls_gui.gui.state import ImportRequest
    from imgcls_gui.gui.worker import running_workers

    wait = waiter(app)

    photos = work / "photos"
    names = list(CLASSES.values())
    for name in names:
        (photos / name).mkdir(parents=True)
    for n, (folder, name) in enumerate(CLASSES.items()):
        for k, photo in enumerate(sorted((FLOWERS / folder).iterdir())[:PER_CLASS]):
            wrong = k == 3 and n < 3  # three photos filed under the next class
            shutil.copy(photo, photos / (names[n + 1] if wrong else name) / photo.name)
    original = sorted((photos / "bluebell").iterdir())[0]
    image = Image.open(original)
    image.resize((image.width // 2, image.height // 2)).save(photos / "bluebell" / f"copy-of-{original.name}", quality=85)
    weights = calibrated_init("resnet18", work / "resnet18-flowers-bn.pth")

    window = MainWindow()
    window.resize(1280, 800)
    window.show()
    window.projects.create_project(work / "Flowers", "Flowers")
    window.state.request_import(ImportRequest((photos,), "auto"))
    wait(lambda: window.state.project.image_count() == 4 * PER_CLASS + 1 and not running_workers())
    window.state.set_run_config(RunConfig(data=DataConfig(num_workers=0), train=TrainConfig(device="cpu"),
                                          model=ModelConfig(name="resnet18", weights=str(weights), image_size=160)))
    window.show_panel("dataset")
    panel = window.panel("dataset")
    panel.right_splitter.setSizes([170, 600])
    panel.splitter.setSizes([170, 560, 550])
    panel.tabs.setCurrentWidget(panel.review)
    panel.review.start()
    wait(lambda: not panel.review.running)
    wait(lambda: not running_workers(), settle_s=1.5)
    panel.review.table.resizeColumnToContents(1)
    wait(lambda: True, settle_s=0.5)
    window.grab().save(str(OUT / "review-view.png"))
    print(f"saved {OUT / 'review-view.png'}: {panel.review.summary.text()}")
    window.close()


if __name__ == "__main__":
    main()
