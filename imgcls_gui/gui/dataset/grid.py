"""The thumbnail grid: a QListView in icon mode tuned for tens of thousands of rows, plus labeling keys."""

from __future__ import annotations

from PySide6.QtCore import QItemSelection, QItemSelectionModel, Qt, Signal
from PySide6.QtGui import QKeyEvent
from PySide6.QtWidgets import QAbstractItemView, QListView, QWidget

from .delegate import ThumbnailDelegate
from .model import ID_ROLE, ImageListModel

DIGIT_KEYS = {getattr(Qt.Key, f"Key_{n}"): n for n in range(1, 10)}


class ImageGridView(QListView):
    """Keys 1–9 ask for the n-th class, Delete asks to remove the selection; the panel decides."""

    classKeyPressed = Signal(int)  # 1..9
    deleteRequested = Signal()

    def __init__(self, model: ImageListModel, thumbnail_size: int = 128, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("imageGrid")
        self.setViewMode(QListView.ViewMode.IconMode)
        self.setResizeMode(QListView.ResizeMode.Adjust)
        self.setMovement(QListView.Movement.Static)
        self.setWrapping(True)
        self.setUniformItemSizes(True)  # one size for all: layout never asks 20,000 rows for theirs
        self.setLayoutMode(QListView.LayoutMode.Batched)
        self.setBatchSize(400)
        self.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)  # shift/ctrl and rubber band
        self.setSelectionRectVisible(True)
        self.setDragEnabled(False)
        self.setVerticalScrollMode(QAbstractItemView.ScrollMode.ScrollPerPixel)
        self.setSpacing(4)
        self.delegate = ThumbnailDelegate(thumbnail_size, self)
        self.setItemDelegate(self.delegate)
        self.setGridSize(self.delegate.cell_size())
        self.setModel(model)
        self.verticalScrollBar().setSingleStep(24)

    def selected_ids(self) -> list[int]:
        rows = sorted(index.row() for index in self.selectionModel().selectedIndexes())
        model = self.model()
        return [model.index(row).data(ID_ROLE) for row in rows]

    def select_rows(self, rows: list[int], current: int | None = None) -> None:
        """Select exactly ``rows`` and make ``current`` (default: the first) the current row, scrolled into view."""
        model = self.model()
        selection = QItemSelection()
        for row in rows:
            selection.select(model.index(row), model.index(row))
        flags = QItemSelectionModel.SelectionFlag.ClearAndSelect
        if rows:
            target = model.index(rows[0] if current is None else current)
            self.selectionModel().setCurrentIndex(target, QItemSelectionModel.SelectionFlag.NoUpdate)
            self.scrollTo(target)
        self.selectionModel().select(selection, flags)

    def keyPressEvent(self, event: QKeyEvent) -> None:  # noqa: N802 - Qt API
        modifiers = event.modifiers() & ~Qt.KeyboardModifier.KeypadModifier
        if event.key() in DIGIT_KEYS and modifiers == Qt.KeyboardModifier.NoModifier:
            self.classKeyPressed.emit(DIGIT_KEYS[event.key()])
            event.accept()
            return
        if event.key() in (Qt.Key.Key_Delete, Qt.Key.Key_Backspace) and modifiers == Qt.KeyboardModifier.NoModifier:
            self.deleteRequested.emit()
            event.accept()
            return
        super().keyPressEvent(event)
