"""The Dataset panel around the grid: drops, filters, missing files, health rows, split, class list, preview."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from PySide6.QtCore import Qt

from imgcls_gui.engine.project.store import Project
from imgcls_gui.gui.dataset.health_view import HealthFinding
from imgcls_gui.gui.project_dialogs import MissingImagesDialog

from ..conftest import write_png
from .helpers import drag_enter_then_drop, import_and_wait


def drop_paths(qtbot, window, widget, paths: list[Path]) -> None:
    """Drag enter, then drop, take the import preview as offered (Import), and wait for the import."""
    with qtbot.waitSignal(window.importer.previewShown, timeout=60_000) as shown:
        drag_enter_then_drop(widget, paths)
    with qtbot.waitSignal(window.state.imagesChanged, timeout=60_000):
        qtbot.mouseClick(shown.args[0].import_button, Qt.MouseButton.LeftButton)


def test_dropping_folders_and_files_imports_them(main_win, qtbot, tmp_path: Path, class_folders: Path):
    main_win.projects.create_project(tmp_path / "proj")
    panel = main_win.panel("dataset")
    drop_paths(qtbot, main_win, panel, [class_folders])
    assert panel.model.rowCount() == 7
    assert main_win.state.project.class_names() == ["cat", "dog"]
    loose = [write_png(tmp_path / "loose" / f"x{i}.png", 100 + i) for i in range(2)]
    (tmp_path / "loose" / "notes.txt").write_text("not an image")
    unsorted = tmp_path / "unsorted"  # no class folders: its photos come in unlabeled
    write_png(unsorted / "a.png", 200)
    write_png(unsorted / "b.png", 201)
    sorted_with_strays = tmp_path / "mixed"  # class folders plus photos not yet sorted into one
    write_png(sorted_with_strays / "owl" / "o.png", 202)
    write_png(sorted_with_strays / "stray.png", 203)
    drop_paths(qtbot, main_win, panel.grid.viewport(),
               [*loose, unsorted, sorted_with_strays, tmp_path / "loose" / "notes.txt"])
    records = {r.file.name: r for r in panel.model.all_records()}
    assert len(records) == 13
    assert records["x0.png"].labels == () and records["b.png"].labels == ()  # unlabeled is allowed
    assert records["o.png"].labels == ("owl",) and records["stray.png"].labels == ()
    assert any("notes.txt" in p.path for p in main_win.importer.last_problems)


def test_drop_without_a_project_asks_for_one_and_imports_nothing_if_refused(main_win, qtbot, class_folders: Path):
    asked = []
    main_win.projects.new_project_dialog = lambda: asked.append(True) or False
    main_win.importer._ensure_project = main_win.projects.ensure_project
    panel = main_win.panel("dataset")
    drag_enter_then_drop(panel, [class_folders])
    qtbot.waitUntil(lambda: bool(asked))
    assert main_win.state.project is None and not main_win.importer.busy


def test_filters_and_search(main_win, qtbot, tmp_path: Path, class_folders: Path):
    main_win.projects.create_project(tmp_path / "proj")
    import_and_wait(qtbot, main_win, class_folders)
    panel = main_win.panel("dataset")
    combo = panel.filters.combo
    combo.setCurrentIndex(combo.findData("class:dog"))
    combo.activated.emit(combo.currentIndex())
    assert panel.model.rowCount() == 3 and panel.filters.shown_label.text() == "3 of 7"
    panel.filters.search.setText("DOG1")
    assert [panel.model.record(r).file.name for r in range(panel.model.rowCount())] == ["dog1.png"]
    panel.filters.search.clear()
    combo.setCurrentIndex(combo.findData("unlabeled:"))
    combo.activated.emit(combo.currentIndex())
    assert panel.model.rowCount() == 0
    combo.setCurrentIndex(combo.findData("split:none"))
    combo.activated.emit(combo.currentIndex())
    assert panel.model.rowCount() == 7


def test_moved_images_are_listed_on_open_and_can_be_removed(main_win, qtbot, tmp_path: Path, class_folders: Path):
    main_win.projects.create_project(tmp_path / "proj")
    import_and_wait(qtbot, main_win, class_folders)
    main_win.state.close_project()
    shutil.move(class_folders / "dog", tmp_path / "dog-moved")
    assert main_win.projects.open_project(tmp_path / "proj")
    dialog = qtbot.waitUntil(lambda: main_win.findChild(MissingImagesDialog) is not None) or \
        main_win.findChild(MissingImagesDialog)
    assert dialog.list.count() == 3 and all("dog" in dialog.list.item(i).text() for i in range(3))
    panel = main_win.panel("dataset")
    assert len(panel.model.missing_ids) == 3  # shown with a broken-image mark, not fatal
    with qtbot.waitSignal(main_win.state.imagesChanged):
        dialog._remove()
    assert panel.model.rowCount() == 4
    main_win.actions["undo"].trigger()
    assert panel.model.rowCount() == 7


def test_health_rows_select_the_images_involved(main_win, qtbot, tmp_path: Path, class_folders: Path):
    shutil.copy(class_folders / "cat" / "cat0.png", class_folders / "dog" / "copy.png")
    (class_folders / "cat" / "broken.png").write_bytes(b"\x89PNG not really")
    main_win.projects.create_project(tmp_path / "proj")
    import_and_wait(qtbot, main_win, class_folders)
    panel = main_win.panel("dataset")
    with qtbot.waitSignal(panel.health.flaggedChanged, timeout=60_000):
        panel.health.run_button.click()
    kinds = [f.kind for f in panel.health.findings]
    assert "problem" in kinds and "duplicate" in kinds
    duplicate_row = kinds.index("duplicate")
    panel.health.list.setCurrentRow(duplicate_row)
    selected = {panel.model.record(i.row()).file.name for i in panel.grid.selectionModel().selectedIndexes()}
    assert selected == {"cat0.png", "copy.png"}
    combo = panel.filters.combo
    combo.setCurrentIndex(combo.findData("problems:"))
    combo.activated.emit(combo.currentIndex())
    assert {panel.model.record(r).file.name for r in range(panel.model.rowCount())} == {"cat0.png", "copy.png", "broken.png"}


def test_health_row_clears_a_filter_that_hides_its_images(main_win, qtbot, tmp_path: Path, class_folders: Path):
    main_win.projects.create_project(tmp_path / "proj")
    import_and_wait(qtbot, main_win, class_folders)
    panel = main_win.panel("dataset")
    panel.filters.search.setText("dog")
    cat_ids = [r.id for r in panel.model.all_records() if "cat" in r.labels]
    panel.health.show_findings([HealthFinding("balance", "cats", tuple(cat_ids))])
    panel.health.list.setCurrentRow(0)
    assert panel.model.rowCount() == 7 and panel.filters.search.text() == ""
    assert sorted(panel.grid.selected_ids()) == sorted(cat_ids)


def test_split_dialog_values_are_stored_per_image_and_counted(main_win, qtbot, tmp_path: Path, hymenoptera: Path):
    main_win.projects.create_project(tmp_path / "proj")
    import_and_wait(qtbot, main_win, hymenoptera)
    panel = main_win.panel("dataset")
    with qtbot.waitSignal(main_win.state.splitChanged, timeout=60_000):
        panel.run_split(0.25, 0.1, seed=3)
    project = main_win.state.project
    counts = project.split_counts()
    for name in ("ants", "bees"):
        total = sum(counts[name].values())
        assert abs(counts[name]["test"] - 0.1 * total) <= 2  # stratified: each class split alike
        assert abs(counts[name]["val"] - 0.25 * total) <= 2
    assert {r.split for r in panel.model.all_records()} == {"train", "val", "test"}
    first = {r.id: r.split for r in project.images()}
    with qtbot.waitSignal(main_win.state.splitChanged, timeout=60_000):
        panel.run_split(0.25, 0.1, seed=3)
    assert {r.id: r.split for r in project.images()} == first  # same seed, same split


def test_class_list_edits_are_undoable_and_update_the_grid(main_win, qtbot, tmp_path: Path, class_folders: Path):
    main_win.projects.create_project(tmp_path / "proj")
    import_and_wait(qtbot, main_win, class_folders)
    panel = main_win.panel("dataset")
    classes = panel.classes
    assert [classes.list.item(i).text() for i in range(2)] == ["cat  (4)", "dog  (3)"]
    assert classes.rename_class("cat", "kitten")
    assert "kitten" in panel.model.record(0).labels
    assert classes.recolour_class("kitten", "#ff0000")
    assert not classes.add_class("dog")  # duplicate: refused with a dialog, nothing on the undo stack
    assert classes.delete_class("dog")
    assert main_win.state.project.unlabeled_count() == 3
    for _ in range(3):
        main_win.actions["undo"].trigger()
    assert main_win.state.project.class_names() == ["cat", "dog"]
    assert main_win.state.project.unlabeled_count() == 0
    assert [c.colour for c in main_win.state.project.classes()][0] != "#ff0000"


def test_preview_shows_the_current_image(main_win, qtbot, tmp_path: Path, class_folders: Path):
    main_win.projects.create_project(tmp_path / "proj")
    import_and_wait(qtbot, main_win, class_folders)
    panel = main_win.panel("dataset")
    panel.grid.select_rows([4])
    record = panel.model.record(4)
    assert record.file.name in panel.preview.info.text()
    qtbot.waitUntil(lambda: panel.preview._pixmap is not None, timeout=10_000)
    assert not panel.preview.picture.pixmap().isNull()


def test_project_reopened_in_another_process_sees_labels(main_win, qtbot, tmp_path: Path, class_folders: Path):
    main_win.projects.create_project(tmp_path / "proj")
    import_and_wait(qtbot, main_win, class_folders)
    with Project.open(tmp_path / "proj", read_only=True) as viewer:  # a second reader while the app writes
        assert viewer.class_image_counts() == {"cat": 4, "dog": 3}


def test_results_for_a_closed_project_never_land_in_the_next(main_win, qtbot, tmp_path: Path, class_folders: Path):
    main_win.projects.create_project(tmp_path / "a")
    import_and_wait(qtbot, main_win, class_folders)
    panel = main_win.panel("dataset")
    panel.run_split(0.3, 0.0, seed=1)
    split_worker = panel.split_task.worker
    main_win.projects.create_project(tmp_path / "b")
    import_and_wait(qtbot, main_win, class_folders)  # same image ids 1..7 as in project a
    split_worker.wait()
    qtbot.wait(200)  # let the old worker's queued result arrive
    assert {r.split for r in main_win.state.project.images()} == {None}
