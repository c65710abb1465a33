"""The layer-group tree: one checkable row per group (checked = frozen), its modules as children.

Freezing is a prefix: the early groups hold the generic features (edges, textures), so they are
the ones worth keeping fixed. Checking group k freezes every group up to k; unchecking it
unfreezes every group from k on. That keeps what the tree shows exactly expressible as the
engine's freeze modes (none, first-n, head) and a config file replays it. The head always trains.
"""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal, Slot
from PySide6.QtGui import QBrush, QColor, QStandardItem, QStandardItemModel
from PySide6.QtWidgets import QHeaderView, QTreeView, QWidget

from .tasks import GroupSummary

COLUMNS = ("Layer group", "Parameters", "State", "Phase-2 LR ×")
FROZEN_COLOUR = QColor("#868e96")


def format_count(count: int) -> str:
    if count >= 1_000_000:
        return f"{count / 1e6:.2f} M"
    if count >= 1_000:
        return f"{count / 1e3:.1f} k"
    return str(count)


def _cell(text: str, align_right: bool = False) -> QStandardItem:
    item = QStandardItem(text)
    item.setEditable(False)
    if align_right:
        item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
    return item


class LayerTree(QTreeView):
    """``prefixChosen(n)``: the user wants the first ``n`` body groups frozen."""

    prefixChosen = Signal(int)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("layerTree")
        self.groups: tuple[GroupSummary, ...] = ()
        self.frozen_count = 0
        self.lr_factors: tuple[float, ...] | None = None
        self._filling = False
        self.tree_model = QStandardItemModel(self)
        self.tree_model.setHorizontalHeaderLabels(list(COLUMNS))
        self.tree_model.itemChanged.connect(self._item_changed)
        self.setModel(self.tree_model)
        self.setUniformRowHeights(True)
        self.setAlternatingRowColors(True)
        self.header().setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        for column in (1, 2, 3):
            self.header().setSectionResizeMode(column, QHeaderView.ResizeMode.ResizeToContents)
        self.header().setStretchLastSection(False)

    @property
    def body_count(self) -> int:
        return sum(1 for g in self.groups if not g.is_head)

    def set_groups(self, groups: tuple[GroupSummary, ...]) -> None:
        self.groups = tuple(groups)
        self._filling = True
        try:
            self.tree_model.removeRows(0, self.tree_model.rowCount())
            for group in self.groups:
                name = _cell("head (new classifier)" if group.is_head else group.name)
                name.setCheckable(True)
                name.setEnabled(True)
                if group.is_head:
                    name.setCheckable(False)
                    name.setToolTip("The new classifier for your classes always trains.")
                else:
                    name.setToolTip("Checked = frozen. Checking a group freezes every group before it too.")
                for prefix, params in group.parts:
                    name.appendRow([_cell(prefix), _cell(format_count(params), True), _cell(""), _cell("")])
                self.tree_model.appendRow([name, _cell(format_count(group.params), True), _cell(""), _cell("")])
        finally:
            self._filling = False
        self._show_state()

    def set_frozen_count(self, count: int, lr_factors: tuple[float, ...] | None = None) -> None:
        """Show the first ``count`` body groups as frozen; ``lr_factors`` (one per group) for two-phase."""
        self.frozen_count = max(0, min(count, self.body_count))
        self.lr_factors = lr_factors
        self._show_state()

    def frozen_params(self) -> int:
        body = [g for g in self.groups if not g.is_head]
        return sum(g.params for g in body[: self.frozen_count])

    def total_params(self) -> int:
        return sum(g.params for g in self.groups)

    def _show_state(self) -> None:
        self._filling = True
        try:
            factors = self.lr_factors
            for row, group in enumerate(self.groups):
                frozen = not group.is_head and row < self.frozen_count
                name = self.tree_model.item(row, 0)
                if not group.is_head:
                    name.setCheckState(Qt.CheckState.Checked if frozen else Qt.CheckState.Unchecked)
                state = self.tree_model.item(row, 2)
                state.setText("frozen" if frozen else "trains")
                brush = QBrush(FROZEN_COLOUR) if frozen else QBrush()
                for column in range(len(COLUMNS)):
                    self.tree_model.item(row, column).setForeground(brush)
                factor = "" if factors is None or row >= len(factors) else f"{factors[row]:.3g}"
                self.tree_model.item(row, 3).setText(factor)
        finally:
            self._filling = False

    @Slot(QStandardItem)
    def _item_changed(self, item: QStandardItem) -> None:
        if self._filling or item.column() != 0 or item.parent() is not None or not item.isCheckable():
            return
        row = item.row()
        count = row + 1 if item.checkState() == Qt.CheckState.Checked else row
        self._show_state()  # snap back until the config (and so this tree) follows the request
        self.prefixChosen.emit(count)
