"""The main window: panels, menus and shortcuts, status bar, settings, recent projects."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from PySide6.QtCore import QSettings

from imgcls_gui.gui.main_window import MainWindow
from imgcls_gui.gui.panels import PANELS
from imgcls_gui.gui.settings import recent_projects

from .dataset.helpers import import_and_wait


def test_sidebar_lists_four_panels_and_builds_them_on_demand(main_win: MainWindow, qtbot):
    titles = [main_win.sidebar.item(i).text() for i in range(main_win.sidebar.count())]
    assert titles == ["Dataset", "Model & Freezing", "Training", "Inference"]
    assert set(main_win._panels) == {"dataset"}  # the others cost nothing until shown
    main_win.actions["panel_training"].trigger()
    assert main_win.stack.currentIndex() == 2
    assert "training" in main_win._panels
    assert main_win.sidebar.currentRow() == 2


def test_every_command_has_a_keyboard_shortcut(main_win: MainWindow):
    for key in ("new_project", "open_project", "open_demo", "export_model", "close_project", "import_images", "import_folder",
                "import_csv", "import_voc", "quit", "guide", "undo", "redo"):
        assert not main_win.actions[key].shortcut().isEmpty(), key
    shortcuts = [a.shortcut().toString() for a in main_win.actions.values() if not a.shortcut().isEmpty()]
    assert len(shortcuts) == len(set(shortcuts)), "two commands share a shortcut"


def test_status_bar_follows_project_and_images(main_win: MainWindow, qtbot, tmp_path: Path, class_folders: Path):
    assert main_win.project_label.text() == "No project"
    assert not main_win.actions["close_project"].isEnabled()
    assert main_win.projects.create_project(tmp_path / "proj", "Pets")
    assert main_win.project_label.text() == "Project: Pets"
    assert main_win.windowTitle().startswith("Pets")
    import_and_wait(qtbot, main_win, class_folders)
    assert main_win.count_label.text() == "7 images"
    main_win.state.set_device("Test GPU (cuda:0)")
    assert main_win.device_label.text() == "Device: Test GPU (cuda:0)"
    main_win.actions["close_project"].trigger()
    assert main_win.project_label.text() == "No project" and main_win.count_label.text() == ""


def test_recent_projects_and_geometry_are_remembered(qtbot, tmp_path: Path):
    first = MainWindow(probe_device=False)
    qtbot.addWidget(first)
    first.show()
    first.projects.create_project(tmp_path / "a")
    first.projects.create_project(tmp_path / "b")
    minimum = first.minimumSizeHint()
    first.resize(minimum.width() + 37, minimum.height() + 23)  # neither the minimum nor the default size
    size = first.size()
    first.close()
    assert recent_projects() == [(tmp_path / "b").resolve(), (tmp_path / "a").resolve()]
    assert QSettings().value("mainWindow/geometry") is not None
    second = MainWindow(probe_device=False)
    qtbot.addWidget(second)
    assert second.size() == size and size.height() == minimum.height() + 23
    second.recent_menu.aboutToShow.emit()
    entries = [a for a in second.recent_menu.actions() if a.data()]
    assert [Path(a.data()) for a in entries] == recent_projects()
    entries[1].trigger()
    assert second.state.project.folder == (tmp_path / "a").resolve()
    second.close()


@pytest.mark.parametrize("spec", PANELS, ids=[spec.key for spec in PANELS])
def test_every_registered_panel_builds_without_a_project(main_win: MainWindow, spec):
    panel = main_win.panel(spec.key)
    assert panel.objectName() == f"{spec.key}Panel"
    assert main_win.stack.widget(PANELS.index(spec)).isAncestorOf(panel)


def test_device_probe_reports_cpu_from_a_worker(qtbot):
    window = MainWindow(probe_device=True)
    qtbot.addWidget(window)
    window.show()
    qtbot.waitUntil(lambda: window.state.device not in ("", "detecting…"), timeout=120_000)
    assert "CPU" in window.device_label.text() or "cuda" in window.device_label.text()
    window.close()


def test_gui_modules_do_not_import_torch():
    """The window must show before torch loads: importing and building the window leaves torch out."""
    code = (
        "import os, sys; os.environ['QT_QPA_PLATFORM'] = 'offscreen';"
        "from PySide6.QtWidgets import QApplication; app = QApplication([]);"
        "from imgcls_gui.gui.main_window import MainWindow; w = MainWindow(probe_device=False); w.show();"
        "import imgcls_gui.gui.app;"
        "print('torch' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip().splitlines()[-1] == "False"
