"""Pieces of the results view: the confusion-matrix heatmap and the ROC / precision-recall curves."""

from __future__ import annotations

import math
from typing import Any

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, Qt, Signal, Slot
from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import QAbstractItemView, QHBoxLayout, QHeaderView, QTableView, QWidget

from ...engine import Curve

CURVE_COLOURS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f",
                 "#bcbd22", "#17becf")


def heat_colour(share: float, diagonal: bool) -> QColor:
    """Row share 0..1 → white to deep blue (correct) or deep red (mistakes)."""
    share = min(max(share, 0.0), 1.0)
    target = (33, 102, 172) if diagonal else (202, 40, 40)
    return QColor(*(round(255 + (t - 255) * share) for t in target))


class ConfusionModel(QAbstractTableModel):
    """Counts with a background shaded by the share of the true class's images (rows sum to 100%)."""

    def __init__(self, parent: Any = None) -> None:
        super().__init__(parent)
        self.classes: tuple[str, ...] = ()
        self.matrix: tuple[tuple[int, ...], ...] = ()

    def set_matrix(self, classes: tuple[str, ...], matrix: tuple[tuple[int, ...], ...] | None) -> None:
        self.beginResetModel()
        self.classes, self.matrix = (classes, matrix) if matrix is not None else ((), ())
        self.endResetModel()

    def rowCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:  # noqa: N802
        return 0 if parent.isValid() else len(self.matrix)

    def columnCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:  # noqa: N802
        return 0 if parent.isValid() else len(self.matrix)

    def data(self, index: QModelIndex | QPersistentModelIndex, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid():
            return None
        row, column = index.row(), index.column()
        count = self.matrix[row][column]
        share = count / max(sum(self.matrix[row]), 1)
        if role == Qt.ItemDataRole.DisplayRole:
            return str(count)
        if role == Qt.ItemDataRole.BackgroundRole:
            return heat_colour(share, row == column)
        if role == Qt.ItemDataRole.ForegroundRole:
            return QColor("white" if share > 0.55 else "black")
        if role == Qt.ItemDataRole.TextAlignmentRole:
            return Qt.AlignmentFlag.AlignCenter
        if role == Qt.ItemDataRole.ToolTipRole:
            return (f"{count} image(s) of '{self.classes[row]}' predicted as '{self.classes[column]}' "
                    f"({share:.0%} of that class). Click to see them.")
        return None

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole) -> Any:  # noqa: N802
        if role != Qt.ItemDataRole.DisplayRole or section >= len(self.classes):
            return None
        return self.classes[section]  # rows are true classes, columns predicted ones (said above the table)


class ConfusionMatrixView(QTableView):
    """The heatmap; clicking a cell emits ``cellChosen(true_index, predicted_index)``."""

    cellChosen = Signal(int, int)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("confusionMatrix")
        self.confusion = ConfusionModel(self)
        self.setModel(self.confusion)
        self.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        for header in (self.horizontalHeader(), self.verticalHeader()):
            header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
            header.setMinimumSectionSize(44)
        self.clicked.connect(self._clicked)

    @Slot(QModelIndex)
    def _clicked(self, index: QModelIndex) -> None:
        if index.isValid():
            self.cellChosen.emit(index.row(), index.column())


class CurvesView(QWidget):
    """ROC and precision-recall curves, one coloured line per class, with the area in the legend."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        import pyqtgraph as pg

        self._pg = pg
        background = self.palette().color(QPalette.ColorRole.Base)
        self.roc_plot = self._plot("ROC", "false positive rate", "true positive rate", background)
        self.pr_plot = self._plot("Precision-recall", "recall", "precision", background)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.roc_plot)
        layout.addWidget(self.pr_plot)

    def _plot(self, title: str, x: str, y: str, background: QColor) -> Any:
        plot = self._pg.PlotWidget(title=title)
        plot.setBackground(background)
        plot.setMenuEnabled(False)
        plot.setLabel("bottom", x)
        plot.setLabel("left", y)
        plot.setXRange(0, 1, padding=0.02)
        plot.setYRange(0, 1, padding=0.02)
        plot.showGrid(x=True, y=True, alpha=0.2)
        plot.addLegend(offset=(-8, -8), labelTextSize="8pt")
        return plot

    def show_curves(self, roc: tuple[Curve, ...], pr: tuple[Curve, ...]) -> None:
        pg = self._pg
        for plot, curves, metric in ((self.roc_plot, roc, "AUC"), (self.pr_plot, pr, "AP")):
            plot.clear()
            plot.plotItem.legend.clear()
            if plot is self.roc_plot:
                plot.plot([0, 1], [0, 1], pen=pg.mkPen("#adb5bd", style=Qt.PenStyle.DotLine))
            for number, curve in enumerate(curves):
                if not curve.x:
                    continue
                area = "n/a" if math.isnan(curve.area) else f"{curve.area:.3f}"
                pen = pg.mkPen(CURVE_COLOURS[number % len(CURVE_COLOURS)], width=2)
                plot.plot(list(curve.x), list(curve.y), pen=pen, name=f"{curve.label} ({metric} {area})")

    def curve_count(self) -> int:
        return sum(len(plot.listDataItems()) for plot in (self.roc_plot, self.pr_plot))
