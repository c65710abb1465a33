"""Grad-CAM for the Inference panel: the selected row's overlay beside the table, when asked for.

Only a run folder or a .pt checkpoint can be explained (an exported ONNX or TorchScript model has no
layers to look inside); the pane says so for the others.
"""

from __future__ import annotations

from PySide6.QtCore import QModelIndex, QObject, Slot
from PySide6.QtWidgets import QCheckBox, QTableView

from ...engine import ModelDescription
from ..common.explanation import ExplanationPane
from ..state import AppState
from .table import PredictionModel


class RowExplainer(QObject):
    """A "Grad-CAM" check box and the pane it shows; follows the table's current row."""

    def __init__(self, table: QTableView, results: PredictionModel, state: AppState, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.table, self.results = table, results
        self.toggle = QCheckBox("Grad-CAM")
        self.toggle.setObjectName("showGradcam")
        self.toggle.setToolTip("Show where the model looked in the selected image (needs a run or a .pt checkpoint)")
        self.toggle.toggled.connect(self._toggled)
        self.pane = ExplanationPane(state)
        self.pane.setObjectName("inferenceExplanation")
        self.pane.setVisible(False)
        table.selectionModel().currentRowChanged.connect(self._row_changed)

    def set_predictor(self, predictor: ModelDescription | None) -> None:
        explainable = predictor is not None and predictor.kind == "checkpoint"
        self.pane.set_model(predictor.source if explainable else None, predictor.classes if predictor else ())
        self._show_current()

    @Slot(bool)
    def _toggled(self, on: bool) -> None:
        self.pane.setVisible(on)
        self._show_current()

    @Slot(QModelIndex, QModelIndex)
    def _row_changed(self, _current: QModelIndex, _previous: QModelIndex) -> None:
        self._show_current()

    def _show_current(self) -> None:
        index = self.table.currentIndex()
        if not self.toggle.isChecked() or not index.isValid() or index.row() >= len(self.results.rows):
            return
        prediction = self.results.rows[index.row()].prediction
        if not prediction.error:
            self.pane.show_image(prediction.path, f"predicted {prediction.label or 'nothing'}")
