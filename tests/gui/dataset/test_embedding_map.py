"""The Embedding map tab: a lasso around points selects those images in the grid; colours follow labels."""

from __future__ import annotations

import os

import numpy as np
from PySide6.QtCore import QPointF
from PySide6.QtGui import QPolygonF

from imgcls_gui.gui.dataset.embedding_view import UNLABELLED, MapData
from imgcls_gui.gui.main_window import MainWindow

from ...engine.tiny_data import make_class_folders
from ..workflow_helpers import project_with_images


def test_lasso_selects_the_points_inside_in_the_grid_and_points_take_class_colours(main_win: MainWindow, qtbot, tmp_path):
    project_with_images(qtbot, main_win, tmp_path, make_class_folders(tmp_path / "c", per_class=3))
    panel = main_win.panel("dataset")
    records = sorted(main_win.state.project.images(), key=lambda r: r.id)
    # reds on the left, blues on the right, as a map of separable classes puts them
    coords = np.array([[-1.0 - i, 0.0] if r.labels == ("red",) else [1.0 + i, 0.0] for i, r in enumerate(records)],
                      dtype=np.float32)
    error = np.linspace(0, 1, len(records))
    view = panel.embedding
    view.show_map(MapData(tuple(r.id for r in records), tuple(r.file for r in records), coords,
                          tuple(r.labels for r in records), tuple("blue" for _ in records), error, "test", "umap"))

    right = QPolygonF([QPointF(0.5, -1), QPointF(100, -1), QPointF(100, 1), QPointF(0.5, 1)])
    view.viewbox.lassoFinished.emit(right)

    blues = sorted(r.id for r in records if r.labels == ("blue",))
    assert sorted(panel.grid.selected_ids()) == blues
    assert sorted(main_win.state.selected_ids) == blues
    colours = {c.name: c.colour for c in main_win.state.project.classes()}
    assert view.point_colours() == [colours[r.labels[0]] for r in records]
    view.colouring.setCurrentText("prediction")
    assert set(view.point_colours()) == {colours["blue"]}
    view.colouring.setCurrentText("error score")
    shades = view.point_colours()
    assert len(set(shades)) > 1 and UNLABELLED not in shades


def test_compute_places_every_project_image_from_the_model_panels_backbone(main_win: MainWindow, qtbot, tmp_path,
                                                                         monkeypatch):
    from ..workflow_helpers import WAIT_MS, fast_config, wait_workers

    monkeypatch.setenv("IMGCLS_CACHE_DIR", str(tmp_path / "cache"))
    project_with_images(qtbot, main_win, tmp_path, make_class_folders(tmp_path / "c", per_class=3))
    main_win.state.set_run_config(fast_config())  # mobilenet_v3_small, random weights, 32 px
    view = main_win.panel("dataset").embedding
    view.method.setCurrentText("pca")

    view.compute_button.click()
    qtbot.waitUntil(lambda: view.data is not None, timeout=WAIT_MS)

    ids = sorted(r.id for r in main_win.state.project.images())
    assert sorted(view.data.image_ids) == ids and view.data.coords.shape == (len(ids), 2)
    assert np.isfinite(view.data.coords).all() and view.data.predicted is None  # no run yet: colour by label only
    assert view.compute_button.isEnabled() and not view.cancel_button.isVisible()
    assert view.data.pid not in (0, os.getpid())  # features, layout and all came from the child process
    wait_workers(qtbot)


def test_a_map_from_a_run_colours_by_its_predictions_and_a_child_killed_mid_map_leaves_the_tab_usable(
        main_win: MainWindow, qtbot, tmp_path, monkeypatch):
    from ..workflow_helpers import WAIT_MS, fast_config, save_listed_run, wait_workers

    monkeypatch.setenv("IMGCLS_CACHE_DIR", str(tmp_path / "cache"))
    folder = project_with_images(qtbot, main_win, tmp_path, make_class_folders(tmp_path / "c", per_class=3))
    save_listed_run(folder / "runs" / "r1", fast_config(), [{"epoch": 0, "accuracy": 0.9}], classes=("red", "blue"))
    view = main_win.panel("dataset").embedding
    view.method.setCurrentText("pca")

    monkeypatch.setenv("IMGCLS_TEST_JOB_SIGNAL", "map:SIGKILL:2")  # mid-extraction
    view.compute_button.click()
    qtbot.waitUntil(lambda: view.compute_button.isEnabled(), timeout=WAIT_MS)
    assert "Could not compute the map" in view.status.text() and "signal SIGKILL" in view.status.text()
    assert view.data is None and main_win.isVisible()

    monkeypatch.delenv("IMGCLS_TEST_JOB_SIGNAL")
    view.compute_button.click()
    qtbot.waitUntil(lambda: view.data is not None, timeout=WAIT_MS)
    records = {r.id: r for r in main_win.state.project.images()}
    assert sorted(view.data.image_ids) == sorted(records) and view.data.coords.shape == (len(records), 2)
    assert view.data.predicted is not None and set(view.data.predicted) <= {"red", "blue"}
    labelled = [not records[i].labels for i in view.data.image_ids]
    assert np.isnan(view.data.error).tolist() == labelled and np.nanmax(view.data.error) <= 1.0
    view.colouring.setCurrentText("prediction")
    assert len(view.point_colours()) == len(records)
    wait_workers(qtbot)
