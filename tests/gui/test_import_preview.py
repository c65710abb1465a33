"""The import preview: what a folder/CSV import found, which classes to keep, and no silent task change."""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFileDialog, QMessageBox

from .conftest import write_png


@pytest.fixture
def numbered_classes(tmp_path: Path) -> Path:
    """photos/c1 (1), c2 (2), c10 (3): text order would put c10 before c2."""
    root = tmp_path / "numbered"
    for name, count in (("c1", 1), ("c2", 2), ("c10", 3)):
        for i in range(count):
            write_png(root / name / f"{name}_{i}.png", hash((name, i)) % 10_000)
    return root


@pytest.fixture
def multilabel_csv(tmp_path: Path) -> Path:
    write_png(tmp_path / "table" / "p1.png", 1)
    write_png(tmp_path / "table" / "p2.png", 2)
    csv = tmp_path / "table" / "labels.csv"
    csv.write_text("path,labels\np1.png,cat|dog\np2.png,dog\n")
    return csv


def open_preview(qtbot, main_win, monkeypatch, chosen: Path, menu: str):
    """Pick ``chosen`` in the menu's file dialog and wait for the preview the scan ends in."""
    monkeypatch.setattr(QFileDialog, "getExistingDirectory", staticmethod(lambda *a, **k: str(chosen)))
    monkeypatch.setattr(QFileDialog, "getOpenFileName", staticmethod(lambda *a, **k: (str(chosen), "")))
    with qtbot.waitSignal(main_win.importer.previewShown, timeout=60_000) as shown:
        getattr(main_win, menu)()
    return shown.args[0]


def rows_of(dialog) -> list[str]:
    return [dialog.class_list.item(row).text() for row in range(dialog.class_list.count())]


def test_preview_lists_classes_in_natural_order_with_counts(main_win, qtbot, monkeypatch, tmp_path, numbered_classes):
    main_win.projects.create_project(tmp_path / "proj")
    dialog = open_preview(qtbot, main_win, monkeypatch, numbered_classes, "import_folder_dialog")
    assert [row.split()[0] for row in rows_of(dialog)] == ["c1", "c2", "c10"]
    assert [row.split("—")[1].split()[0] for row in rows_of(dialog)] == ["1", "2", "3"]
    assert "single-label" in dialog.task_label.text()
    assert "gains 6 images and 3 new classes" in dialog.summary.text()
    assert main_win.state.project.image_count() == 0  # nothing lands before Import
    with qtbot.waitSignal(main_win.state.imagesChanged, timeout=60_000):
        qtbot.mouseClick(dialog.import_button, Qt.MouseButton.LeftButton)
    assert main_win.state.project.class_image_counts() == {"c1": 1, "c2": 2, "c10": 3}


def test_an_unchecked_class_imports_none_of_its_images(main_win, qtbot, monkeypatch, tmp_path, numbered_classes):
    main_win.projects.create_project(tmp_path / "proj")
    dialog = open_preview(qtbot, main_win, monkeypatch, numbered_classes, "import_folder_dialog")
    dialog.class_list.setFocus()
    dialog.class_list.setCurrentRow(2)  # c10
    qtbot.keyClick(dialog.class_list, Qt.Key.Key_Space)
    assert dialog.kept_classes() == ["c1", "c2"]
    assert "gains 3 images and 2 new classes" in dialog.summary.text()
    with qtbot.waitSignal(main_win.state.imagesChanged, timeout=60_000):
        qtbot.mouseClick(dialog.import_button, Qt.MouseButton.LeftButton)
    project = main_win.state.project
    assert project.class_image_counts() == {"c1": 1, "c2": 2}
    assert project.image_count() == 3
    assert not any("c10" in record.path for record in project.images())


def test_images_already_in_the_project_are_counted_apart(main_win, qtbot, monkeypatch, tmp_path, class_folders):
    from .dataset.helpers import import_and_wait

    main_win.projects.create_project(tmp_path / "proj")
    import_and_wait(qtbot, main_win, class_folders / "cat")
    write_png(class_folders / "cow" / "cow0.png", 99)
    dialog = open_preview(qtbot, main_win, monkeypatch, class_folders, "import_folder_dialog")
    assert "gains 4 images and 3 new classes" in dialog.summary.text()  # dog 3 + cow 1; cat, dog, cow are classes
    assert "4 images are already in the project" in dialog.summary.text()


