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


def test_the_guide_carries_the_readme_sections_offline(main_win, qtbot):
    import re
    from pathlib import Path

    dialog = main_win.show_guide()
    readme = Path(__file__).resolve().parents[2] / "README.md"
    titles = [line[3:].strip() for line in readme.read_text(encoding="utf-8").splitlines() if line.startswith("## ")]
    assert titles, "the README has sections"
    view = dialog.readme
    shown = [view.sections.item(row).text() for row in range(view.sections.count())]
    assert all(title in shown for title in titles)
    text = view.browser.toPlainText()
    assert all(title in text for title in titles) and "imgcls train" in text
    assert not re.search(r"!\[|\.png\)", text)  # screenshots (not shipped) are left out, not shown broken
    dialog.tabs.setCurrentWidget(view)
    before = view.browser.textCursor().position()
    view.sections.setCurrentRow(shown.index(titles[-1]))  # choosing a section moves the text to its title
    assert view.browser.textCursor().position() > before
    assert view.browser.textCursor().block().text().strip() == titles[-1]
