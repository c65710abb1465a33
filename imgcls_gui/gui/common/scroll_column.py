"""A column of options that scrolls vertically and never sideways (the Training panel's forms)."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QScrollArea, QWidget


def scroll_column(content: QWidget, min_width: int) -> QScrollArea:
    """``content`` in a scroll area as wide as it needs (at least ``min_width``), scrolling only up and down."""
    scroll = QScrollArea()
    scroll.setWidget(content)
    scroll.setWidgetResizable(True)
    scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
    scroll.setMinimumWidth(min_width)
    return scroll
