"""The Training panel's Search tab mid-search, in the real app (search-tab.png beside this file).

A project of flowers17 photos (four classes), mobilenet_v3_small head only at 128 px from random weights
with BatchNorm statistics measured on flowers17 (ImageNet weights cannot be downloaded on the machines
that make these pictures; see benchmarks/common.py), a search of 16 trials of 4 epochs over the
learning rate, weight decay, optimizer, dropout, hidden layer and label smoothing; the picture is taken
once 10 trials have ended, then the search is cancelled. Run it under Xvfb:

    xvfb-run -s "-screen 0 1400x900x24" .venv/bin/python docs/screenshots/search.py
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from workflow import CLASSES, OUT, ROOT, WINDOW_SIZE, copy_photos, fresh_app, waiter  # noqa: E402

sys.path.insert(0, str(ROOT / "benchmarks"))
PER_CLASS, TRIALS, SHOT_AFTER = 30, 16, 10


def main() -> None:
    work, app = fresh_app("imgcls-search-shot-")
    from common import calibrated_init

    from imgcls_gui.engine.config import DataConfig, FreezeConfig, ModelConfig, OptimConfig, RunConfig, TrainConfig
    from imgcls_gui.gui.main_window import MainWindow
    from imgcls_gui.gui.state import ImportRequest
    from imgcls_gui.gui.training_panel.panel import SEARCH_TAB
    from imgcls_gui.gui.worker import running_workers

    wait = waiter(app)
    weights = calibrated_init("mobilenet_v3_small", work / "mobilenet_v3_small-flowers-bn.pth")
    photos = copy_photos(work / "photos", 0, PER_CLASS)
    window = MainWindow()
    window.resize(*WINDOW_SIZE)
    window.show()
    window.projects.create_project(work / "Flowers", "Flowers")
    window.state.request_import(ImportRequest((photos,), "auto"))
    wait(lambda: window.state.project.image_count() == PER_CLASS * len(CLASSES) and not running_workers())
    window.state.set_run_config(RunConfig(
        data=DataConfig(num_workers=0, val_fraction=0.25),
        model=ModelConfig(name="mobilenet_v3_small", weights=str(weights), image_size=128),
        freeze=FreezeConfig(mode="head"),
        optim=OptimConfig(lr=1e-3),
        train=TrainConfig(epochs=10, batch_size=16, device="cpu"),
    ))
    panel = window.panel("training")
    window.show_panel("training")
    panel.tabs.setCurrentIndex(SEARCH_TAB)
    view = panel.search
    view.form.trials.setValue(TRIALS)
    view.form.epochs.setValue(4)
    assert panel.search_link.start(), "the search did not start"
    wait(lambda: view.model.rowCount() >= SHOT_AFTER, settle_s=1.0)
    window.grab().save(str(OUT / "search-tab.png"))
    print(f"saved {OUT / 'search-tab.png'}")
    view.cancel()
    wait(lambda: not view.running and not running_workers())
    window.close()


if __name__ == "__main__":
    main()
