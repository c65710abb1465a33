"""The Inference panel's questions to the user (attributes of the panel, so tests can answer them)."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtWidgets import QFileDialog, QMessageBox, QWidget


def ask_image_files(parent: QWidget) -> list[str]:
    files, _ = QFileDialog.getOpenFileNames(parent, "Images to predict", str(Path.home()))
    return files


def ask_save_path(parent: QWidget) -> str:
    path, _ = QFileDialog.getSaveFileName(parent, "Export predictions", str(Path.home() / "predictions.csv"),
                                          "CSV (*.csv);;JSON (*.json)")
    return path


def ask_folder(parent: QWidget, title: str) -> str:
    return QFileDialog.getExistingDirectory(parent, title, str(Path.home()))


def confirm(parent: QWidget, text: str) -> bool:
    answer = QMessageBox.question(parent, "imgcls", text, QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No,
                                  QMessageBox.StandardButton.No)
    return answer == QMessageBox.StandardButton.Yes
