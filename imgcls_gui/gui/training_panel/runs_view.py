"""Every run of the project in a table: open one, compare two, reuse a config, resume a stopped run,
export one; rename, annotate or delete runs (``run_edits``).

Rows come from ``engine.runs.list_runs`` (config.yaml + metrics.json; no torch). Any run replays
headless with ``imgcls train --config <run>/config.yaml``; the command for the selected run is
shown so it can be copied.
"""

from __future__ import annotations

import html
import math
from pathlib import Path
from typing import Any

import qtawesome as qta
from PySide6.QtCore import QModelIndex, QObject, QPoint, Qt, Signal, Slot
from PySide6.QtGui import QAction
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QMenu,
    QPushButton,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from ...engine import RunSummary, list_runs
from ..common.table_model import RowTableModel
from .run_edits import RunEditor


def _freeze_text(summary: RunSummary) -> str:
    if summary.config is None:
        return ""
    freeze = summary.config.freeze
    return f"first {freeze.groups}" if freeze.mode == "first-n" else freeze.mode


def _cell(summary: RunSummary, column: int) -> str:
    if column == 0:
        return summary.display_name
    if column == 1:
        return summary.status
    if column == 2:
        return summary.backbone
    if column == 3:
        return _freeze_text(summary)
    if column == 4:
        return f"{summary.epochs_run} / {summary.epochs_planned}"
    if column == 5:
        value = summary.best_value
        return "" if math.isnan(value) else f"{summary.monitor} {value:.3f}"
    if column == 6:
        loss = summary.final.get("val_loss", math.nan)
        return "" if math.isnan(loss) else f"{loss:.4f}"
    return summary.notes.splitlines()[0] if summary.notes else ""


class RunsModel(RowTableModel[RunSummary]):
    COLUMNS = ("Run", "Status", "Backbone", "Freeze", "Epochs", "Best", "Val loss", "Notes")

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.active: Path | None = None  # the run now training, shown as "training"

    @property
    def runs(self) -> list[RunSummary]:
        return self.rows

    def set_runs(self, runs: list[RunSummary]) -> None:
        self.set_rows(runs)

    def cell(self, run: RunSummary, column: int, role: int) -> Any:
        if role == Qt.ItemDataRole.DisplayRole:
            if column == 1 and self.active is not None and run.path == self.active:
                return "training"
            return _cell(run, column)
        if role == Qt.ItemDataRole.ToolTipRole:
            return "\n".join(filter(None, (run.problem, f"Failed: {run.failure}" if run.failure else "",
                                           str(run.path), run.notes)))
        return None


