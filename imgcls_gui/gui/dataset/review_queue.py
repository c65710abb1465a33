"""The Review view's queue: one row per suspicion (the image, the issue, given and suggested labels, the score,
what the user did with it), the table model that shows them, and the table that turns keys into actions."""

from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtCore import Qt, Signal, Slot
from PySide6.QtGui import QColor, QKeyEvent
from PySide6.QtWidgets import QTableView

from ...engine import Issue
from ..common.table_model import RowTableModel
from ..common.thumbnails import ThumbnailLoader
from .grid import DIGIT_KEYS

KIND_TEXT = {"label": "label error", "duplicate": "near-duplicate", "outlier": "outlier"}
KIND_COLOURS = {"label": "#c0392b", "duplicate": "#b07a1f", "outlier": "#4a6fa5"}
ROW_ICON = 56


@dataclass
class ReviewRow:
    """One issue of the queue, the project image it is about, and what the user did with it ("" = open)."""

    issue: Issue
    image_id: int
    labels: tuple[str, ...]  # the image's labels now (they change as the user acts)
    status: str = ""  # "", "accepted", "kept", "relabelled", "removed"


class ReviewModel(RowTableModel[ReviewRow]):
    COLUMNS = ("Image", "Issue", "Given → suggested", "Score")  # the file name is in the tooltip and the preview

    def __init__(self, thumbnails: ThumbnailLoader, parent=None) -> None:
        super().__init__(parent)
        self.thumbnails = thumbnails
        thumbnails.thumbnailReady.connect(self._thumbnail_ready)

    def cell(self, row: ReviewRow, column: int, role: int):
        issue = row.issue
        if role == Qt.ItemDataRole.DecorationRole and column == 0:
            return self.thumbnails.get(issue.path)
        if role == Qt.ItemDataRole.ForegroundRole:
            return QColor("#999999" if row.status else KIND_COLOURS[issue.kind]) if column == 1 else \
                (QColor("#999999") if row.status else None)
        if role == Qt.ItemDataRole.ToolTipRole:
            twin = f"\nnear-copy of {issue.other}" if issue.other else ""
            return f"{issue.path}{twin}"
        if role != Qt.ItemDataRole.DisplayRole:
            return None
        if column == 1:
            return KIND_TEXT[issue.kind] + (f" ({row.status})" if row.status else "")
        if column == 2:
            given = ", ".join(row.labels) or "unlabeled"
            if issue.kind == "duplicate" and issue.other is not None:
                return f"{given} · copy of {issue.other.name}"
            return f"{given} → {', '.join(issue.suggested)}" if issue.suggested else given
        return f"{issue.score:.3f}"

    def row_changed(self, row: int) -> None:
        self.dataChanged.emit(self.index(row, 0), self.index(row, len(self.COLUMNS) - 1))

    @Slot(str)
    def _thumbnail_ready(self, path: str) -> None:
        for n, row in enumerate(self.rows):
            if str(row.issue.path) == path:
                self.dataChanged.emit(self.index(n, 0), self.index(n, 0))


class ReviewTable(QTableView):
    """The queue; keys A, K, 1-9 and Delete ask the view to act on the current row."""

    actionRequested = Signal(str, int)  # "accept" | "keep" | "relabel" (with the class number) | "remove"

    def keyPressEvent(self, event: QKeyEvent) -> None:  # noqa: N802 - Qt API
        modifiers = event.modifiers() & ~Qt.KeyboardModifier.KeypadModifier
        if modifiers == Qt.KeyboardModifier.NoModifier:
            key = event.key()
            action = {Qt.Key.Key_A: "accept", Qt.Key.Key_K: "keep", Qt.Key.Key_Delete: "remove",
                      Qt.Key.Key_Backspace: "remove"}.get(key)
            if action is not None or key in DIGIT_KEYS:
                self.actionRequested.emit(action or "relabel", DIGIT_KEYS.get(key, 0))
                event.accept()
                return
        super().keyPressEvent(event)
