"""A large preview of the current image with its labels, split and file facts (decoded off the UI thread)."""

from __future__ import annotations

from html import escape
from pathlib import Path

from PySide6.QtCore import QSize, Qt, Slot
from PySide6.QtGui import QPixmap, QResizeEvent
from PySide6.QtWidgets import QLabel, QSizePolicy, QVBoxLayout, QWidget

from ...engine import ImageRecord
from ..common.thumbnails import ThumbnailLoader

PREVIEW_SIZE = 1024


class PreviewPane(QWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.loader = ThumbnailLoader(size=PREVIEW_SIZE, cache_dir=None, memory_items=12, threads=1, parent=self)
        self.loader.thumbnailReady.connect(self._loaded)
        self.picture = QLabel("No image selected")
        self.picture.setObjectName("previewPicture")
        self.picture.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.picture.setMinimumSize(QSize(110, 110))
        self.picture.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Ignored)
        self.info = QLabel()
        self.info.setObjectName("previewInfo")
        self.info.setWordWrap(True)
        self.info.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.addWidget(self.picture, 1)
        layout.addWidget(self.info)
        self.record: ImageRecord | None = None
        self._pixmap: QPixmap | None = None

    def show_record(self, record: ImageRecord | None) -> None:
        self.record = record
        self._pixmap = None
        if record is None:
            self.picture.setPixmap(QPixmap())
            self.picture.setText("No image selected")
            self.info.setText("")
            return
        self.info.setText(self._describe(record))
        pixmap = self.loader.get(record.file)
        if pixmap is None:
            self.picture.setPixmap(QPixmap())
            self.picture.setText("Loading…")
        else:
            self._show_pixmap(pixmap)

    def clear_cache(self) -> None:
        self.loader.clear()

    @Slot(str)
    def _loaded(self, path: str) -> None:
        if self.record is not None and str(self.record.file) == path:
            self._show_pixmap(self.loader.get(Path(path)) or QPixmap())

    def _show_pixmap(self, pixmap: QPixmap) -> None:
        if pixmap.isNull():
            self._pixmap = None
            self.picture.setPixmap(QPixmap())
            self.picture.setText("This file cannot be shown (missing or unreadable).\nRun the health check for details.")
            return
        self._pixmap = pixmap
        self._rescale()

    def _rescale(self) -> None:
        if self._pixmap is None:
            return
        ratio = self.picture.devicePixelRatioF()
        target = self.picture.size() * ratio  # in device pixels, so a HiDPI screen shows every one of them
        # Blown up more than 3x (a 32 px image), smoothing only blurs: show crisp pixels instead.
        enlarge = min(target.width() / self._pixmap.width(), target.height() / self._pixmap.height())
        mode = Qt.TransformationMode.FastTransformation if enlarge > 3 else Qt.TransformationMode.SmoothTransformation
        scaled = self._pixmap.scaled(target, Qt.AspectRatioMode.KeepAspectRatio, mode)
        scaled.setDevicePixelRatio(ratio)
        self.picture.setPixmap(scaled)

    def resizeEvent(self, event: QResizeEvent) -> None:  # noqa: N802 - Qt API
        super().resizeEvent(event)
        self._rescale()

    @staticmethod
    def _describe(record: ImageRecord) -> str:
        labels = ", ".join(record.labels) or "<i>unlabeled</i>"
        facts = [f"<b>{escape(record.file.name)}</b>", f"Labels: {escape(labels) if record.labels else labels}",
                 f"Split: {record.split or 'not assigned'}"]
        if record.width and record.height:
            facts.append(f"{record.width} × {record.height} px")
        if record.size:
            facts.append(f"{record.size / 1024:,.0f} KiB")
        facts.append(f"<span style='color: gray'>{escape(str(record.file.parent))}</span>")
        return "<br>".join(facts)