def test_task_change_is_confirmed_and_cancel_leaves_the_project_as_it_was(main_win, qtbot, monkeypatch, tmp_path,
                                                                          multilabel_csv):
    main_win.projects.create_project(tmp_path / "proj")
    assert main_win.state.project.task == "multiclass"
    dialog = open_preview(qtbot, main_win, monkeypatch, multilabel_csv, "import_csv_dialog")
    assert "multi-label" in dialog.task_label.text()
    assert "becomes multi-label" in dialog.summary.text()
    qtbot.mouseClick(dialog.import_button, Qt.MouseButton.LeftButton)
    box = dialog.task_confirmation
    assert box is not None and box.isVisible()
    assert "single-label" in box.text() and "multi-label" in box.text()
    with qtbot.waitSignal(dialog.rejected):
        qtbot.mouseClick(box.button(QMessageBox.StandardButton.Cancel), Qt.MouseButton.LeftButton)
    project = main_win.state.project
    assert project.task == "multiclass" and project.image_count() == 0 and project.class_names() == []
    assert not main_win.importer.busy
    assert "cancelled" in main_win.statusBar().currentMessage()


def test_confirmed_task_change_imports_multi_label(main_win, qtbot, monkeypatch, tmp_path, multilabel_csv):
    main_win.projects.create_project(tmp_path / "proj")
    dialog = open_preview(qtbot, main_win, monkeypatch, multilabel_csv, "import_csv_dialog")
    qtbot.mouseClick(dialog.import_button, Qt.MouseButton.LeftButton)
    box = dialog.task_confirmation
    [accept] = [b for b in box.buttons() if box.buttonRole(b) == QMessageBox.ButtonRole.AcceptRole]
    with qtbot.waitSignal(main_win.state.imagesChanged, timeout=60_000):
        qtbot.mouseClick(accept, Qt.MouseButton.LeftButton)
    project = main_win.state.project
    assert project.task == "multilabel"
    assert project.class_image_counts() == {"cat": 1, "dog": 2}
    assert "now multi-label" in main_win.statusBar().currentMessage()


def test_multi_label_data_into_a_labeled_single_label_project_is_refused_in_the_preview(
        main_win, qtbot, monkeypatch, tmp_path, class_folders, multilabel_csv):
    from .dataset.helpers import import_and_wait

    main_win.projects.create_project(tmp_path / "proj")
    import_and_wait(qtbot, main_win, class_folders)
    dialog = open_preview(qtbot, main_win, monkeypatch, multilabel_csv, "import_csv_dialog")
    assert "cannot be imported" in dialog.summary.text() and "multi-label project" in dialog.summary.text()
    assert not dialog.import_button.isEnabled()
    qtbot.mouseClick(dialog.buttons.button(dialog.buttons.StandardButton.Cancel), Qt.MouseButton.LeftButton)
    assert main_win.state.project.image_count() == 7 and main_win.state.project.task == "multiclass"


def test_dropped_class_folders_are_previewed_and_loose_photos_are_not(main_win, qtbot, tmp_path, numbered_classes):
    from .dataset.helpers import drag_enter_then_drop

    main_win.projects.create_project(tmp_path / "proj")
    panel = main_win.panel("dataset")
    with qtbot.waitSignal(main_win.importer.previewShown, timeout=60_000) as shown:
        drag_enter_then_drop(panel, [numbered_classes])
    dialog = shown.args[0]
    dialog.set_class_checked("c2", False)
    with qtbot.waitSignal(main_win.state.imagesChanged, timeout=60_000):
        qtbot.mouseClick(dialog.import_button, Qt.MouseButton.LeftButton)
    assert main_win.state.project.class_image_counts() == {"c1": 1, "c10": 3}
    loose = [write_png(tmp_path / "loose" / f"x{i}.png", 500 + i) for i in range(2)]
    with qtbot.waitSignal(main_win.state.imagesChanged, timeout=60_000):  # no dialog in between
        drag_enter_then_drop(panel, loose)
    assert main_win.state.project.image_count() == 6 and main_win.importer.preview_dialog is None
