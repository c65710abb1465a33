"""The class list: colours, key numbers and counts; create, rename, recolour, delete (all undoable)."""

from __future__ import annotations

import qtawesome as qta
from PySide6.QtCore import QSize, Qt, Signal, Slot
from PySide6.QtGui import QColor, QIcon, QPainter, QPixmap
from PySide6.QtWidgets import (
    QColorDialog,
    QHBoxLayout,
    QInputDialog,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from ...engine import ImgclsError
from ..common.natural_sort import natural_key
from ..common.undo import AddClassCommand, DeleteClassCommand, RecolourClassCommand, RenameClassCommand, push
from ..errors import describe_exception, show_error
from ..state import AppState
from .delegate import text_colour_on

NAME_ROLE = Qt.ItemDataRole.UserRole + 1
KEY_ROLE = Qt.ItemDataRole.UserRole + 2  # the digit key (1-9) that applies the class, or None


def swatch(colour: str, key: int | None, size: int = 20) -> QIcon:
    """The class colour with its key number (1-9) written on it."""
    pixmap = QPixmap(size, size)
    pixmap.fill(Qt.GlobalColor.transparent)
    painter = QPainter(pixmap)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    background = QColor(colour)
    painter.setBrush(background)
    painter.setPen(background.darker(140))
    painter.drawRoundedRect(1, 1, size - 2, size - 2, 4, 4)
    if key is not None:
        font = painter.font()
        font.setBold(True)
        font.setPixelSize(int(size * 0.65))
        painter.setFont(font)
        painter.setPen(text_colour_on(background))
        painter.drawText(pixmap.rect(), Qt.AlignmentFlag.AlignCenter, str(key))
    painter.end()
    return QIcon(pixmap)


class ClassListWidget(QWidget):
    applyRequested = Signal(str)  # give the selected images this class (double-click or the tag button)

    def __init__(self, state: AppState, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.state = state
        self.title = QLabel("<b>Classes</b>")
        self.hint = QLabel()
        self.hint.setWordWrap(True)
        self.hint.setStyleSheet("color: palette(mid)")
        self.list = QListWidget()
        self.list.setObjectName("classList")
        self.list.setIconSize(QSize(20, 20))
        self.list.setSpacing(1)
        self.list.itemDoubleClicked.connect(self._apply_item)
        buttons = QHBoxLayout()
        self.buttons: dict[str, QToolButton] = {}
        for key, icon, text, tip, slot in (
            ("apply", "mdi6.tag-outline", "Apply", "Apply this class to the selected images (or press its number)",
             self._apply_current),
            ("add", "mdi6.tag-plus-outline", "New", "New class…", self.ask_add),
            ("rename", "mdi6.rename-box", "Rename", "Rename class…", self.ask_rename),
            ("colour", "mdi6.palette-outline", "Colour", "Change colour…", self.ask_recolour),
            ("delete", "mdi6.tag-remove-outline", "Delete", "Delete class (its images become unlabeled; undo restores)",
             self.delete_current),
        ):
            button = QToolButton()
            button.setIcon(qta.icon(icon))
            button.setText(text)  # words under the icons: a newcomer need not hover to learn what each does
            button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextUnderIcon)
            button.setToolTip(tip)
            button.setAutoRaise(True)
            button.clicked.connect(slot)
            buttons.addWidget(button)
            self.buttons[key] = button
        buttons.addStretch(1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.addWidget(self.title)
        layout.addWidget(self.list, 1)
        layout.addLayout(buttons)
        layout.addWidget(self.hint)
        state.projectChanged.connect(self._project_changed)
        state.labelsChanged.connect(self._labels_changed)
        state.classesChanged.connect(self.refresh)
        state.imagesChanged.connect(self.refresh)
        self.refresh()

    @Slot(object)
    def _project_changed(self, project: object) -> None:
        self.refresh()

    @Slot(list)
    def _labels_changed(self, image_ids: list) -> None:
        self.refresh()

    @Slot()
    def refresh(self) -> None:
        project = self.state.project
        current = self.current_name()
        self.list.clear()
        if project is None:
            self.hint.setText("")
            self._enable(False)
            return
        counts = project.class_image_counts()
        # Natural order (c2 before c10), the same order label_with_class_number gives keys 1-9 in.
        for number, info in enumerate(sorted(project.classes(), key=lambda c: natural_key(c.name)), start=1):
            key = number if number <= 9 else None
            item = QListWidgetItem(swatch(info.colour, key), f"{info.name}  ({counts.get(info.name, 0)})")
            item.setData(NAME_ROLE, info.name)
            item.setData(KEY_ROLE, key)
            item.setToolTip(f"Key {key} applies '{info.name}'" if key else "Double-click to apply")
            self.list.addItem(item)
            if info.name == current:
                self.list.setCurrentItem(item)
        unlabeled = project.unlabeled_count()
        keys = "toggle tags" if project.task == "multilabel" else "label the selection and move on"
        self.hint.setText(f"{unlabeled} unlabeled. Keys 1–9 {keys}; Delete removes from the project.")
        self._enable(self.state.writable)

    def current_name(self) -> str | None:
        item = self.list.currentItem()
        return item.data(NAME_ROLE) if item else None

    # -- actions (the ask_* slots open dialogs, the plain methods do the work and are testable) ----

    def add_class(self, name: str, colour: str | None = None) -> bool:
        return self._push(AddClassCommand(self.state, name, colour))

    def rename_class(self, old: str, new: str) -> bool:
        return self._push(RenameClassCommand(self.state, old, new))

    def recolour_class(self, name: str, colour: str) -> bool:
        return self._push(RecolourClassCommand(self.state, name, colour))

    def delete_class(self, name: str) -> bool:
        if self._push(DeleteClassCommand(self.state, name)):
            self.state.show_status(f"Deleted class '{name}'. Edit ▸ Undo brings it back with its labels.")
            return True
        return False

    @Slot()
    def ask_add(self) -> None:
        name, ok = QInputDialog.getText(self, "New class", "Class name:")
        if ok and name.strip():
            self.add_class(name)

    @Slot()
    def ask_rename(self) -> None:
        old = self.current_name()
        if old is None:
            return
        new, ok = QInputDialog.getText(self, "Rename class", f"New name for '{old}':", text=old)
        if ok and new.strip() and new.strip() != old:
            self.rename_class(old, new)

    @Slot()
    def ask_recolour(self) -> None:
        name = self.current_name()
        if name is None:
            return
        old = next(c.colour for c in self.state.project.classes() if c.name == name)
        colour = QColorDialog.getColor(QColor(old), self, f"Colour of '{name}'")
        if colour.isValid():
            self.recolour_class(name, colour.name())

    @Slot()
    def delete_current(self) -> None:
        name = self.current_name()
        if name is not None:
            self.delete_class(name)

    @Slot()
    def _apply_current(self) -> None:
        name = self.current_name()
        if name is not None:
            self.applyRequested.emit(name)

    @Slot(QListWidgetItem)
    def _apply_item(self, item: QListWidgetItem) -> None:
        self.applyRequested.emit(item.data(NAME_ROLE))

    def _push(self, command) -> bool:
        try:
            push(self.state, command)
        except ImgclsError as exc:
            show_error(self, *describe_exception(exc))
            return False
        return True

    def _enable(self, writable: bool) -> None:
        for button in self.buttons.values():
            button.setEnabled(writable)
