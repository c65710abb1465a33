"""Paints one grid cell: thumbnail (or a placeholder while it loads), label chips, split and name."""

from __future__ import annotations

import qtawesome as qta
from PySide6.QtCore import QModelIndex, QPersistentModelIndex, QRect, QSize, Qt
from PySide6.QtGui import QColor, QFont, QFontMetrics, QPainter, QPalette, QPixmap
from PySide6.QtWidgets import QStyle, QStyledItemDelegate, QStyleOptionViewItem, QWidget

from ..common.thumbnails import screen_pixel_ratio
from .model import COLOURS_ROLE, MISSING_ROLE, RECORD_ROLE

_Index = QModelIndex | QPersistentModelIndex
PADDING = 6
TEXT_HEIGHT = 18
SPLIT_BADGES = {"train": ("train", QColor("#4a6fa5")), "val": ("val", QColor("#b07a1f")), "test": ("test", QColor("#7b4fa0"))}


def text_colour_on(background: QColor) -> QColor:
    """Black or white, whichever reads better on ``background``."""
    luminance = 0.299 * background.red() + 0.587 * background.green() + 0.114 * background.blue()
    return QColor("#000000") if luminance > 150 else QColor("#ffffff")


class ThumbnailDelegate(QStyledItemDelegate):
    def __init__(self, thumbnail_size: int, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.thumbnail_size = thumbnail_size
        ratio = screen_pixel_ratio()  # drawn sharp on a HiDPI screen
        self._loading = qta.icon("mdi6.image-outline", color="#9a9a9a").pixmap(QSize(40, 40), ratio)
        self._broken = qta.icon("mdi6.image-off-outline", color="#c0392b").pixmap(QSize(40, 40), ratio)
        self._small = QFont()
        self._small.setPointSizeF(max(7.0, self._small.pointSizeF() * 0.85))

    def cell_size(self) -> QSize:
        return QSize(self.thumbnail_size + 2 * PADDING, self.thumbnail_size + 2 * PADDING + TEXT_HEIGHT)

    def sizeHint(self, option: QStyleOptionViewItem, index: _Index) -> QSize:  # noqa: N802 - Qt API
        return self.cell_size()

    def paint(self, painter: QPainter, option: QStyleOptionViewItem, index: _Index) -> None:
        painter.save()
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        cell = option.rect
        selected = bool(option.state & QStyle.StateFlag.State_Selected)
        if selected:
            highlight = option.palette.color(QPalette.ColorRole.Highlight)
            painter.setPen(Qt.PenStyle.NoPen)
            painter.setBrush(highlight.lighter(140) if not option.state & QStyle.StateFlag.State_HasFocus else highlight)
            painter.drawRoundedRect(cell.adjusted(1, 1, -1, -1), 6, 6)
        image_area = QRect(cell.x() + PADDING, cell.y() + PADDING, self.thumbnail_size, self.thumbnail_size)
        self._paint_picture(painter, image_area, index)
        self._paint_chips(painter, image_area, index.data(COLOURS_ROLE) or [])
        record = index.data(RECORD_ROLE)
        if record is not None and record.split in SPLIT_BADGES:
            self._paint_split(painter, image_area, *SPLIT_BADGES[record.split])
        text_rect = QRect(cell.x() + 2, image_area.bottom() + 2, cell.width() - 4, TEXT_HEIGHT)
        painter.setFont(self._small)
        painter.setPen(option.palette.color(QPalette.ColorRole.HighlightedText if selected else QPalette.ColorRole.Text))
        name = QFontMetrics(self._small).elidedText(str(index.data() or ""), Qt.TextElideMode.ElideMiddle, text_rect.width())
        painter.drawText(text_rect, Qt.AlignmentFlag.AlignCenter, name)
        painter.restore()

    def _paint_picture(self, painter: QPainter, area: QRect, index: _Index) -> None:
        pixmap = None if index.data(MISSING_ROLE) else index.data(Qt.ItemDataRole.DecorationRole)
        if isinstance(pixmap, QPixmap) and not pixmap.isNull():
            # Sizes in logical pixels: a HiDPI thumbnail has more pixels (its device pixel ratio), not more room.
            logical = pixmap.deviceIndependentSize().toSize()
            if max(logical.width(), logical.height()) > area.width():
                pixmap = pixmap.scaled(area.size() * pixmap.devicePixelRatio(), Qt.AspectRatioMode.KeepAspectRatio,
                                       Qt.TransformationMode.SmoothTransformation)  # keeps the ratio
                logical = pixmap.deviceIndependentSize().toSize()
            x = area.x() + (area.width() - logical.width()) // 2
            y = area.y() + (area.height() - logical.height()) // 2
            painter.drawPixmap(x, y, pixmap)
            return
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(QColor(128, 128, 128, 40))
        painter.drawRoundedRect(area, 4, 4)
        # None: still loading; a null pixmap or a missing file: cannot be shown.
        icon = self._loading if pixmap is None and not index.data(MISSING_ROLE) else self._broken
        side = icon.deviceIndependentSize().toSize()
        painter.drawPixmap(area.center().x() - side.width() // 2, area.center().y() - side.height() // 2, icon)

    def _paint_chips(self, painter: QPainter, area: QRect, chips: list[tuple[str, QColor]]) -> None:
        """Label chips along the bottom of the picture; those that do not fit become "+n"."""
        painter.setFont(self._small)
        metrics = QFontMetrics(self._small)
        height = metrics.height() + 2
        x, y = area.x() + 2, area.bottom() - height - 1
        for shown, (name, colour) in enumerate(chips):
            text = metrics.elidedText(name, Qt.TextElideMode.ElideRight, area.width() - 8)
            width = metrics.horizontalAdvance(text) + 8
            if x + width > area.right() - 2 and shown > 0:
                self._chip(painter, QRect(x, y, metrics.horizontalAdvance(f"+{len(chips) - shown}") + 8, height),
                           f"+{len(chips) - shown}", QColor(60, 60, 60))
                return
            self._chip(painter, QRect(x, y, width, height), text, colour)
            x += width + 3

    def _paint_split(self, painter: QPainter, area: QRect, text: str, colour: QColor) -> None:
        metrics = QFontMetrics(self._small)
        width = metrics.horizontalAdvance(text) + 8
        self._chip(painter, QRect(area.right() - width - 1, area.y() + 2, width, metrics.height() + 2), text, colour)

    @staticmethod
    def _chip(painter: QPainter, rect: QRect, text: str, colour: QColor) -> None:
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(colour)
        painter.drawRoundedRect(rect, 4, 4)
        painter.setPen(text_colour_on(colour))
        painter.drawText(rect, Qt.AlignmentFlag.AlignCenter, text)
