"""The issue's flow on the real window: import real photos, label with the keyboard, undo, reopen, find every label."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt

from imgcls_gui.engine.project.store import Project

from .helpers import import_and_wait, labels_by_row


def test_hymenoptera_label_with_keys_undo_and_reopen(main_win, qtbot, tmp_path: Path, hymenoptera: Path):
    assert main_win.projects.create_project(tmp_path / "proj", "Ants and bees")
    import_and_wait(qtbot, main_win, hymenoptera)
    panel = main_win.panel("dataset")
    grid = panel.grid
    assert panel.model.rowCount() == 398
    assert main_win.state.project.class_names() == ["ants", "bees"]
    assert {r.split for r in panel.model.all_records()} == {"train", "val"}  # kept from the folders
    assert panel.classes.add_class("wasp")
    before = labels_by_row(panel)
    ids = [panel.model.record(row).id for row in range(6)]

    grid.setFocus()
    grid.select_rows([0])
    for key in (Qt.Key.Key_3, Qt.Key.Key_2, Qt.Key.Key_3):  # each key labels the current image and moves on
        qtbot.keyClick(grid, key)
    assert grid.currentIndex().row() == 3
    assert [panel.model.record(r).labels for r in range(3)] == [("wasp",), ("bees",), ("wasp",)]

    qtbot.keyClick(grid, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)  # undo the last key
    assert panel.model.record(2).labels == before[ids[2]]
    qtbot.keyClick(grid, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier)
    assert panel.model.record(2).labels == ("wasp",)
    main_win.actions["undo"].trigger()

    grid.select_rows([3, 4, 5])  # a multi-selection gets one key for all
    qtbot.keyClick(grid, Qt.Key.Key_2)
    assert [panel.model.record(r).labels for r in (3, 4, 5)] == [("bees",)] * 3
    assert grid.currentIndex().row() == 6

    expected = {ids[0]: ("wasp",), ids[1]: ("bees",), ids[2]: before[ids[2]], ids[3]: ("bees",), ids[4]: ("bees",),
                ids[5]: ("bees",)}
    assert main_win.state.project.labels_of(ids) == expected  # the database agrees with the grid at once
    main_win.state.close_project()
    with Project.open(tmp_path / "proj") as reopened:
        assert reopened.labels_of(ids) == expected
        assert reopened.image_count() == 398


def test_delete_removes_from_project_not_disk_and_undo_restores(main_win, qtbot, tmp_path: Path, class_folders: Path):
    main_win.projects.create_project(tmp_path / "proj")
    import_and_wait(qtbot, main_win, class_folders)
    panel = main_win.panel("dataset")
    panel.grid.setFocus()
    panel.grid.select_rows([1, 2])
    doomed = [panel.model.record(r) for r in (1, 2)]
    qtbot.keyClick(panel.grid, Qt.Key.Key_Delete)
    assert panel.model.rowCount() == 5
    assert all(r.file.is_file() for r in doomed)
    assert main_win.count_label.text() == "1 of 5 selected"  # the next image takes the focus
    main_win.actions["undo"].trigger()
    assert panel.model.rowCount() == 7
    assert main_win.state.project.labels_of([doomed[0].id]) == {doomed[0].id: doomed[0].labels}


def test_multilabel_csv_keys_toggle_tags(main_win, qtbot, tmp_path: Path, miml: Path):
    main_win.projects.create_project(tmp_path / "tags", task="multilabel")
    import_and_wait(qtbot, main_win, miml / "miml_labels_2.csv", format="csv")
    panel = main_win.panel("dataset")
    project = main_win.state.project
    assert project.task == "multilabel" and panel.model.rowCount() == 2000
    assert project.class_names() == ["desert", "mountains", "sea", "sunset", "trees"]
    assert any(len(r.labels) > 1 for r in panel.model.all_records())
    panel.grid.setFocus()
    panel.grid.select_rows([0])
    first = panel.model.record(0)
    had_sea = "sea" in first.labels
    qtbot.keyClick(panel.grid, Qt.Key.Key_3)  # toggles "sea", stays on the image
    assert panel.grid.currentIndex().row() == 0
    assert ("sea" in panel.model.record(0).labels) != had_sea
    qtbot.keyClick(panel.grid, Qt.Key.Key_5)
    qtbot.keyClick(panel.grid, Qt.Key.Key_5)  # twice: back to where it was
    assert ("trees" in panel.model.record(0).labels) == ("trees" in first.labels)
    main_win.actions["undo"].trigger()
    main_win.actions["undo"].trigger()
    main_win.actions["undo"].trigger()
    assert panel.model.record(0).labels == first.labels
    main_win.state.close_project()
    with Project.open(tmp_path / "tags") as reopened:
        assert reopened.labels_of([first.id])[first.id] == first.labels


def test_read_only_window_refuses_labels(main_win, qtbot, tmp_path: Path, class_folders: Path):
    with Project.create(tmp_path / "shared") as holder:  # another "instance" keeps it open for writing
        from imgcls_gui.engine.data.datasets import load_dataset

        holder.import_dataset(load_dataset(class_folders))
        main_win.projects.ask_read_only = lambda parent, message: False
        assert not main_win.projects.open_project(tmp_path / "shared")
        assert main_win.state.project is None
        asked: list[str] = []
        main_win.projects.ask_read_only = lambda parent, message: asked.append(message) or True
        assert main_win.projects.open_project(tmp_path / "shared")
        assert "open in another imgcls window" in asked[0]
        assert main_win.state.project.read_only and "[read-only]" in main_win.windowTitle()
        panel = main_win.panel("dataset")
        panel.grid.setFocus()
        panel.grid.select_rows([0])
        before = panel.model.record(0).labels
        qtbot.keyClick(panel.grid, Qt.Key.Key_2)
        assert panel.model.record(0).labels == before
        assert "read-only" in main_win.statusBar().currentMessage()
        assert not main_win.actions["import_folder"].isEnabled()