class RunsView(QWidget):
    openRequested = Signal(object)  # RunSummary
    compareRequested = Signal(object, object)  # RunSummary, RunSummary
    reuseRequested = Signal(object)  # RunSummary
    resumeRequested = Signal(object)  # RunSummary
    exportRequested = Signal(object)  # RunSummary
    runsEdited = Signal()  # renamed, annotated or deleted: run lists reload

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.model = RunsModel(self)
        self.table = QTableView()
        self.table.setObjectName("runsTable")
        self.table.setModel(self.model)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.table.verticalHeader().setVisible(False)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.table.horizontalHeader().setStretchLastSection(True)
        self.table.doubleClicked.connect(self._open_clicked)
        self.table.selectionModel().selectionChanged.connect(self._selection_changed)
        self.open_button = self._button("mdi6.chart-box-outline", "Open", "Show this run's curves and results")
        self.compare_button = self._button("mdi6.compare-horizontal", "Compare", "Overlay the curves of the two selected runs")
        self.reuse_button = self._button("mdi6.content-copy", "Reuse config", "Load this run's options into the "
                                         "Model and Training panels")
        self.resume_button = self._button("mdi6.play-pause", "Resume", "Continue this stopped run from its last.pt")
        self.export_button = self._button("mdi6.export", "Export…", "Export this run's model to ONNX or "
                                          "TorchScript, checked against PyTorch")
        self._menu_actions: list[tuple[QPushButton, QAction]] = []
        for button, slot in ((self.open_button, self._open_clicked), (self.compare_button, self._compare_clicked),
                             (self.reuse_button, self._reuse_clicked), (self.resume_button, self._resume_clicked),
                             (self.export_button, self._export_clicked)):
            button.clicked.connect(slot)
            action = QAction(button.icon(), button.text(), self)
            action.triggered.connect(slot)
            self._menu_actions.append((button, action))
        self.edits = RunEditor(self, self.selected, self._active_run)
        self.edits.changed.connect(self.runsEdited)
        self.table.addActions(list(self.edits.actions))  # F2 and Delete work in the table
        self.table.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.table.customContextMenuRequested.connect(self._show_menu)
        self.replay_label = QLabel()
        self.replay_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.replay_label.setWordWrap(True)
        buttons = QHBoxLayout()
        for button in (self.open_button, self.compare_button, self.reuse_button, self.resume_button,
                       self.export_button):
            buttons.addWidget(button)
        buttons.addStretch(1)
        layout = QVBoxLayout(self)
        layout.addLayout(buttons)
        layout.addWidget(self.table, 1)
        layout.addWidget(self.replay_label)
        self._selection_changed()

    def _button(self, icon: str, text: str, tip: str) -> QPushButton:
        button = QPushButton(qta.icon(icon), text)
        button.setToolTip(tip)
        return button

    def reload(self, runs_dir: Path | None, active: Path | None = None) -> None:
        """Read the runs again (keeps the selection by folder)."""
        chosen = {run.path for run in self.selected()}
        self.model.active = active
        self.model.set_runs(list_runs(runs_dir) if runs_dir is not None else [])
        for row, run in enumerate(self.model.runs):
            if run.path in chosen:
                self.table.selectRow(row)
        self._selection_changed()

    def selected(self) -> list[RunSummary]:
        rows = sorted({index.row() for index in self.table.selectionModel().selectedRows()})
        return [self.model.runs[row] for row in rows if row < len(self.model.runs)]

    def select_run(self, path: Path) -> None:
        for row, run in enumerate(self.model.runs):
            if run.path == path:
                self.table.selectRow(row)

    @Slot()
    def _selection_changed(self, *_: object) -> None:
        runs = self.selected()
        one = len(runs) == 1
        self.open_button.setEnabled(one and runs[0].has_checkpoint)
        self.compare_button.setEnabled(len(runs) == 2)
        self.reuse_button.setEnabled(one and runs[0].config is not None)
        self.resume_button.setEnabled(one and runs[0].resumable and runs[0].path != self.model.active)
        self.export_button.setEnabled(one and runs[0].has_checkpoint)
        self.edits.update_enabled()
        failure = f"<b>Failed:</b> {html.escape(runs[0].failure)}<br>" if one and runs[0].failure else ""
        self.replay_label.setText(
            f"{failure}Replay headless: <code>imgcls train --config {runs[0].path / 'config.yaml'}</code>" if one else
            "Select a run to see how to replay it headless; select two to compare them.")

    def context_menu(self) -> QMenu:
        """The right-click menu: the buttons' commands, enabled as the buttons are."""
        menu = QMenu(self)
        for button, action in self._menu_actions:
            action.setEnabled(button.isEnabled())
            menu.addAction(action)
        menu.addSeparator()
        self.edits.update_enabled()
        menu.addActions(list(self.edits.actions))
        return menu

    def _active_run(self) -> Path | None:
        return self.model.active

    @Slot(QPoint)
    def _show_menu(self, position: QPoint) -> None:
        index = self.table.indexAt(position)
        if index.isValid() and not self.table.selectionModel().isRowSelected(index.row(), QModelIndex()):
            self.table.selectRow(index.row())
        self.context_menu().popup(self.table.viewport().mapToGlobal(position))

    @Slot()
    def _export_clicked(self) -> None:
        runs = self.selected()
        if len(runs) == 1 and runs[0].has_checkpoint:
            self.exportRequested.emit(runs[0])

    @Slot()
    def _open_clicked(self, *_: object) -> None:
        runs = self.selected()
        if len(runs) == 1 and runs[0].has_checkpoint:
            self.openRequested.emit(runs[0])

    @Slot()
    def _compare_clicked(self) -> None:
        runs = self.selected()
        if len(runs) == 2:
            self.compareRequested.emit(runs[0], runs[1])

    @Slot()
    def _reuse_clicked(self) -> None:
        runs = self.selected()
        if len(runs) == 1 and runs[0].config is not None:
            self.reuseRequested.emit(runs[0])

    @Slot()
    def _resume_clicked(self) -> None:
        runs = self.selected()
        if len(runs) == 1 and runs[0].resumable:
            self.resumeRequested.emit(runs[0])
