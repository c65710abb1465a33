"""RowTableModel: counts, titles and cells come from plain rows; the three tables built on it show them."""

from __future__ import annotations

from PySide6.QtCore import QModelIndex, Qt

from imgcls_gui.gui.common.table_model import RowTableModel
from imgcls_gui.gui.model_panel.backbones import BackboneModel

DISPLAY = Qt.ItemDataRole.DisplayRole


class Squares(RowTableModel[int]):
    COLUMNS = ("n", "n²")

    def cell(self, row: int, column: int, role: int) -> object:
        return (row, row * row)[column] if role == DISPLAY else None


def test_counts_titles_and_cells_follow_the_rows(qapp):
    model = Squares()
    assert (model.rowCount(), model.columnCount()) == (0, 2)
    resets: list[bool] = []
    model.modelReset.connect(lambda: resets.append(True))
    model.set_rows(range(1, 4))
    assert resets == [True]
    assert (model.rowCount(), model.columnCount()) == (3, 2)
    assert model.data(model.index(2, 1)) == 9
    assert model.headerData(1, Qt.Orientation.Horizontal) == "n²"
    assert model.headerData(0, Qt.Orientation.Vertical) is None
    assert model.data(QModelIndex()) is None
    assert model.rowCount(model.index(0, 0)) == 0  # a flat table: rows have no children


def test_column_changed_tells_views_about_every_row(qapp):
    model = Squares()
    model.set_rows([1, 2])
    changed: list[tuple[int, int, int, int]] = []
    model.dataChanged.connect(lambda a, b, roles: changed.append((a.row(), a.column(), b.row(), b.column())))
    model.column_changed(1)
    assert changed == [(0, 1, 1, 1)]


def test_backbone_table_marks_cached_weights(qapp):
    model = BackboneModel()
    row = model.row_of("resnet18")
    assert model.data(model.index(row, 0)) == "resnet18"
    assert model.data(model.index(row, 4)) == "checking…"
    model.set_cached({"resnet18": "/cache/resnet18.pth"})
    assert model.data(model.index(row, 4)) == "cached"
    assert model.data(model.index(row, 4), Qt.ItemDataRole.ToolTipRole) == "/cache/resnet18.pth"
