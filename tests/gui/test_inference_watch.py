"""The Inference panel's watch mode: a folder's images, then each new one, appear in the live table until Stop."""

from __future__ import annotations

import shutil

import pytest

from imgcls_gui.engine.deploy.predict import Predictor
from imgcls_gui.gui.main_window import MainWindow

from ..engine.export_fixtures import write_photos
from .test_inference_panel import open_inference, project_and_run
from .workflow_helpers import WAIT_MS


def test_watching_a_folder_shows_new_images_as_they_arrive_until_stop(main_win: MainWindow, qtbot, tmp_path):
    _, run = project_and_run(qtbot, main_win, tmp_path)
    inbox = tmp_path / "inbox"
    photos = write_photos(inbox, 2)
    panel = open_inference(qtbot, main_win)
    panel.ask_folder = lambda parent, title: str(inbox)
    panel.watch_button.click()
    qtbot.waitUntil(lambda: len(panel.results.rows) == 2, timeout=WAIT_MS)
    assert panel.cancel_button.text() == "Stop watching" and not panel.watch_button.isEnabled()
    assert "Watching" in panel.status.text() and "file-system events" in panel.status.text()
    shutil.copy(photos[0], inbox / "arrived.jpg")
    qtbot.waitUntil(lambda: len(panel.results.rows) == 3, timeout=WAIT_MS)
    panel.cancel_button.click()
    qtbot.waitUntil(lambda: panel.worker is None, timeout=WAIT_MS)
    assert panel.status.text().startswith("Stopped watching") and panel.cancel_button.text() == "Cancel"
    assert panel.watch_button.isEnabled() and panel.export_button.isEnabled()
    shown = {row.prediction.path: row.prediction for row in panel.results.rows}
    assert list(shown) == [*photos, inbox / "arrived.jpg"]
    for expected in Predictor.load(run).predict([*photos, inbox / "arrived.jpg"]):
        assert shown[expected.path].label == expected.label
        assert shown[expected.path].score == pytest.approx(expected.score, abs=1e-5)
