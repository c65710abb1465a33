"""Correcting predictions before accepting them: keys 1-9 and a context menu on the prediction table.

The keys follow the Dataset panel's class list (natural order), so a key means the same class in
both places. Only rows of project images being labeled can be corrected: accepting is what uses it.
"""

from __future__ import annotations

from PySide6.QtCore import QEvent, QObject, QPoint, Qt, Slot
from PySide6.QtGui import QAction, QKeyEvent
from PySide6.QtWidgets import QMenu, QTableView

from ..common.natural_sort import natural_sorted
from ..state import AppState
from .table import PredictionModel

DIGIT_KEYS = {getattr(Qt.Key, f"Key_{n}"): n for n in range(1, 10)}


class LabelCorrector(QObject):
    """Changes the labels the selected rows will be accepted with."""

    def __init__(self, table: QTableView, results: PredictionModel, state: AppState, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.table, self.results, self.state = table, results, state
        self.menu: QMenu | None = None  # the last context menu, for tests to pick from as a user does
        table.installEventFilter(self)
        table.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        table.customContextMenuRequested.connect(self._show_menu)

    def class_names(self) -> list[str]:
        project = self.state.project
        return natural_sorted(project.class_names()) if project is not None and not project.closed else []

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 - Qt API
        if (watched is self.table and event.type() == QEvent.Type.KeyPress and isinstance(event, QKeyEvent)
                and event.key() in DIGIT_KEYS and event.modifiers() == Qt.KeyboardModifier.NoModifier):
            self.apply_key(DIGIT_KEYS[event.key()])
            return True
        return super().eventFilter(watched, event)

    def apply_key(self, number: int) -> None:
        names = self.class_names()
        if number > len(names):
            self.state.show_status(f"There is no class {number}; the project has {len(names)}.")
            return
        self.correct(self._selected_rows(), names[number - 1])

    def correct(self, rows: list[int], name: str) -> None:
        """Single-label: the rows get ``name``; multi-label: ``name`` is toggled (off if every row has it)."""
        rows = [r for r in rows if self.results.rows[r].image_id is not None]
        if not rows:
            self.state.show_status("Only predictions of unlabeled project images can be changed before accepting.")
            return
        current = {r: self.results.rows[r].labels for r in rows}
        project = self.state.project
        if project is not None and project.task == "multilabel":
            remove = all(name in labels for labels in current.values())
            order = {n: k for k, n in enumerate(self.class_names())}
            after = {r: tuple(sorted({*labels} - {name} if remove else {*labels, name}, key=lambda n: order.get(n, 99)))
                     for r, labels in current.items()}
        else:
            after = {r: (name,) for r in rows}
        self.results.set_corrections(after)
        self.state.show_status(f"{len(rows)} prediction(s) changed to '{name}'; Accept gives them that label.")

    def reset(self, rows: list[int]) -> None:
        self.results.set_corrections({r: None for r in rows})

    def _selected_rows(self) -> list[int]:
        return sorted({index.row() for index in self.table.selectionModel().selectedRows()})

    @Slot(QPoint)
    def _show_menu(self, pos: QPoint) -> None:
        rows = [r for r in self._selected_rows() if self.results.rows[r].image_id is not None]
        if not rows:
            return
        menu = QMenu(self.table)
        current = set.intersection(*(set(self.results.rows[r].labels) for r in rows))
        for number, name in enumerate(self.class_names(), start=1):
            action = QAction(f"&{number}  {name}" if number <= 9 else name, menu)
            action.setCheckable(True)
            action.setChecked(name in current)
            action.setData(name)
            action.triggered.connect(self._menu_class_chosen)
            menu.addAction(action)
        menu.addSeparator()
        back = menu.addAction("Use the model's prediction")
        back.setEnabled(any(self.results.rows[r].corrected is not None for r in rows))
        back.triggered.connect(self._menu_reset_chosen)
        self.menu = menu
        menu.popup(self.table.viewport().mapToGlobal(pos))

    @Slot()
    def _menu_class_chosen(self) -> None:
        self.correct(self._selected_rows(), self.sender().data())

    @Slot()
    def _menu_reset_chosen(self) -> None:
        self.reset(self._selected_rows())
