"""The bar above the grid: what to show (all, unlabeled, a class, a split, problems) and a name search."""

from __future__ import annotations

import qtawesome as qta
from PySide6.QtCore import Qt, Signal, Slot
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QLineEdit, QToolButton, QWidget

from .model import ImageFilter

SPLIT_TITLES = (("train", "train"), ("val", "validation"), ("test", "test"), ("none", "not assigned"))


class FilterBar(QWidget):
    filterChanged = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.combo = QComboBox()
        self.combo.setObjectName("filterCombo")
        self.combo.setToolTip("Which images to show")
        self.combo.setMinimumContentsLength(10)
        self.combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.search = QLineEdit()
        self.search.setObjectName("searchBox")
        self.search.setPlaceholderText("Search file names…")
        self.search.setClearButtonEnabled(True)
        self.search.setMinimumWidth(90)
        self.search.addAction(qta.icon("mdi6.magnify"), QLineEdit.ActionPosition.LeadingPosition)
        self.shown_label = QLabel()
        self.shown_label.setMinimumWidth(10)  # may be squeezed before the search box is
        self.split_button = QToolButton()
        self.split_button.setText("Split…")
        self.split_button.setIcon(qta.icon("mdi6.call-split"))
        self.split_button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        self.split_button.setToolTip("Stratified, seeded train/validation/test split")
        layout = QHBoxLayout(self)
        layout.setContentsMargins(6, 4, 6, 0)
        layout.addWidget(self.combo)
        layout.addWidget(self.search, 1)
        layout.addWidget(self.shown_label)
        layout.addWidget(self.split_button)
        self.combo.activated.connect(self._activated)
        self.search.textChanged.connect(self._edited)
        self.set_classes([])

    def set_classes(self, names: list[str]) -> None:
        """Rebuild the choices, keeping the current one when it still exists."""
        current = self.combo.currentData()
        self.combo.clear()
        # Item data are "kind:value" strings: Qt would turn tuples into lists and findData would miss them.
        entries = [("All images", "all:"), ("Unlabeled", "unlabeled:")]
        entries += [(f"Class: {name}", f"class:{name}") for name in names]
        entries += [(f"Split: {title}", f"split:{key}") for key, title in SPLIT_TITLES]
        entries += [("Health problems", "problems:"), ("Missing files", "missing:")]
        for text, data in entries:
            self.combo.addItem(text, data)
        self.combo.setCurrentIndex(max(self.combo.findData(current), 0))

    def choice(self) -> tuple[str, str]:
        kind, _, value = (self.combo.currentData() or "all:").partition(":")
        return kind, value

    def kind(self) -> str:
        return self.choice()[0]

    def reset(self) -> None:
        """Show everything, without announcing it (the caller sets the model's filter itself)."""
        self.search.blockSignals(True)
        self.search.clear()
        self.search.blockSignals(False)
        self.combo.setCurrentIndex(0)

    def current_filter(self, flagged_ids: frozenset[int], missing_ids: frozenset[int]) -> ImageFilter:
        kind, value = self.choice()
        text = self.search.text().strip()
        if kind == "unlabeled":
            return ImageFilter(unlabeled=True, text=text)
        if kind == "class":
            return ImageFilter(class_name=value, text=text)
        if kind == "split":
            return ImageFilter(split=value, text=text)
        if kind == "problems":
            return ImageFilter(image_ids=flagged_ids, text=text)
        if kind == "missing":
            return ImageFilter(image_ids=missing_ids, text=text)
        return ImageFilter(text=text)

    def show_counts(self, shown: int, total: int) -> None:
        self.shown_label.setText(f"{shown:,} of {total:,}" if shown != total else f"{total:,} images")

    @Slot(int)
    def _activated(self, index: int) -> None:
        self.filterChanged.emit()

    @Slot(str)
    def _edited(self, text: str) -> None:
        self.filterChanged.emit()
