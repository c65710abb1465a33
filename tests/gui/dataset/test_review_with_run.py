"""The Review view with a trained run: the selected row shows the run's Grad-CAM (the real explain code), and
"keep the label" (K) is remembered in the store through undo, so a rebuilt queue, even after reopening the
project, does not list the kept image again."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from PySide6.QtCore import Qt

from imgcls_gui.gui.common.undo import assign_class

from ...engine.tiny_data import make_class_folders
from ..workflow_helpers import WAIT_MS, fast_config, project_with_images, save_listed_run, wait_workers


def _find_issues(qtbot, review) -> None:
    review.start()
    qtbot.waitUntil(lambda: not review.running, timeout=WAIT_MS)
    assert "likely label error" in review.summary.text(), review.summary.text()


def test_gradcam_of_the_selected_row_and_a_kept_image_stays_out_of_the_rebuilt_queue(main_win, qtbot, tmp_path: Path,
                                                                                     monkeypatch):
    monkeypatch.setenv("IMGCLS_CACHE_DIR", str(tmp_path / "cache"))
    data = make_class_folders(tmp_path / "data", classes=("red", "blue"), per_class=8, size=32)
    flipped = data / "red" / "003-was-blue.png"
    (data / "blue" / "003.png").rename(flipped)
    folder = project_with_images(qtbot, main_win, tmp_path, data)
    run = save_listed_run(folder / "runs" / "r1", fast_config(), [{"epoch": 0, "accuracy": 0.9}],
                          classes=("red", "blue"))
    state = main_win.state
    state.set_run_config(dataclasses.replace(fast_config(), model=fast_config().model))
    panel = main_win.panel("dataset")
    review = panel.review
    panel.tabs.setCurrentWidget(review)

    _find_issues(qtbot, review)
    assert review.run == run  # the diagnosis used the run's backbone, so its model can explain itself
    rows = review.model.rows
    row = next(n for n, r in enumerate(rows) if r.issue.path == flipped)
    image_id = rows[row].image_id
    review.table.selectRow(row)
    qtbot.waitUntil(lambda: not review.image_task.busy, timeout=WAIT_MS)
    label = (rows[row].issue.suggested or rows[row].labels)[0]
    assert review.caption.text() == f"Grad-CAM of '{label}' (run r1)"
    assert review.image.pixmap() is not None and not review.image.pixmap().isNull()

    qtbot.keyClick(review.table, Qt.Key.Key_K)
    kept = {(image_id, "label"): ("red",)}
    assert rows[row].status == "kept" and state.project.kept_issues.all() == kept
    main_win.actions["undo"].trigger()
    assert rows[row].status == "" and state.project.kept_issues.all() == {}
    main_win.actions["redo"].trigger()
    assert rows[row].status == "kept" and state.project.kept_issues.all() == kept
    assign_class(state, [image_id], "blue")  # relabelled elsewhere (the grid): the keep no longer holds
    assert rows[row].status == ""
    main_win.actions["undo"].trigger()
    assert rows[row].status == "kept"

    wait_workers(qtbot)
    state.close_project()
    assert main_win.projects.open_project(folder)
    panel.tabs.setCurrentWidget(review)
    _find_issues(qtbot, review)
    assert all(r.image_id != image_id or r.issue.kind != "label" for r in review.model.rows)
    assert "1 kept earlier not listed" in review.summary.text()
    wait_workers(qtbot)
