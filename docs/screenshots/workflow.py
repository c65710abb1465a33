"""The whole job in the real app, from a fresh home folder, with a screenshot at each step.

Drives the real main window through a scripted session: a new project, flowers17 photos imported
through the import preview (five classes found, one left out), a label changed with a key,
mobilenet_v3_small with the first groups frozen, a short run on the CPU, the results,
the Export dialog, predictions on other photos of the same flowers, and the project closed and
reopened with its options restored. ImageNet weights cannot be downloaded on
the machines that make these pictures, so the backbone starts from random weights whose BatchNorm
statistics were measured on flowers17 (``benchmarks/common.py``), loaded as a local weights file.
Run it under Xvfb so Qt renders as on a desktop:

    xvfb-run -s "-screen 0 1400x900x24" .venv/bin/python docs/screenshots/workflow.py

Writes import-preview.png, dataset-panel.png, model-panel.png, training-simple.png, training-live.png, training-results.png, training-runs.png,
training-compare.png, export-dialog.png and inference-panel.png and reopened.png beside this file. Needs ../shared/datasets/flowers17.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))
FLOWERS = ROOT.parent / "shared" / "datasets" / "flowers17"
OUT = Path(__file__).resolve().parent
CLASSES = {"c1": "daffodil", "c4": "bluebell", "c9": "fritillary", "c12": "coltsfoot"}  # flowers17's order
LEFT_OUT = {"c16": "windflower"}  # found by the import, unchecked in its preview
TRAIN_PER_CLASS, NEW_PER_CLASS = 30, 6
WINDOW_SIZE = (1280, 800)


def copy_photos(dest: Path, first: int, count: int, classes: dict[str, str] = CLASSES) -> Path:
    for folder, name in classes.items():
        (dest / name).mkdir(parents=True, exist_ok=True)
        for photo in sorted((FLOWERS / folder).iterdir())[first:first + count]:
            shutil.copy(photo, dest / name / photo.name)
    return dest


def fresh_app(prefix: str):
    """A work folder standing in for a fresh home (no settings, recent projects or caches) and the QApplication."""
    work = Path(tempfile.mkdtemp(prefix=prefix))
    os.environ["HOME"] = str(work / "home")
    (work / "home").mkdir()
    os.environ["IMGCLS_DATA_DIR"] = str(work / "data")
    os.environ["IMGCLS_CACHE_DIR"] = str(work / "cache")
    from PySide6.QtCore import QCoreApplication
    from PySide6.QtWidgets import QApplication

    QCoreApplication.setOrganizationName("imgcls-screenshots")
    QCoreApplication.setApplicationName("imgcls-screenshots")
    return work, QApplication(sys.argv[:1])


def waiter(app):
    """``wait(condition, timeout_s, settle_s)``: run the event loop until ``condition()``, then ``settle_s`` more."""

    def wait(condition, timeout_s: float = 1800, settle_s: float = 0.0) -> None:
        deadline = time.monotonic() + timeout_s
        while not condition():
            if time.monotonic() > deadline:
                raise TimeoutError("the scripted session got stuck")
            app.processEvents()
            time.sleep(0.01)
        end = time.monotonic() + settle_s
        while time.monotonic() < end:  # let repaints and thumbnail decodes land
            app.processEvents()
            time.sleep(0.01)

    return wait


def main() -> None:
    work, app = fresh_app("imgcls-shots-")
    from PySide6.QtCore import Qt
    from PySide6.QtTest import QTest

    from imgcls_gui.engine import events as ev
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

    from common import calibrated_init

    weights = calibrated_init("mobilenet_v3_small", work / "mobilenet_v3_small-flowers-bn.pth")
    photos = copy_photos(work / "photos", 0, TRAIN_PER_CLASS, {**CLASSES, **LEFT_OUT})
    new_photos = copy_photos(work / "new", TRAIN_PER_CLASS, NEW_PER_CLASS)
    window = MainWindow()
    window.resize(*WINDOW_SIZE)
    window.show()
    window.projects.create_project(work / "Flowers", "Flowers")
    window.state.request_import(ImportRequest((photos,), "auto", preview=True))  # as File > Import does
    wait(lambda: window.importer.preview_dialog is not None)
    preview = window.importer.preview_dialog
    for name in LEFT_OUT.values():
        preview.set_class_checked(name, False)
    wait(lambda: True, settle_s=0.5)
    preview.grab().save(str(OUT / "import-preview.png"))
    print(f"saved {OUT / 'import-preview.png'}")
    preview.accept()
    wait(lambda: window.state.project.image_count() == TRAIN_PER_CLASS * len(CLASSES) and not running_workers())
    assert sorted(c.name for c in window.state.project.classes()) == sorted(CLASSES.values()), "left-out class imported"

    dataset = window.panel("dataset")
    window.show_panel("dataset")
    grid = dataset.grid
    grid.setFocus()
    grid.setCurrentIndex(grid.model().index(0, 0))  # selects the first photo, as a click would
    photo = grid.selected_ids()
    before = window.state.project.labels_of(photo)
    QTest.keyClick(grid, Qt.Key.Key_2)  # key 2 = the second class in the list's (natural) order
    assert window.state.project.labels_of(photo) != before, "key 2 changed no label"
    wait(lambda: not running_workers(), settle_s=1.0)
    shoot("dataset-panel.png")
    window.state.undo_stack.undo()  # Ctrl+Z: the photo keeps its true class for training
    assert window.state.project.labels_of(photo) == before, (before, window.state.project.labels_of(photo))
    window.state.set_run_config(RunConfig(
        data=DataConfig(num_workers=0, val_fraction=0.25),
        augment=AugmentConfig(crop_scale_min=0.5, color_jitter=0.2),
        model=ModelConfig(name="mobilenet_v3_small", weights=str(weights), image_size=96, dropout=0.2),
        freeze=FreezeConfig(mode="first-n", groups=5),
        optim=OptimConfig(lr=3e-3, warmup_epochs=0.5),
        train=TrainConfig(epochs=10, batch_size=16, device="cpu"),
    ))

    model = window.panel("model")
    window.show_panel("model")
    wait(lambda: model.freeze.tree.groups and model.backbones.cached is not None and not running_workers())
    model.freeze.tree.expand(model.freeze.tree.tree_model.index(5, 0))
    shoot("model-panel.png")

    training = window.panel("training")
    window.show_panel("training")
    training.set_advanced(False)  # a newcomer's first view: presets, model size and epochs
    wait(lambda: not running_workers())
    shoot("training-simple.png")
    training.set_advanced(True)  # every option and the augmentation preview, as the live shot shows them
    wait(lambda: not running_workers() and training.augmentation.shown_tiles() > 0)
    paused_once: list[bool] = []

    def pause_mid_run(event: object) -> None:  # a fast machine would finish before a timer could catch it
        if isinstance(event, ev.EpochEnd) and event.epoch == 5 and not paused_once:
            paused_once.append(True)
            training.controls.pause_button.click()

    training.session.event.connect(pause_mid_run)
    assert training.start()
    wait(lambda: training.session.paused and "paused" in training.controls.log.toPlainText(), settle_s=1.0)
    shoot("training-live.png")
    training.controls.pause_button.click()
    wait(lambda: not training.session.running)
    wait(lambda: training.results.results is not None and not running_workers())
    training.results.tabs.setCurrentIndex(1)
    matrix = training.results.matrix.confusion
    worst = max(((t, p) for t in range(len(matrix.matrix)) for p in range(len(matrix.matrix)) if t != p),
                key=lambda cell: matrix.matrix[cell[0]][cell[1]])
    training.results.matrix.clicked.emit(matrix.index(*worst))
    wait(lambda: training.results.cell_gallery.thumbnails.is_idle()
         and training.results.cell_explanation.progress.isHidden(), settle_s=1.0)  # the Grad-CAM is drawn
    shoot("training-results.png")

    first_run = training.session.run_dir
    # A second run, head only, to compare with the first.
    window.state.set_run_config(window.state.run_config.replace(freeze=FreezeConfig(mode="head")))
    assert training.start()
    wait(lambda: not training.session.running)
    wait(lambda: training.results.results is not None and not running_workers())
    training.tabs.setCurrentIndex(2)
    training.runs.table.selectAll()
    shoot("training-runs.png")
    training.runs.compare_button.click()
    shoot("training-compare.png")

    training.tabs.setCurrentIndex(2)
    training.runs.select_run(first_run)
    training.runs.export_button.click()  # the Export dialog on the first run, with a bundle folder
    dialog = window.export_dialog
    dialog.bundle_check.setChecked(True)
    assert dialog.start()
    wait(lambda: dialog.worker is None, settle_s=0.8)
    dialog.grab().save(str(OUT / "export-dialog.png"))
    print(f"saved {OUT / 'export-dialog.png'}")
    dialog.accept()

    inference = window.panel("inference")
    window.show_panel("inference")
    inference.source.choose(first_run)  # the better of the two runs
    wait(lambda: inference.predictor is not None)
    inference.add_inputs([new_photos])
    wait(lambda: inference.worker is None and inference.status.text().startswith("Predicted"))
    wait(lambda: inference.thumbnails.is_idle(), settle_s=1.5)
    shoot("inference-panel.png")

    # Reopen: the project's options come back as they were chosen (they live in project.sqlite).
    chosen = window.state.run_config
    window.projects.close_project()
    wait(lambda: window.state.project is None and not running_workers())
    assert window.projects.open_project(work / "Flowers")
    wait(lambda: window.state.project is not None and not running_workers(), settle_s=1.0)
    assert window.state.run_config == chosen, "the project's options were not restored on reopen"
    window.show_panel("training")
    training.tabs.setCurrentIndex(0)
    shoot("reopened.png")
    window.close()
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
