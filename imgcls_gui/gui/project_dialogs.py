"""Dialogs about whole projects: create one, see which images went missing, about the app."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QMessageBox,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from .. import __version__
from ..engine import PROJECT_FILE, ImageRecord

TASKS = (("Single label (one class per image)", "multiclass"), ("Multi-label (any number of tags per image)", "multilabel"))


class NewProjectDialog(QDialog):
    """Folder, name and task of a new project; the folder may exist but must not hold a project."""

    def __init__(self, parent: QWidget | None = None, start_folder: Path | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("New project")
        self.folder_edit = QLineEdit(str(start_folder or Path.home() / "imgcls-project"))
        browse = QPushButton("Browse…")
        browse.clicked.connect(self._browse)
        folder_row = QHBoxLayout()
        folder_row.addWidget(self.folder_edit, 1)
        folder_row.addWidget(browse)
        self.name_edit = QLineEdit()
        self.name_edit.setPlaceholderText("defaults to the folder name")
        self.task_combo = QComboBox()
        for text, task in TASKS:
            self.task_combo.addItem(text, task)
        self.message = QLabel()
        self.message.setStyleSheet("color: #b00020")
        form = QFormLayout()
        form.addRow("Folder:", folder_row)
        form.addRow("Name:", self.name_edit)
        form.addRow("Labels:", self.task_combo)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.message)
        layout.addWidget(self.buttons)
        self.folder_edit.textChanged.connect(self._validate)
        self._validate()
        self.resize(560, self.sizeHint().height())

    @property
    def folder(self) -> Path:
        return Path(self.folder_edit.text().strip()).expanduser()

    @property
    def project_name(self) -> str:
        return self.name_edit.text().strip() or self.folder.name

    @property
    def task(self) -> str:
        return self.task_combo.currentData()

    def _browse(self) -> None:
        chosen = QFileDialog.getExistingDirectory(self, "Folder for the new project", str(self.folder.parent))
        if chosen:
            self.folder_edit.setText(chosen)

    def _validate(self) -> None:
        text = self.folder_edit.text().strip()
        problem = ""
        if not text:
            problem = "Choose a folder for the project."
        elif (self.folder / PROJECT_FILE).exists():
            problem = "This folder already holds a project: use File ▸ Open Project."
        elif self.folder.exists() and not self.folder.is_dir():
            problem = "This is a file, not a folder."
        self.message.setText(problem)
        self.buttons.button(QDialogButtonBox.StandardButton.Ok).setEnabled(not problem)


class MissingImagesDialog(QDialog):
    """Lists images whose files moved or vanished; the user may drop them from the project."""

    removeRequested = Signal(list)  # image ids

    def __init__(self, records: Sequence[ImageRecord], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Missing images")
        self.setObjectName("missingImagesDialog")
        self._ids = [r.id for r in records]
        text = QLabel(
            f"{len(records)} image file(s) of this project moved or were deleted since they were imported. "
            "They stay in the project (with their labels) until you remove them; training skips them."
        )
        text.setWordWrap(True)
        self.list = QListWidget()
        self.list.addItems([str(r.file) for r in records[:5000]])
        buttons = QDialogButtonBox()
        remove = buttons.addButton("Remove them from the project", QDialogButtonBox.ButtonRole.DestructiveRole)
        buttons.addButton("Keep", QDialogButtonBox.ButtonRole.RejectRole)
        remove.clicked.connect(self._remove)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(text)
        layout.addWidget(self.list)
        layout.addWidget(buttons)
        self.resize(640, 400)

    def _remove(self) -> None:
        self.removeRequested.emit(self._ids)
        self.accept()


def show_about(parent: QWidget | None) -> None:
    QMessageBox.about(
        parent,
        "About imgcls",
        f"<h3>imgcls {__version__}</h3>"
        "<p>Turn a folder of photos into an image classifier by transfer learning: label, split, "
        "check, train, evaluate, export to ONNX and run offline.</p>"
        "<p>Export a trained model with <b>File ▸ Export Model…</b> (or <b>Export…</b> in the Training "
        "panel's Runs and Results tabs); each file is checked against PyTorch before it is written.</p>"
        "<p>Every change is saved the moment it is made, in the project folder's "
        f"<code>{PROJECT_FILE}</code>.</p>",
    )


def ask_open_read_only(parent: QWidget | None, message: str) -> bool:
    answer = QMessageBox.question(
        parent, "Project in use", f"{message}\n\nOpen it read-only?",
        QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No, QMessageBox.StandardButton.Yes,
    )
    return answer == QMessageBox.StandardButton.Yes


def elide_middle(text: str, limit: int = 60) -> str:
    return text if len(text) <= limit else text[: limit // 2 - 1] + "…" + text[-(limit // 2) + 1:]


__all__ = ["MissingImagesDialog", "NewProjectDialog", "ask_open_read_only", "elide_middle", "show_about"]
