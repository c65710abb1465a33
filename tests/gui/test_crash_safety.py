"""kill -9 the real app while it labels: every label the grid showed as applied is in the database."""

from __future__ import annotations

import signal
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from imgcls_gui.engine.project.store import PROJECT_FILE, Project
from imgcls_gui.engine.data.samples import LabeledDataset, Sample

from .conftest import write_png

# The child boots the main window offscreen, labels with key presses, and prints what the grid
# shows after each key press returned: that line is the user seeing "applied".
CHILD_APP = textwrap.dedent("""
    import os, sys
    os.environ["QT_QPA_PLATFORM"] = "offscreen"
    from PySide6.QtCore import QCoreApplication, QSettings, Qt
    from PySide6.QtTest import QTest
    from PySide6.QtWidgets import QApplication
    QCoreApplication.setOrganizationName("imgcls-tests")
    QSettings.setDefaultFormat(QSettings.Format.IniFormat)
    QSettings.setPath(QSettings.Format.IniFormat, QSettings.Scope.UserScope, sys.argv[2])
    app = QApplication([])
    from imgcls_gui.gui.main_window import MainWindow
    window = MainWindow(probe_device=False)
    window.show()
    assert window.projects.open_project(sys.argv[1])
    panel = window.panel("dataset")
    grid, model = panel.grid, panel.model
    grid.setFocus()
    grid.select_rows([0])
    keys = [Qt.Key.Key_1, Qt.Key.Key_2, Qt.Key.Key_3]
    for n in range(model.rowCount() - 1):
        row = grid.currentIndex().row()
        QTest.keyClick(grid, keys[n % 3])
        record = model.record(row)
        print(record.id, record.labels[0], flush=True)
    print("done", flush=True)
""")


@pytest.fixture
def unlabeled_project(tmp_path: Path) -> Path:
    images = [write_png(tmp_path / "img" / f"{i:03d}.png", i, size=(8, 8)) for i in range(150)]
    with Project.create(tmp_path / "proj") as project:
        project.import_dataset(LabeledDataset(tmp_path / "img", "files", [Sample(p) for p in images], [], "multiclass"))
        for name in ("red", "green", "blue"):
            project.add_class(name)
    return tmp_path / "proj"


@pytest.mark.parametrize("acknowledged_before_kill", [3, 25, 60])
def test_kill_9_while_labeling_in_the_app_loses_nothing_shown(unlabeled_project: Path, tmp_path: Path,
                                                               acknowledged_before_kill: int):
    child = subprocess.Popen([sys.executable, "-c", CHILD_APP, str(unlabeled_project), str(tmp_path / "settings")],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    shown: dict[int, str] = {}
    try:
        while len(shown) < acknowledged_before_kill:
            line = child.stdout.readline()
            assert line and line.strip() != "done", f"child ended early: {child.stderr.read()[-2000:]}"
            image_id, name = line.split()
            shown[int(image_id)] = name
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait(30)
    for line in child.stdout.read().splitlines():  # printed before the kill landed: shown too
        if line != "done":
            image_id, name = line.split()
            shown[int(image_id)] = name
    assert child.returncode == -signal.SIGKILL
    conn = sqlite3.connect(unlabeled_project / PROJECT_FILE)
    assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    conn.close()
    with Project.open(unlabeled_project) as project:  # the killed app's lock is stale, taken over
        stored = project.labels_of(shown)
    assert {image_id: labels[0] for image_id, labels in stored.items() if labels} == shown
