"""The Inference panel's questions to the user (attributes of the panel, so tests can answer them)."""

from __future__ import annotations

import html
from pathlib import Path

from PySide6.QtCore import Slot
from PySide6.QtWidgets import (
    QDialog, QDialogButtonBox, QFileDialog, QHBoxLayout, QLabel, QLineEdit, QPushButton, QVBoxLayout,
    QWidget,
)


def ask_image_files(parent: QWidget) -> list[str]:
    files, _ = QFileDialog.getOpenFileNames(parent, "Images to predict", str(Path.home()))
    return files


def ask_save_path(parent: QWidget) -> str:
    path, _ = QFileDialog.getSaveFileName(parent, "Export predictions", str(Path.home() / "predictions.csv"),
                                          "CSV (*.csv);;JSON (*.json)")
    return path


def ask_folder(parent: QWidget, title: str) -> str:
    return QFileDialog.getExistingDirectory(parent, title, str(Path.home()))


class SortDialog(QDialog):
    """Where to sort the images, said in full before anything is copied: the destination (a folder that
    does not exist yet is created), how many images, copy or move."""

    def __init__(self, count: int, move: bool, start: Path, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.count, self.move = count, move
        self.setWindowTitle("Sort into folders")
        self.setObjectName("sortDialog")
        self.destination_edit = QLineEdit(str(start))
        self.destination_edit.setObjectName("sortDestination")
        self.destination_edit.textChanged.connect(self._update)
        browse = QPushButton("Browse…")
        browse.clicked.connect(self._browse)
        self.summary = QLabel()
        self.summary.setWordWrap(True)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        self.ok_button = self.buttons.button(QDialogButtonBox.StandardButton.Ok)
        self.ok_button.setText(f"{'Move' if move else 'Copy'} {count} image(s)")
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        row = QHBoxLayout()
        row.addWidget(self.destination_edit, 1)
        row.addWidget(browse)
        layout = QVBoxLayout(self)
        layout.addWidget(QLabel("Destination folder (one subfolder per class is made inside it):"))
        layout.addLayout(row)
        layout.addWidget(self.summary)
        layout.addWidget(self.buttons)
        self.resize(560, 180)
        self._update()

    def destination(self) -> Path | None:
        text = self.destination_edit.text().strip()
        return Path(text).expanduser().absolute() if text else None

    @Slot()
    def _browse(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Folder to sort into (or its parent)", self.destination_edit.text())
        if folder:
            self.destination_edit.setText(folder)

    @Slot()
    def _update(self) -> None:
        dest = self.destination()
        self.ok_button.setEnabled(dest is not None and not (dest.exists() and not dest.is_dir()))
        if dest is None:
            self.summary.setText("Type or browse to a folder.")
            return
        verb = "Move" if self.move else "Copy"
        state = ("it exists; class folders are added to it" if dest.is_dir()
                 else "this is a file, not a folder" if dest.exists() else "a new folder, created now")
        extra = " Their current folders lose them." if self.move else ""
        self.summary.setText(f"{verb} {self.count} image(s) into class folders inside <b>{html.escape(str(dest))}</b> "
                             f"({state}).{extra}")
