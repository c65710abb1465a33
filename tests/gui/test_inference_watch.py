"""The Inference panel's watch mode: a folder's images, then each new one, appear in the live table until Stop;
the watch runs in the app's child process, which Stop leaves ready for the next job, and a watching child killed
from outside fails the watch with the cause named while the next watch works."""

from __future__ import annotations

import os
import shutil
import signal
import time

import pytest

from imgcls_gui.engine import idle_children
from imgcls_gui.engine.deploy.predict import Predictor
from imgcls_gui.gui import errors as gui_errors
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
    watcher = panel.watch.watcher_pid
    assert watcher not in (0, os.getpid())  # the child process watches, not the app
    shutil.copy(photos[0], inbox / "arrived.jpg")
    qtbot.waitUntil(lambda: len(panel.results.rows) == 3, timeout=WAIT_MS)
    stop_clicked = time.monotonic()
    panel.cancel_button.click()
    qtbot.waitUntil(lambda: panel.worker is None, timeout=WAIT_MS)
    assert time.monotonic() - stop_clicked < 3  # the child saw Stop at its next look, well before being ended
    assert panel.status.text().startswith("Stopped watching") and panel.cancel_button.text() == "Cancel"
    assert panel.watch_button.isEnabled() and panel.export_button.isEnabled()
    assert watcher in [child.pid for child in idle_children()]  # stopped, not ended: warm for the next job
    shown = {row.prediction.path: row.prediction for row in panel.results.rows}
    assert list(shown) == [*photos, inbox / "arrived.jpg"]
    for expected in Predictor.load(run).predict([*photos, inbox / "arrived.jpg"]):
        assert shown[expected.path].label == expected.label
        assert shown[expected.path].score == pytest.approx(expected.score, abs=1e-5)

    (inbox / "later.jpg").write_bytes((inbox / "arrived.jpg").read_bytes())
    panel.watch_button.click()  # the same child watches again
    qtbot.waitUntil(lambda: len(panel.results.rows) == 4, timeout=WAIT_MS)
    assert panel.watch.watcher_pid == watcher
    panel.cancel_button.click()
    qtbot.waitUntil(lambda: panel.worker is None, timeout=WAIT_MS)


def test_a_watching_child_killed_from_outside_fails_the_watch_and_the_next_watch_works(main_win: MainWindow, qtbot,
                                                                                        tmp_path):
    project_and_run(qtbot, main_win, tmp_path)
    inbox = tmp_path / "inbox"
    write_photos(inbox, 2)
    panel = open_inference(qtbot, main_win)
    panel.watch_folder(inbox)
    qtbot.waitUntil(lambda: len(panel.results.rows) == 2, timeout=WAIT_MS)
    killed = panel.watch.watcher_pid
    os.kill(killed, signal.SIGKILL)  # the OOM killer, say, while the child waits for new files
    qtbot.waitUntil(lambda: panel.worker is None, timeout=WAIT_MS)
    status = panel.status.text()
    assert status.startswith(f"Stopped watching {inbox}:") and "signal SIGKILL" in status, status
    assert "app keeps running" in status and gui_errors.open_error_dialogs() and main_win.isVisible()
    assert panel.watch_button.isEnabled() and panel.cancel_button.text() == "Cancel"
    assert len(panel.results.rows) == 2  # what was predicted stays
    for error in gui_errors.open_error_dialogs():
        error.close()

    panel.watch_folder(inbox)  # a fresh child
    qtbot.waitUntil(lambda: len(panel.results.rows) == 2 and panel.watch.watcher_pid != 0, timeout=WAIT_MS)
    assert panel.watch.watcher_pid not in (killed, os.getpid())
    panel.cancel()
    qtbot.waitUntil(lambda: panel.worker is None, timeout=WAIT_MS)
    assert panel.status.text().startswith("Stopped watching")
