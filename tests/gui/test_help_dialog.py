"""Help ▸ Guide: the workflow in five steps and the shortcuts that really work, offline."""

from __future__ import annotations

from PySide6.QtCore import Qt


def test_f1_opens_the_guide_with_five_steps_and_the_real_shortcuts(main_win, qtbot):
    main_win.activateWindow()
    main_win.setFocus()
    qtbot.keyClick(main_win, Qt.Key.Key_F1)
    dialog = main_win.guide_dialog
    assert dialog is not None and dialog.isVisible()
    text = dialog.browser.toPlainText()
    for step in ("Create a project", "Import photos", "Label and split", "Train", "Export and predict"):
        assert step in text
    folder = main_win.actions["import_folder"].shortcut().toString()
    assert folder in text and "Import Folder" in text  # read from the menus, so it cannot drift
    assert "Ctrl+Return" in text and "1 – 9" in text
    qtbot.keyClick(main_win, Qt.Key.Key_F1)
    assert main_win.guide_dialog is dialog  # one guide window, raised again


def test_help_menu_lists_the_guide_before_about(main_win):
    help_menu = next(a.menu() for a in main_win.menuBar().actions() if a.text() == "&Help")
    assert [a.text() for a in help_menu.actions()] == ["&Guide and Shortcuts", "&About imgcls"]
