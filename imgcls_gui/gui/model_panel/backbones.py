"""The backbone registry as a table: family, parameters, input size and whether ImageNet weights are cached.

The registry is torch-free, so the table fills at once; the "cached" column needs torchvision's
cache path and is filled by a worker (``set_cached``).
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QObject, Qt
from PySide6.QtGui import QColor

from ...engine import BackboneSpec, list_backbones
from ..common.table_model import RowTableModel

WEIGHTS_COLUMN = 4  # "Weights": ImageNet weights cached?


class BackboneModel(RowTableModel[BackboneSpec]):
    COLUMNS = ("Backbone", "Family", "Parameters", "Input", "Weights")

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.rows = list_backbones()
        self.cached: dict[str, str] | None = None  # None until the worker has looked

    @property
    def specs(self) -> list[BackboneSpec]:
        return self.rows

    def set_cached(self, cached: dict[str, str]) -> None:
        self.cached = dict(cached)
        self.column_changed(WEIGHTS_COLUMN)

    def row_of(self, name: str) -> int:
        return next((row for row, spec in enumerate(self.rows) if spec.name == name), -1)

    def weights_text(self, name: str) -> str:
        if self.cached is None:
            return "checking…"
        return "cached" if name in self.cached else "not cached"

    def cell(self, spec: BackboneSpec, column: int, role: int) -> Any:
        if role == Qt.ItemDataRole.DisplayRole:
            return (spec.name, spec.family, f"{spec.params_millions:.1f} M", f"{spec.input_size} px",
                    self.weights_text(spec.name))[column]
        if role == Qt.ItemDataRole.ToolTipRole:
            if column == WEIGHTS_COLUMN and self.cached and spec.name in self.cached:
                return self.cached[spec.name]
            return spec.description
        if role == Qt.ItemDataRole.ForegroundRole and column == WEIGHTS_COLUMN and self.cached is not None:
            return QColor("#2b8a3e") if spec.name in self.cached else QColor("#868e96")
        if role == Qt.ItemDataRole.TextAlignmentRole and column in (2, 3):
            return Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter
        return None
