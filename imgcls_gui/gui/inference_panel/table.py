"""Prediction results as a table model over plain rows: thumbnail, label, score, top-k, error.

Multi-label rows keep every class's probability (``top_k`` holds them all), so moving the
threshold slider re-decides the labels here without running the model again.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from PySide6.QtCore import QModelIndex, QObject, Qt, Slot
from PySide6.QtGui import QColor

from ...engine import Prediction
from ..common.table_model import RowTableModel
from ..common.thumbnails import ThumbnailLoader

SCORE_COLUMN = 2
TOP_K_COLUMN = 3


def rethreshold(prediction: Prediction, thresholds: Mapping[str, float]) -> Prediction:
    """A multi-label prediction decided again at ``thresholds`` (label → threshold), as the engine decides."""
    if prediction.error or not prediction.top_k:
        return prediction
    over = [(label, prob) for label, prob in prediction.top_k if prob >= thresholds.get(label, 0.5)]
    labels = tuple(label for label, _ in over)
    score = over[0][1] if over else prediction.top_k[0][1]
    return dataclasses.replace(prediction, label=";".join(labels), score=score, labels_over_threshold=labels)


@dataclass(frozen=True)
class ResultRow:
    prediction: Prediction
    image_id: int | None = None  # set when the image belongs to the open project (model-assisted labeling)
    corrected: tuple[str, ...] | None = None  # the labels the user chose instead of the model's, before accepting

    @property
    def labels(self) -> tuple[str, ...]:
        """What accepting this row gives its image: the user's correction, else the model's decision."""
        if self.corrected is not None:
            return self.corrected
        prediction = self.prediction
        if prediction.error:
            return ()
        if prediction.labels_over_threshold:
            return prediction.labels_over_threshold
        return (prediction.label,) if prediction.label else ()


class PredictionModel(RowTableModel[ResultRow]):
    COLUMNS = ("Image", "Prediction", "Score", "Top classes", "Error")

    def __init__(self, thumbnails: ThumbnailLoader, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.thumbnails = thumbnails
        self.shown_top_k = 3
        self._raw: list[Prediction] = []  # as the model decided them; rows hold the thresholded ones
        self._thresholds: dict[str, float] | None = None
        self._row_of: dict[str, int] = {}
        thumbnails.thumbnailReady.connect(self._thumbnail_ready)

    # -- content -----------------------------------------------------------------------------

    def clear(self) -> None:
        self.beginResetModel()
        self.rows, self._raw, self._row_of = [], [], {}
        self.endResetModel()

    def append(self, predictions: Sequence[Prediction], image_ids: Mapping[str, int] | None = None) -> None:
        if not predictions:
            return
        start = len(self.rows)
        self.beginInsertRows(QModelIndex(), start, start + len(predictions) - 1)
        for prediction in predictions:
            image_id = image_ids.get(str(prediction.path)) if image_ids else None
            self._raw.append(prediction)
            self.rows.append(ResultRow(self._decide(prediction), image_id))
            self._row_of[str(prediction.path)] = len(self.rows) - 1
        self.endInsertRows()

    def set_thresholds(self, thresholds: dict[str, float] | None) -> None:
        """Multi-label: decide every row again at these per-class thresholds (None: as the model did)."""
        self._thresholds = thresholds
        self.rows = [dataclasses.replace(row, prediction=self._decide(raw)) for row, raw in zip(self.rows, self._raw)]
        if self.rows:
            self.dataChanged.emit(self.index(0, 1), self.index(len(self.rows) - 1, len(self.COLUMNS) - 1))

    def set_shown_top_k(self, count: int) -> None:
        self.shown_top_k = count
        self.column_changed(TOP_K_COLUMN)

    def set_corrections(self, corrections: Mapping[int, tuple[str, ...] | None]) -> None:
        """Row index -> the labels the user chose for it (None: back to the model's)."""
        for index, labels in corrections.items():
            self.rows[index] = dataclasses.replace(self.rows[index], corrected=labels)
        for index in corrections:
            self.dataChanged.emit(self.index(index, 1), self.index(index, 1))

    def remove_rows(self, rows: Sequence[int]) -> None:
        keep = [i for i in range(len(self.rows)) if i not in set(rows)]
        self.beginResetModel()
        self.rows = [self.rows[i] for i in keep]
        self._raw = [self._raw[i] for i in keep]
        self._row_of = {str(row.prediction.path): i for i, row in enumerate(self.rows)}
        self.endResetModel()

    def predictions(self) -> list[Prediction]:
        return [row.prediction for row in self.rows]

    def _decide(self, prediction: Prediction) -> Prediction:
        return rethreshold(prediction, self._thresholds) if self._thresholds is not None else prediction

    # -- Qt model ----------------------------------------------------------------------------

    def cell(self, row: ResultRow, column: int, role: int) -> Any:
        prediction = row.prediction
        if role == Qt.ItemDataRole.DisplayRole:
            if column == 0:
                return prediction.path.name
            if column == 1 and row.corrected is not None:
                return ", ".join(row.corrected) + "  ✎"
            if column == 1:
                return prediction.label.replace(";", ", ") if not prediction.error else ""
            if column == SCORE_COLUMN:
                return "" if prediction.score is None else f"{prediction.score:.3f}"
            if column == TOP_K_COLUMN:
                return "  ".join(f"{label} {prob:.2f}" for label, prob in prediction.top_k[: self.shown_top_k])
            return prediction.error
        if role == Qt.ItemDataRole.DecorationRole and column == 0:
            return self.thumbnails.get(prediction.path)
        if role == Qt.ItemDataRole.ToolTipRole and column == 1 and row.corrected is not None:
            return f"Changed by you; the model said: {prediction.label.replace(';', ', ') or 'no label'}"
        if role == Qt.ItemDataRole.ToolTipRole and column == 1 and row.image_id is not None:
            return "Keys 1-9 or a right-click change the label before accepting"
        if role == Qt.ItemDataRole.ToolTipRole:
            return str(prediction.path) if column == 0 else prediction.error or None
        if role == Qt.ItemDataRole.ForegroundRole and prediction.error:
            return QColor("#c92a2a")
        if role == Qt.ItemDataRole.TextAlignmentRole and column == SCORE_COLUMN:
            return Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter
        return None

    def sort(self, column: int, order: Qt.SortOrder = Qt.SortOrder.AscendingOrder) -> None:
        """Sort by file name, label or score (errors last); ascending score = least confident first."""
        def key(pair: tuple[ResultRow, Prediction]) -> Any:
            p = pair[0].prediction
            if column == SCORE_COLUMN:
                return (p.score is None, p.score if p.score is not None else 0.0)
            if column == 1:
                return (bool(p.error), p.label)
            return (False, p.path.name)

        pairs = sorted(zip(self.rows, self._raw), key=key, reverse=order == Qt.SortOrder.DescendingOrder)
        self.layoutAboutToBeChanged.emit()
        self.rows = [row for row, _ in pairs]
        self._raw = [raw for _, raw in pairs]
        self._row_of = {str(row.prediction.path): i for i, row in enumerate(self.rows)}
        self.layoutChanged.emit()

    @Slot(str)
    def _thumbnail_ready(self, key: str) -> None:
        row = self._row_of.get(key)
        if row is not None:
            index = self.index(row, 0)
            self.dataChanged.emit(index, index, [Qt.ItemDataRole.DecorationRole])
