"""The Review view on the real window: find issues in a worker, accept a suggestion by key, undo and redo it,
remove an image and undo that; the project store agrees at every step."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
from PySide6.QtCore import Qt

from imgcls_gui.engine.project.store import Project

from ...engine.tiny_data import make_class_folders
from .helpers import import_and_wait


def test_accept_undo_redo_and_remove_round_trip_through_the_store(main_win, qtbot, tmp_path: Path, monkeypatch):
    monkeypatch.setenv("IMGCLS_CACHE_DIR", str(tmp_path / "cache"))
    data = make_class_folders(tmp_path / "data", classes=("red", "green", "blue"), per_class=10)
    flipped = data / "red" / "004-was-green.png"
    (data / "green" / "004.png").rename(flipped)
    assert main_win.projects.create_project(tmp_path / "proj", "Colours")
    import_and_wait(qtbot, main_win, data)
    state = main_win.state
    config = state.run_config
    state.set_run_config(config.replace(
        model=dataclasses.replace(config.model, name="resnet18", weights="none", image_size=32),
        data=dataclasses.replace(config.data, num_workers=0),
        train=dataclasses.replace(config.train, device="cpu")))
    panel = main_win.panel("dataset")
    review = panel.review
    panel.tabs.setCurrentWidget(review)

    review.start()
    assert review.running and review.cancel_button.isVisible()
    qtbot.waitUntil(lambda: not review.running, timeout=180_000)
    assert "likely label error" in review.summary.text()
    rows = review.model.rows
    row = next(n for n, r in enumerate(rows) if r.issue.path == flipped)
    assert rows[row].issue.kind == "label" and rows[row].issue.suggested == ("green",)
    image_id = rows[row].image_id

    review.table.selectRow(row)
    qtbot.waitUntil(lambda: not review.image_task.busy, timeout=60_000)
    assert "Plain image" in review.caption.text()  # no run yet: no trained model to explain
    qtbot.keyClick(review.table, Qt.Key.Key_A)
    assert state.project.labels_of([image_id]) == {image_id: ("green",)}
    assert rows[row].status == "accepted" and rows[row].labels == ("green",)
    assert panel.model.record(panel.model.row_of_id(image_id)).labels == ("green",)  # the grid follows

    main_win.actions["undo"].trigger()
    assert state.project.labels_of([image_id]) == {image_id: ("red",)}
    assert rows[row].status == "" and rows[row].labels == ("red",)
    main_win.actions["redo"].trigger()
    assert state.project.labels_of([image_id]) == {image_id: ("green",)}

    review.table.selectRow(row)
    qtbot.keyClick(review.table, Qt.Key.Key_Delete)
    assert state.project.images_by_id([image_id]) == []
    assert rows[row].status == "removed" and flipped.is_file()  # out of the project, never off the disk
    main_win.actions["undo"].trigger()
    assert [r.id for r in state.project.images_by_id([image_id])] == [image_id]
    assert rows[row].status == ""

    qtbot.waitUntil(lambda: not review.image_task.busy, timeout=60_000)
    main_win.state.close_project()
    with Project.open(tmp_path / "proj") as reopened:  # what the store holds after the last step
        assert reopened.labels_of([image_id]) == {image_id: ("green",)}


def test_a_diagnosis_cancelled_or_killed_in_the_child_and_the_next_one_finds_the_same(main_win, qtbot, tmp_path,
                                                                                      monkeypatch):
    """The diagnosis runs in the child process: Cancel stops it there; SIGKILLed there mid-extraction, the view
    says so with the signal, the window stays up, and the next search finds what the engine finds for the same
    data."""
    from imgcls_gui.engine import BackboneSource, diagnose

    from ..workflow_helpers import WAIT_MS, fast_config, project_with_images, wait_workers

    monkeypatch.setenv("IMGCLS_CACHE_DIR", str(tmp_path / "cache"))
    data = make_class_folders(tmp_path / "data", classes=("red", "blue"), per_class=8, size=32)
    (data / "blue" / "003.png").rename(data / "red" / "003-was-blue.png")
    project_with_images(qtbot, main_win, tmp_path, data)
    main_win.state.set_run_config(fast_config())
    panel = main_win.panel("dataset")
    review = panel.review
    panel.tabs.setCurrentWidget(review)

    # The child waits after its second event (mid-extraction) for the Stop: 16 small images are otherwise done before
    # a Cancel can reach them on a fast or lightly loaded machine (1 full run in 4 finished the search instead).
    monkeypatch.setenv("IMGCLS_TEST_JOB_HOLD", "diagnose:2")
    review.start()
    qtbot.waitUntil(lambda: review.progress.maximum() > 1, timeout=WAIT_MS)  # extracting, in the child
    review.cancel()  # the job's Stop: honoured at its next batch or fold
    qtbot.waitUntil(lambda: not review.running, timeout=WAIT_MS)
    monkeypatch.delenv("IMGCLS_TEST_JOB_HOLD")
    assert review.summary.text() == "Search cancelled." and review.diagnosis is None

    monkeypatch.setenv("IMGCLS_TEST_JOB_SIGNAL", "diagnose:SIGKILL:2")  # at its second event: mid-extraction
    review.start()
    qtbot.waitUntil(lambda: not review.running, timeout=WAIT_MS)
    summary = review.summary.text()
    assert "The search failed" in summary and "signal SIGKILL" in summary and "app keeps running" in summary
    assert main_win.isVisible() and review.find_button.isEnabled() and review.diagnosis is None

    monkeypatch.delenv("IMGCLS_TEST_JOB_SIGNAL")
    review.start()  # a fresh child
    qtbot.waitUntil(lambda: not review.running, timeout=WAIT_MS)
    assert "likely label error" in review.summary.text(), review.summary.text()
    dataset, _ids = main_win.state.project.dataset_with_ids()
    expected = diagnose(dataset, BackboneSource(None, fast_config().model), device="cpu", num_workers=0)
    assert review.diagnosis.issues == expected.issues and review.diagnosis.paths == expected.paths
    np.testing.assert_allclose(review.diagnosis.probabilities, expected.probabilities, rtol=1e-5, atol=1e-6)
    wait_workers(qtbot)
