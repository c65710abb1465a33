"""What the Inference panel does with its results: export them (CSV/JSON), sort the files into per-class
folders (asked through ``SortDialog``), or accept the predictions as labels of project images.

``ResultActions`` is given the panel's task, results, table, top-k box and status line and makes the
action row's buttons (the panel lays them out); the panel sets ``predictor`` when the model changes and
answers ``changed`` by updating its buttons.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import qtawesome as qta
from PySide6.QtCore import QObject, Signal, Slot
from PySide6.QtWidgets import QCheckBox, QLabel, QPushButton, QSpinBox, QTableView, QWidget

from ...engine import ImgclsError, ModelDescription, write_predictions
from .. import errors as gui_errors
from ..state import AppState
from ..worker import LatestTask
from .dialogs import SortDialog
from .labeling import accept_predictions
from .table import PredictionModel
from .tasks import sort_task


def action_button(icon: str, text: str, tip: str, slot: Callable[[], None]) -> QPushButton:
    """A push button of the panel (its icon, text and tooltip) that calls ``slot`` when clicked."""
    button = QPushButton(qta.icon(icon), text)
    button.setToolTip(tip)
    button.clicked.connect(slot)
    return button


class ResultActions(QObject):
    changed = Signal()  # rows or the task changed: the buttons change

    def __init__(self, state: AppState, task: LatestTask, results: PredictionModel, table: QTableView,
                 top_k: QSpinBox, status: QLabel, ask_save_path: Callable[[], str], parent: QWidget) -> None:
        super().__init__(parent)
        self.state, self.task, self.results, self.table = state, task, results, table
        self.top_k, self.status, self.ask_save_path = top_k, status, ask_save_path
        self.predictor: ModelDescription | None = None
        self.sort_dialog: SortDialog | None = None
        self._sort_start = Path.home() / "sorted"
        self.move_check = QCheckBox("move instead of copy")
        self.buttons: tuple[QWidget, ...] = (  # export, sort, move, accept selected, accept all
            action_button("mdi6.file-export-outline", "Export…", "Save the table as CSV or JSON", self.export),
            action_button("mdi6.folder-move-outline", "Sort into folders…", "Copy each image into a folder named "
                         "after its predicted class", self.sort_into_folders),
            self.move_check,
            action_button("mdi6.tag-check-outline", "Accept selected", "Give the selected project images their "
                         "predicted labels (undoable)", self.accept_selected),
            action_button("mdi6.tag-multiple-outline", "Accept all", "Give every listed project image its "
                         "predicted labels (undoable)", self.accept_all))

    @Slot()
    def export(self) -> None:
        path = self.ask_save_path()
        if not path:
            return
        try:
            top_k = min(self.top_k.value(), len(self.predictor.classes)) if self.predictor else self.top_k.value()
            write_predictions(self.results.predictions(), path, top_k=top_k)
        except ImgclsError as exc:
            gui_errors.show_error(self.parent(), *gui_errors.describe_exception(exc))
            return
        self.status.setText(f"Saved {len(self.results.rows)} prediction(s) to {path}.")

    @Slot()
    def sort_into_folders(self) -> None:
        """Ask where (a new folder allowed), saying the count and the destination; sort on OK."""
        if self.task.busy or not self.results.rows:
            return
        count = sum(1 for p in self.results.predictions() if not p.error)
        self.sort_dialog = SortDialog(count, self.move_check.isChecked(), self._sort_start, self.parent())
        self.sort_dialog.accepted.connect(self._sort_confirmed)
        self.sort_dialog.open()

    @Slot()
    def _sort_confirmed(self) -> None:
        dialog, self.sort_dialog = self.sort_dialog, None
        dest = dialog.destination() if dialog is not None else None
        if dest is None or self.task.busy:
            return
        dialog.deleteLater()
        self._sort_start, move = dest, dialog.move
        self.status.setText(f"{'Moving' if move else 'Copying'} images into {dest}…")
        classes = self.predictor.classes if self.predictor is not None else ()
        self.task.start(sort_task, self.results.predictions(), dest, move, classes, on_success=self._sorted,
                        on_failure=self._sort_failed)
        self.changed.emit()

    @Slot(object)
    def _sorted(self, report: object) -> None:
        counts = ", ".join(f"{name} {n}" for name, n in sorted(report.counts.items()))  # type: ignore[attr-defined]
        failed = f"; {len(report.failed)} failed" if report.failed else ""  # type: ignore[attr-defined]
        summary = report.summary()  # type: ignore[attr-defined]  # "moved 3, linked 1 images": what really happened
        self.status.setText(f"Sorted: {summary} ({counts}){failed}.")
        self.changed.emit()

    @Slot(str, str)
    def _sort_failed(self, message: str, details: str) -> None:
        self.status.setText(message)
        gui_errors.show_error(self.parent(), message, details)
        self.changed.emit()

    @Slot()
    def accept_selected(self) -> None:
        rows = sorted({index.row() for index in self.table.selectionModel().selectedRows()})
        self.accept(rows)

    @Slot()
    def accept_all(self) -> None:
        self.accept(list(range(len(self.results.rows))))

    def accept(self, rows: list[int]) -> None:
        if self.state.project is None or not rows:
            return
        try:
            accepted = accept_predictions(self.state, [self.results.rows[r] for r in rows])
        except ImgclsError as exc:
            gui_errors.show_error(self.parent(), *gui_errors.describe_exception(exc))
            return
        self.results.remove_rows([r for r in rows if self.results.rows[r].image_id in accepted])
        self.status.setText(f"Labeled {len(accepted)} image(s) with their predictions (Ctrl+Z undoes it).")
        self.changed.emit()
