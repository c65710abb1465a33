"""Grad-CAM in the app: a confusion-matrix cell's image shows its overlay and is relabelled there, undoably."""

from __future__ import annotations

import os

import numpy as np

from imgcls_gui.engine.evaluation.results import RunResults, SampleResult, roc_pr_curves
from imgcls_gui.gui.main_window import MainWindow

from ..engine.export_fixtures import save_run
from .workflow_helpers import WAIT_MS, colour_project, wait_workers


def test_cell_image_shows_its_gradcam_and_relabels_through_undo(main_win: MainWindow, qtbot, tmp_path):
    folder = colour_project(qtbot, main_win, tmp_path, per_class=2)
    project = main_win.state.project
    classes = ("red", "blue")
    run = save_run(folder / "runs" / "r1", classes=classes)
    records = sorted(project.images(), key=lambda r: str(r.file))
    red = [r for r in records if r.labels == ("red",)]
    samples = tuple(SampleResult(i, r.file, r.labels, ("blue",), (0.2, 0.8), 1.0) for i, r in enumerate(red))
    roc, pr = roc_pr_curves(np.array([s.probs for s in samples]), np.array([[1, 0]] * len(samples)), classes)
    results = RunResults(run, "val", "multiclass", classes, 1.0, {"accuracy": 0.0}, {c: {} for c in classes},
                         ((0, len(red)), (0, 0)), None, samples, roc, pr)
    view = main_win.panel("training").results
    view.show_results(results)

    view.show_cell(0, 1)  # red predicted as blue: the first image is explained at once
    pane = view.cell_explanation
    qtbot.waitUntil(lambda: pane.result is not None, timeout=WAIT_MS)
    assert pane.result.path == red[0].file and pane.result.overlays
    assert pane.result.pid not in (0, os.getpid())  # Grad-CAM ran in the child process
    assert pane.image.pixmap() is not None and not pane.image.pixmap().isNull()

    pane.label_box.setCurrentText("blue")
    assert pane.relabel_button.isEnabled()
    pane.relabel_button.click()
    assert project.labels_of([red[0].id])[red[0].id] == ("blue",)
    main_win.state.undo_stack.undo()
    assert project.labels_of([red[0].id])[red[0].id] == ("red",)
    wait_workers(qtbot)


def test_inference_row_shows_its_gradcam_for_a_run_and_says_why_not_for_onnx(main_win: MainWindow, qtbot, tmp_path):
    from imgcls_gui.engine import Predictor

    from ..engine.export_fixtures import write_photos

    run = save_run(tmp_path / "run")
    photos = write_photos(tmp_path / "in", 2, size=(48, 40))
    predictor = Predictor.load(run)
    panel = main_win.panel("inference")
    panel.results.append(predictor.predict(photos))
    panel.explainer.set_predictor(predictor)
    panel.explainer.toggle.setChecked(True)
    pane = panel.explainer.pane
    assert pane.isVisibleTo(panel)

    panel.table.selectRow(1)
    qtbot.waitUntil(lambda: pane.result is not None, timeout=WAIT_MS)
    assert pane.result.path == photos[1] and pane.result.overlays and pane.result.pid not in (0, os.getpid())

    class Exported:  # what an ONNX predictor tells the panel about itself
        kind, source, classes = "onnx", tmp_path / "m.onnx", predictor.classes

    panel.explainer.set_predictor(Exported())
    assert "needs a run" in pane.title.text()
    wait_workers(qtbot)
