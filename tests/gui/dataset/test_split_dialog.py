"""The Split dialog as a user drives it: the Split button opens it, its fields are set, OK or Cancel is clicked.

The dialog is modal (``exec()`` blocks the click that opened it), so a ``DialogDriver`` acts on it from
the event loop once it shows, the way a user's clicks arrive.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QObject, Qt, QTimer, Slot
from PySide6.QtWidgets import QApplication, QDialogButtonBox, QLabel, QPushButton

from imgcls_gui.gui import errors as gui_errors
from imgcls_gui.gui.dataset.split_dialog import SplitDialog

from ...engine.tiny_data import make_class_folders
from .helpers import import_and_wait


class DialogDriver(QObject):
    """Runs ``act(dialog)`` on the Split dialog as soon as it is the active modal window."""

    def __init__(self, act: Callable[[SplitDialog], None]) -> None:
        super().__init__()
        self.act = act
        self.seen: SplitDialog | None = None
        self.error: BaseException | None = None
        QTimer.singleShot(0, self.poll)

    @Slot()
    def poll(self) -> None:
        dialog = QApplication.activeModalWidget()
        if not isinstance(dialog, SplitDialog) or not dialog.isVisible():
            QTimer.singleShot(20, self.poll)
            return
        self.seen = dialog
        try:
            self.act(dialog)
        except BaseException as exc:  # an assertion inside the nested event loop: report it after exec()
            self.error = exc
            dialog.reject()

    def check(self) -> SplitDialog:
        if self.error is not None:
            raise self.error
        assert self.seen is not None, "the Split dialog never opened"
        return self.seen


def click(qtbot, button) -> None:
    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)


def set_fractions(dialog: SplitDialog, val: float, test: float, seed: int | None = None) -> None:
    dialog.val_spin.setValue(val)
    dialog.test_spin.setValue(test)
    if seed is not None:
        dialog.seed_spin.setValue(seed)


def splits_by_path(window) -> dict[str, str | None]:
    return {record.path: record.split for record in window.state.project.images()}


def open_split_dialog(qtbot, window, act: Callable[[SplitDialog], None], *, expect_split: bool) -> SplitDialog:
    """Click the Dataset panel's Split button; ``act`` fills and closes the dialog; wait for the new split."""
    panel = window.panel("dataset")
    driver = DialogDriver(act)
    if expect_split:
        with qtbot.waitSignal(window.state.splitChanged, timeout=60_000):
            click(qtbot, panel.split_button)
            driver.check()
    else:
        click(qtbot, panel.split_button)
    return driver.check()


def test_split_button_dialog_ok_assigns_stratified_parts(main_win, qtbot, tmp_path: Path):
    assert main_win.projects.create_project(tmp_path / "proj", "proj")
    import_and_wait(qtbot, main_win, make_class_folders(tmp_path / "photos", per_class=10, size=24))

    def choose(dialog: SplitDialog) -> None:
        assert not dialog.keep_check.isEnabled()  # nothing assigned yet: nothing to keep
        assert any("20 labeled images" in label.text() for label in dialog.findChildren(QLabel))
        set_fractions(dialog, 0.3, 0.2, seed=5)
        assert dialog.ok_button.isEnabled() and not dialog.fraction_problem.isVisible()
        click(qtbot, dialog.ok_button)

    open_split_dialog(qtbot, main_win, choose, expect_split=True)
    by_class = Counter((Path(path).parent.name, split) for path, split in splits_by_path(main_win).items())
    for colour in ("red", "blue"):  # stratified: each class of 10 is split 5 / 3 / 2 like the whole
        assert (by_class[(colour, "train")], by_class[(colour, "val")], by_class[(colour, "test")]) == (5, 3, 2)
    assert main_win.panel("dataset").split_button.isEnabled()
    assert not gui_errors.open_error_dialogs()


def test_keep_existing_keeps_the_folders_parts_and_unchecked_splits_everything_again(main_win, qtbot, tmp_path: Path):
    given = tmp_path / "given"
    make_class_folders(given / "train", per_class=6, size=24, seed=1)
    make_class_folders(given / "val", per_class=2, size=24, seed=2)
    loose = make_class_folders(tmp_path / "loose", per_class=4, size=24, seed=3)
    assert main_win.projects.create_project(tmp_path / "proj", "proj")
    import_and_wait(qtbot, main_win, given)
    import_and_wait(qtbot, main_win, loose)
    before = splits_by_path(main_win)
    assert Counter(before.values()) == {"train": 12, "val": 4, None: 8}

    def keep(dialog: SplitDialog) -> None:
        assert dialog.keep_check.isEnabled() and not dialog.keep_check.isChecked()
        click(qtbot, dialog.keep_check)
        set_fractions(dialog, 0.25, 0.0)
        click(qtbot, dialog.ok_button)

    open_split_dialog(qtbot, main_win, keep, expect_split=True)
    kept = splits_by_path(main_win)
    assert {p: s for p, s in kept.items() if before[p] is not None} == {p: s for p, s in before.items() if s is not None}
    # The folders gave a validation part, so the new images all join training.
    assert {kept[p] for p, s in before.items() if s is None} == {"train"}

    def fresh(dialog: SplitDialog) -> None:
        assert dialog.keep_check.isEnabled() and not dialog.keep_check.isChecked()
        set_fractions(dialog, 0.5, 0.0, seed=1)
        click(qtbot, dialog.ok_button)

    open_split_dialog(qtbot, main_win, fresh, expect_split=True)
    again = splits_by_path(main_win)
    assert Counter(again.values()) == {"train": 12, "val": 12}
    assert any(again[p] != s for p, s in before.items() if s is not None)  # the folders' parts were redrawn


def test_fractions_adding_up_to_one_or_more_cannot_be_accepted(main_win, qtbot, tmp_path: Path):
    assert main_win.projects.create_project(tmp_path / "proj", "proj")
    import_and_wait(qtbot, main_win, make_class_folders(tmp_path / "photos", per_class=5, size=24))
    refused: list[tuple[float, bool, bool]] = []

    def try_too_much(dialog: SplitDialog) -> None:
        for val, test in ((0.5, 0.5), (0.9, 0.3)):
            set_fractions(dialog, val, test)
            click(qtbot, dialog.ok_button)  # ignored while disabled
            refused.append((round(val + test, 2), dialog.ok_button.isEnabled(), dialog.isVisible()))
        set_fractions(dialog, 0.5, 0.5)
        assert dialog.fraction_problem.isVisible() and "add up to 1.00" in dialog.fraction_problem.text()
        dialog.accept()  # any other way to accept is refused too
        assert dialog.isVisible()
        set_fractions(dialog, 0.6, 0.35)
        assert dialog.ok_button.isEnabled() and not dialog.fraction_problem.isVisible()
        click(qtbot, cancel_button(dialog))

    before = splits_by_path(main_win)
    open_split_dialog(qtbot, main_win, try_too_much, expect_split=False)
    assert refused == [(1.0, False, True), (1.2, False, True)]
    assert splits_by_path(main_win) == before  # cancelled: nothing assigned
    assert not gui_errors.open_error_dialogs()


def cancel_button(dialog: SplitDialog) -> QPushButton:
    return dialog.findChild(QDialogButtonBox).button(QDialogButtonBox.StandardButton.Cancel)
