"""``imgcls-gui``: the command line, the demo project, and the --screenshot mode the docs use."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

from imgcls_gui.engine.data.datasets import load_dataset
from imgcls_gui.engine.project.store import Project
from imgcls_gui.gui.app import build_parser


def run_app(args: list[str], tmp_path: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "IMGCLS_DATA_DIR": str(tmp_path / "data"),
           "XDG_CONFIG_HOME": str(tmp_path / "config")}  # the child's QSettings stay in tmp too
    return subprocess.run([sys.executable, "-m", "imgcls_gui.gui.app", *args], capture_output=True, text=True,
                          timeout=180, env=env)


def test_parser_accepts_the_documented_forms():
    parser = build_parser()
    assert parser.parse_args(["--demo"]).demo
    assert parser.parse_args(["some/project"]).project == "some/project"
    assert parser.parse_args(["--screenshot", "x.png"]).screenshot == "x.png"


def test_screenshot_of_a_project_with_thumbnails(tmp_path: Path, class_folders: Path):
    with Project.create(tmp_path / "proj", name="Pets") as project:
        project.import_dataset(load_dataset(class_folders))
    out = run_app([str(tmp_path / "proj"), "--screenshot", str(tmp_path / "shot.png")], tmp_path)
    assert out.returncode == 0, out.stderr
    with Image.open(tmp_path / "shot.png") as shot:
        assert shot.size == (1280, 800)
        assert len(shot.convert("RGB").getcolors(1 << 20) or []) > 200  # real thumbnails, not a blank window
    assert len(list((tmp_path / "proj" / ".thumbnails").rglob("*.jpg"))) == 7  # cached on disk in the project
    Project.open(tmp_path / "proj").close()  # the app released its lock on quitting


@pytest.mark.slow
def test_demo_creates_the_demo_project_once(tmp_path: Path):
    out = run_app(["--demo", "--screenshot", str(tmp_path / "demo.png")], tmp_path)
    assert out.returncode == 0, out.stderr
    demo = tmp_path / "data" / "demo-project"
    with Project.open(demo, read_only=True) as project:
        assert project.class_names() == [str(d) for d in range(10)]
        count = project.image_count()
        assert count >= 100
    out = run_app(["--demo", "--screenshot", str(tmp_path / "again.png")], tmp_path)
    assert out.returncode == 0, out.stderr
    with Project.open(demo, read_only=True) as project:
        assert project.image_count() == count  # opened, not imported twice


def test_opening_a_folder_that_is_not_a_project_shows_an_error_and_keeps_running(main_win, tmp_path: Path):
    from imgcls_gui.gui.errors import open_error_dialogs

    (tmp_path / "plain").mkdir()
    assert not main_win.projects.open_project(tmp_path / "plain")
    assert "no project.sqlite" in open_error_dialogs()[0].text()
    assert main_win.state.project is None and main_win.isVisible()


@pytest.mark.parametrize("message", [
    "/data/<b>bold</b><img src='http://example.invalid/x.png'>.jpg: not a supported image",
    "/data/x.yaml: not valid YAML (" + "lol, " * 400_000 + ")",
])
def test_error_dialogs_show_names_as_typed_and_bound_the_message(qtbot, message):
    from PySide6.QtCore import Qt

    from imgcls_gui.gui.errors import MAX_MESSAGE_CHARS, show_error

    dialog = show_error(None, message)
    assert dialog is not None and dialog.textFormat() == Qt.TextFormat.PlainText
    assert dialog.text().startswith(message[:40]) and len(dialog.text()) < MAX_MESSAGE_CHARS + 60
