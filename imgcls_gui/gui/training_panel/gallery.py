"""A gallery of result images (thumbnail + caption): a list model over plain data, thumbnails off the UI thread."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PySide6.QtCore import QAbstractListModel, QModelIndex, QPersistentModelIndex, QSize, Qt, Slot
from PySide6.QtGui import QColor
from PySide6.QtWidgets import QListView, QWidget

from ..common.thumbnails import ThumbnailLoader

THUMB = 112
CELL = QSize(THUMB + 40, THUMB + 44)


@dataclass(frozen=True)
class GalleryItem:
    path: Path
    caption: str  # e.g. "true ants → bees 0.93"
    tooltip: str = ""
    wrong: bool = False


class GalleryModel(QAbstractListModel):
    def __init__(self, thumbnails: ThumbnailLoader, parent: Any = None) -> None:
        super().__init__(parent)
        self.items: list[GalleryItem] = []
        self.thumbnails = thumbnails
        self._rows: dict[str, list[int]] = {}
        thumbnails.thumbnailReady.connect(self._thumbnail_ready)

    def set_items(self, items: list[GalleryItem]) -> None:
        self.beginResetModel()
        self.items = list(items)
        self._rows = {}
        for row, item in enumerate(self.items):
            self._rows.setdefault(str(item.path), []).append(row)
        self.endResetModel()

    def rowCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:  # noqa: N802
        return 0 if parent.isValid() else len(self.items)

    def data(self, index: QModelIndex | QPersistentModelIndex, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid():
            return None
        item = self.items[index.row()]
        if role == Qt.ItemDataRole.DisplayRole:
            return item.caption
        if role == Qt.ItemDataRole.DecorationRole:
            return self.thumbnails.get(item.path)
        if role == Qt.ItemDataRole.ToolTipRole:
            return item.tooltip or str(item.path)
        if role == Qt.ItemDataRole.SizeHintRole:
            return CELL  # fixed: the thumbnail is not there yet when the view first measures the item
        if role == Qt.ItemDataRole.ForegroundRole and item.wrong:
            return QColor("#c92a2a")
        return None

    @Slot(str)
    def _thumbnail_ready(self, key: str) -> None:
        for row in self._rows.get(key, ()):
            index = self.index(row)
            self.dataChanged.emit(index, index, [Qt.ItemDataRole.DecorationRole])


class GalleryView(QListView):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.thumbnails = ThumbnailLoader(size=THUMB, parent=self)
        self.gallery = GalleryModel(self.thumbnails, self)
        self.setModel(self.gallery)
        self.setViewMode(QListView.ViewMode.IconMode)
        self.setResizeMode(QListView.ResizeMode.Adjust)
        self.setMovement(QListView.Movement.Static)
        self.setIconSize(QSize(THUMB, THUMB))
        self.setGridSize(CELL)
        self.setWordWrap(True)
        self.setUniformItemSizes(True)
        self.setSpacing(4)

    def set_items(self, items: list[GalleryItem]) -> None:
        self.gallery.set_items(items)
