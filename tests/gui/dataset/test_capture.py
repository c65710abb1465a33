"""The Capture view with a video file standing in for a camera: a burst adds N images to the class
(JPEG files in the project's image folder), undo takes them out and redo brings them back."""

from __future__ import annotations

import pytest

from imgcls_gui.gui.common.frames import multimedia_problem
from imgcls_gui.gui.main_window import MainWindow

from ..video_file import colour_frames, write_mjpeg_avi
from .helpers import import_and_wait

pytestmark = pytest.mark.skipif(bool(multimedia_problem()), reason=multimedia_problem() or "")


def open_capture(qtbot, window: MainWindow, video):
    panel = window.panel("dataset")
    window.show_panel("dataset")
    panel.tabs.setCurrentWidget(panel.capture)
    view = panel.capture
    view.use_video(video)
    qtbot.waitUntil(lambda: view.source.latest_image() is not None, timeout=180_000)
    return view


def test_a_burst_adds_n_images_to_the_class_and_undo_removes_them(main_win: MainWindow, qtbot, tmp_path, class_folders):
    assert main_win.projects.create_project(tmp_path / "proj", "proj")
    import_and_wait(qtbot, main_win, class_folders)
    project = main_win.state.project
    before = project.image_count()
    video = write_mjpeg_avi(tmp_path / "cam.avi", colour_frames([(200, 30, 30), (30, 30, 200)] * 5))
    view = open_capture(qtbot, main_win, video)
    assert "cam.avi" in view.picker.combo.currentText() and view.capture_button.isEnabled()
    view.class_combo.setCurrentText("dog")
    view.count.setValue(4)
    view.rate.setValue(30.0)
    qtbot.mousePress(view.capture_button, qtbot_button())  # held down: the burst runs until 4 frames
    qtbot.waitUntil(lambda: view.status.text().startswith("Captured"), timeout=180_000)
    qtbot.mouseRelease(view.capture_button, qtbot_button())
    assert project.image_count() == before + 4
    added = [r for r in project.images() if "images/dog/" in r.path]
    assert len(added) == 4 and all(r.labels == ("dog",) and r.file.suffix == ".jpg" and r.file.is_file() for r in added)
    assert all(r.file.parent == tmp_path / "proj" / "images" / "dog" for r in added)
    main_win.state.undo_stack.undo()
    assert project.image_count() == before and all(r.file.is_file() for r in added)  # files stay for redo
    main_win.state.undo_stack.redo()
    assert sorted(r.id for r in project.images() if "images/dog/" in r.path) == sorted(r.id for r in added)


def qtbot_button():
    from PySide6.QtCore import Qt

    return Qt.MouseButton.LeftButton


def test_without_a_camera_the_view_says_so_and_offers_an_import(main_win: MainWindow, qtbot, tmp_path):
    panel = main_win.panel("dataset")
    main_win.show_panel("dataset")
    panel.tabs.setCurrentWidget(panel.capture)
    view = panel.capture
    if view.picker.has_source():
        pytest.skip("this machine has a camera")
    assert "No camera found" in view.preview.text() and view.import_button.isVisible()
    assert not view.capture_button.isEnabled()
