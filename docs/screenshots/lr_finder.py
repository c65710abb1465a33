"""The learning-rate finder in the real app: a flowers17 project, Find learning rate, the sweep's dialog.

A project of four flowers17 classes (30 photos each), mobilenet_v3_small with only its head
training (so the sweep runs on cached features), the Training panel's advanced options shown and
its Find learning rate button clicked; the dialog is grabbed once its suggestions are marked.
ImageNet weights cannot be downloaded where these pictures are made, so the backbone starts from
random weights whose BatchNorm statistics were measured on flowers17 (``benchmarks/common.py``).

    xvfb-run -s "-screen 0 1400x900x24" .venv/bin/python docs/screenshots/lr_finder.py

Writes lr-finder.png beside this file. Needs ../shared/datasets/flowers17.
"""

from __future__ import annotations

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from workflow import CLASSES, copy_photos, fresh_app, waiter  # noqa: E402  (importing it puts the repository and benchmarks/ on the path)

OUT = HERE / "lr-finder.png"


def main() -> None:
    work, app = fresh_app("imgcls-lr-shot-")

    from common import calibrated_init

    from imgcls_gui.engine.config import DataConfig, FreezeConfig, ModelConfig, RunConfig, TrainConfig
    from imgcls_gui.gui.main_window import MainWindow
    from imgcls_gui.gui.state import ImportRequest
    from imgcls_gui.gui.worker import running_workers

    wait = waiter(app)

    weights = calibrated_init("mobilenet_v3_small", work / "mobilenet_v3_small-flowers-bn.pth")
    photos = copy_photos(work / "photos", 0, 30, CLASSES)
    window = MainWindow()
    window.resize(1280, 800)
    window.show()
    window.projects.create_project(work / "Flowers", "Flowers")
    window.state.request_import(ImportRequest((photos,), "auto", preview=False))
    wait(lambda: window.state.project.image_count() == 30 * len(CLASSES) and not running_workers())
    window.state.set_run_config(RunConfig(
        data=DataConfig(num_workers=0, val_fraction=0.25),
        model=ModelConfig(name="mobilenet_v3_small", weights=str(weights), image_size=160),
        freeze=FreezeConfig(mode="head"),
        train=TrainConfig(batch_size=16, device="cpu"),
    ))
    training = window.panel("training")
    window.show_panel("training")
    training.set_advanced(True)
    wait(lambda: True, settle_s=0.5)
    assert training.find_learning_rate(), "the finder did not start"
    dialog = training.lr_finder.dialog
    dialog.resize(760, 560)
    wait(lambda: bool(dialog.choice_buttons), settle_s=1.0)
    dialog.grab().save(str(OUT))
    print(f"saved {OUT}; suggestions {dialog.result.suggestions}")
    dialog.reject()
    wait(lambda: not running_workers())
    window.close()


if __name__ == "__main__":
    main()
