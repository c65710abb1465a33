"""Rename, annotate and delete runs from the Runs list (its right-click menu, F2 and Delete).

A title and notes live in the run folder's ``run-info.json`` (the folder keeps its name, so
configs, checkpoints and the Inference panel keep finding it). Delete asks first, naming the
runs, and moves their folders to the platform's trash where it has one.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import qtawesome as qta
from PySide6.QtCore import QFile, QObject, Qt, Signal, Slot
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QInputDialog, QMessageBox, QWidget

from ...engine import ImgclsError, RunSummary, delete_run, set_run_info
from .. import errors as gui_errors


def ask_title(parent: QWidget, run: RunSummary) -> str | None:
    text, ok = QInputDialog.getText(parent, "Rename run", f"Name for {run.name}:", text=run.display_name)
    return text if ok else None


def ask_notes(parent: QWidget, run: RunSummary) -> str | None:
    text, ok = QInputDialog.getMultiLineText(parent, "Run notes", f"Notes on {run.display_name}:", run.notes)
    return text if ok else None


def confirm_delete(parent: QWidget, runs: list[RunSummary]) -> bool:
    names = "\n".join(f"  • {run.display_name}" for run in runs[:10]) + ("\n  …" if len(runs) > 10 else "")
    answer = QMessageBox.question(
        parent, "Delete runs", f"Delete {len(runs)} run(s) with their checkpoints and metrics?\n\n{names}\n\n"
        "Their folders go to the trash (deleted for good where this system has no trash).",
        QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No, QMessageBox.StandardButton.No)
    return answer == QMessageBox.StandardButton.Yes


def move_to_trash(path: Path) -> bool:
    """True when the platform's trash took ``path``."""
    result = QFile.moveToTrash(str(path))
    return bool(result[0] if isinstance(result, tuple) else result)


class RunEditor(QObject):
    """The Rename…, Notes… and Delete… commands on the runs ``selected()`` returns."""

    changed = Signal()  # a run was renamed, annotated or deleted

    def __init__(self, view: QWidget, selected: Callable[[], list[RunSummary]],
                 active: Callable[[], Path | None]) -> None:
        super().__init__(view)
        self.view = view
        self._selected = selected
        self._active = active
        self.ask_title = ask_title  # dialogs are attributes: tests answer them
        self.ask_notes = ask_notes
        self.confirm_delete = confirm_delete
        self.move_to_trash = move_to_trash
        self.rename_action = self._action("mdi6.rename-box", "Rename…", "F2", self.rename)
        self.notes_action = self._action("mdi6.note-edit-outline", "Notes…", None, self.edit_notes)
        self.delete_action = self._action("mdi6.delete-outline", "Delete…", QKeySequence.StandardKey.Delete,
                                          self.delete)

    def _action(self, icon: str, text: str, shortcut: object, slot: Callable[[], None]) -> QAction:
        action = QAction(qta.icon(icon), text, self)
        if shortcut is not None:
            action.setShortcut(QKeySequence(shortcut))
            action.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
        action.triggered.connect(slot)
        return action

    @property
    def actions(self) -> tuple[QAction, ...]:
        return self.rename_action, self.notes_action, self.delete_action

    def update_enabled(self) -> None:
        runs = self._selected()
        self.rename_action.setEnabled(len(runs) == 1 and runs[0].problem == "")
        self.notes_action.setEnabled(len(runs) == 1 and runs[0].problem == "")
        self.delete_action.setEnabled(bool(runs) and all(run.path != self._active() for run in runs))

    @Slot()
    def rename(self) -> None:
        runs = self._selected()
        if len(runs) == 1:
            title = self.ask_title(self.view, runs[0])
            if title is not None:
                self._write(runs[0], title=title)

    @Slot()
    def edit_notes(self) -> None:
        runs = self._selected()
        if len(runs) == 1:
            notes = self.ask_notes(self.view, runs[0])
            if notes is not None:
                self._write(runs[0], notes=notes)

    def _write(self, run: RunSummary, **info: str) -> None:
        try:
            set_run_info(run.path, **info)
        except (ImgclsError, OSError) as exc:
            gui_errors.show_error(self.view, f"{run.path}: the run's name and notes could not be saved ({exc}).")
        self.changed.emit()

    @Slot()
    def delete(self) -> None:
        runs = [run for run in self._selected() if run.path != self._active()]  # never the run that is training
        if not runs or not self.confirm_delete(self.view, runs):
            return
        for run in runs:
            try:
                if not self.move_to_trash(run.path):
                    delete_run(run.path)
            except ImgclsError as exc:
                gui_errors.show_error(self.view, str(exc))
                break
        self.changed.emit()
