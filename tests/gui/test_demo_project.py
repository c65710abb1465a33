"""The demo project: written and imported by the import worker, and trainable offline on the first click of Start."""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtCore import QObject, Qt, Slot

from imgcls_gui.engine import Project, RunConfig
from imgcls_gui.engine import events as ev
from imgcls_gui.gui import errors as gui_errors
from imgcls_gui.gui.main_window import MainWindow

from .workflow_helpers import WAIT_MS


class Batches(QObject):
    """Counts the training batches the panel hears of (on the UI thread)."""

    def __init__(self) -> None:
        super().__init__()
        self.count = 0

    @Slot(object)
    def record(self, event: object) -> None:
        self.count += isinstance(event, ev.BatchEnd)


def open_demo(window: MainWindow, qtbot) -> Project:
    statuses: list[str] = []
    window.state.statusMessage.connect(statuses.append)
    assert window.projects.open_demo_project()
    assert window.importer.busy  # the images are written and read off the UI thread
    qtbot.waitUntil(lambda: not window.importer.busy, timeout=WAIT_MS)
    assert any("demo" in s for s in statuses)  # the import says what it is doing, as other imports do
    return window.state.project


@pytest.mark.slow
def test_the_demo_trains_offline_on_the_first_click_of_start(main_win: MainWindow, qtbot, tmp_path: Path,
                                                            monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))  # no weights cached
    monkeypatch.setenv("IMGCLS_OFFLINE", "1")  # and no download possible
    monkeypatch.setenv("IMGCLS_CACHE_DIR", str(tmp_path / "cache"))
    project = open_demo(main_win, qtbot)
    assert project.class_names() == [str(d) for d in range(10)] and project.image_count() == 500
    assert main_win.state.run_config.model.weights == "none"  # what trains without ImageNet weights

    main_win.show_panel("training")
    panel = main_win.panel("training")
    batches = Batches()
    panel.session.event.connect(batches.record)
    qtbot.mouseClick(panel.controls.start_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: batches.count >= 2 or not panel.session.running, timeout=WAIT_MS)
    assert batches.count >= 2, panel.controls.log.toPlainText()
    assert not gui_errors.open_error_dialogs()
    with qtbot.waitSignal(panel.session.finished, timeout=WAIT_MS):
        panel.session.stop()
    assert not gui_errors.open_error_dialogs()


def test_the_demo_project_keeps_its_options_and_is_not_imported_twice(main_win: MainWindow, qtbot,
                                                                      monkeypatch: pytest.MonkeyPatch, tmp_path):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    project = open_demo(main_win, qtbot)
    folder, count = project.folder, project.image_count()
    main_win.actions["close_project"].trigger()
    main_win.state.set_run_config(RunConfig())  # ImageNet weights on screen meanwhile
    assert main_win.projects.open_demo_project()
    assert not main_win.importer.busy  # opened, not imported again
    assert main_win.state.project.folder == folder and main_win.state.project.image_count() == count
    assert main_win.state.run_config.model.weights == "none"  # the demo's saved options came back
