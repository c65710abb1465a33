"""Classes in natural order (c2 before c10) with the key each one has, and the selection counted."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt

from imgcls_gui.gui.common.natural_sort import natural_sorted
from imgcls_gui.gui.dataset.class_list import KEY_ROLE

from ..conftest import write_png
from .helpers import import_and_wait


def test_natural_order_compares_numbers_as_numbers():
    assert natural_sorted(["c10", "c2", "C1", "img100", "img20", "b"]) == ["b", "C1", "c2", "c10", "img20", "img100"]


def numbered_project(qtbot, main_win, tmp_path: Path) -> None:
    root = tmp_path / "numbered"
    for n, name in enumerate(("c1", "c10", "c2", "c3")):
        for i in range(2):
            write_png(root / name / f"{name}_{i}.png", 10 * n + i)
    main_win.projects.create_project(tmp_path / "proj")
    import_and_wait(qtbot, main_win, root)


def test_class_list_is_in_natural_order_and_shows_each_key(main_win, qtbot, tmp_path: Path):
    numbered_project(qtbot, main_win, tmp_path)
    classes = main_win.panel("dataset").classes.list
    rows = [classes.item(i) for i in range(classes.count())]
    assert [item.text() for item in rows] == ["c1  (2)", "c2  (2)", "c3  (2)", "c10  (2)"]
    assert [item.data(KEY_ROLE) for item in rows] == [1, 2, 3, 4]
    assert rows[3].toolTip() == "Key 4 applies 'c10'"


def test_key_two_applies_the_second_class_in_the_list(main_win, qtbot, tmp_path: Path):
    numbered_project(qtbot, main_win, tmp_path)
    panel = main_win.panel("dataset")
    row = next(r for r in range(panel.model.rowCount()) if panel.model.record(r).labels == ("c10",))
    image_id = panel.model.record(row).id
    panel.grid.setFocus()
    panel.grid.select_rows([row])
    qtbot.keyClick(panel.grid, Qt.Key.Key_2)
    assert main_win.state.project.labels_of([image_id]) == {image_id: ("c2",)}  # text order would give c10


def test_status_bar_says_how_many_of_how_many_are_selected(main_win, qtbot, tmp_path: Path):
    numbered_project(qtbot, main_win, tmp_path)
    panel = main_win.panel("dataset")
    panel.grid.setFocus()
    qtbot.keyClick(panel.grid, Qt.Key.Key_A, Qt.KeyboardModifier.ControlModifier)
    assert main_win.count_label.text() == "8 of 8 selected"
    panel.grid.select_rows([0, 1, 2])
    assert main_win.count_label.text() == "3 of 8 selected"


def test_class_toolbar_buttons_say_what_they_do_in_words(main_win, qtbot):
    from PySide6.QtCore import Qt

    main_win.show_panel("dataset")
    classes = main_win.panel("dataset").classes
    texts = {key: button.text() for key, button in classes.buttons.items()}
    assert texts == {"apply": "Apply", "add": "New", "rename": "Rename", "colour": "Colour", "delete": "Delete"}
    for button in classes.buttons.values():
        assert button.toolButtonStyle() != Qt.ToolButtonStyle.ToolButtonIconOnly and button.toolTip()
        qtbot.waitUntil(lambda b=button: b.isVisible() and b.width() > 0)
        # the whole word is shown: the button is as wide as its text needs, and inside the class list
        assert button.width() >= button.fontMetrics().horizontalAdvance(button.text())
        assert button.geometry().right() <= classes.width()
