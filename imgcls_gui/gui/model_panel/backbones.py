"""The backbone registry as a table: family, parameters, input size and whether ImageNet weights are cached.

The registry is torch-free, so the table fills at once; the "cached" column needs torchvision's
cache path and is filled by a worker (``set_cached``).
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, Qt
from PySide6.QtGui import QColor

from ...engine.models.registry import BackboneSpec, list_backbones

COLUMNS = ("Backbone", "Family", "Parameters", "Input", "Weights")  # "Weights": ImageNet weights cached?


class BackboneModel(QAbstractTableModel):
    def __init__(self, parent: Any = None) -> None:
        super().__init__(parent)
        self.specs: list[BackboneSpec] = list_backbones()
        self.cached: dict[str, str] | None = None  # None until the worker has looked

    def set_cached(self, cached: dict[str, str]) -> None:
        self.cached = dict(cached)
        self.dataChanged.emit(self.index(0, 4), self.index(len(self.specs) - 1, 4))

    def row_of(self, name: str) -> int:
        return next((row for row, spec in enumerate(self.specs) if spec.name == name), -1)

    def weights_text(self, name: str) -> str:
        if self.cached is None:
            return "checking…"
        return "cached" if name in self.cached else "not cached"

    def rowCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:  # noqa: N802
        return 0 if parent.isValid() else len(self.specs)

    def columnCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:  # noqa: N802
        return 0 if parent.isValid() else len(COLUMNS)

    def data(self, index: QModelIndex | QPersistentModelIndex, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid():
            return None
        spec = self.specs[index.row()]
        column = index.column()
        if role == Qt.ItemDataRole.DisplayRole:
            return (spec.name, spec.family, f"{spec.params_millions:.1f} M", f"{spec.input_size} px",
                    self.weights_text(spec.name))[column]
        if role == Qt.ItemDataRole.ToolTipRole:
            if column == 4 and self.cached and spec.name in self.cached:
                return self.cached[spec.name]
            return spec.description
        if role == Qt.ItemDataRole.ForegroundRole and column == 4 and self.cached is not None:
            return QColor("#2b8a3e") if spec.name in self.cached else QColor("#868e96")
        if role == Qt.ItemDataRole.TextAlignmentRole and column in (2, 3):
            return Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter
        return None

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole) -> Any:  # noqa: N802
        if role == Qt.ItemDataRole.DisplayRole and orientation == Qt.Orientation.Horizontal:
            return COLUMNS[section]
        return None
