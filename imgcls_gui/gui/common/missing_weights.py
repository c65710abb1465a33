"""Asked when Start finds the chosen ImageNet weights missing from torchvision's cache: names the missing
file and offers the choices that work — download now (online), a backbone whose weights are cached,
a local weights file, or training from scratch — before any run folder exists.

The dialog only decides: ``chosen_model(model)`` is the model config to write into the draft run
config. "Download now" downloads inside the dialog (the weights box's worker task, with progress)
and accepts only once the file is there, so an offline machine sees the failure here, not in a run.
"""

from __future__ import annotations

import dataclasses

from PySide6.QtCore import Slot
from PySide6.QtWidgets import (
    QButtonGroup,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QGridLayout,
    QLabel,
    QLineEdit,
    QProgressBar,
    QPushButton,
    QRadioButton,
    QVBoxLayout,
    QWidget,
)

from ...engine import ModelConfig
from ..worker import Worker, run_task
from .weights import ask_weights_path, prepare_weights_task, show_download_progress

CHOICES = ("download", "cached", "file", "none")


class MissingWeightsDialog(QDialog):
    def __init__(self, model: ModelConfig, missing_file: str, cached: dict[str, str], num_classes: int,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("missing_weights_dialog")
        self.setWindowTitle("ImageNet weights are not available")
        self.model = model
        self.cached = dict(cached)
        self.num_classes = num_classes
        self.ask_path = ask_weights_path  # (parent, kind) -> path; tests answer it
        self.worker: Worker | None = None
        intro = QLabel(
            f"The ImageNet weights for <b>{model.name}</b> are not in torchvision's cache:<br>"
            f"<code>{missing_file}</code> is missing.<br>Choose how this run starts:")
        intro.setWordWrap(True)
        intro.setObjectName("missing_weights_intro")
        self.buttons = QButtonGroup(self)
        grid = QGridLayout()
        texts = {"download": "Download them now (needs an internet connection)",
                 "cached": "Use a backbone whose ImageNet weights are cached:",
                 "file": "Use a local weights file:",
                 "none": "Train from scratch (None: random weights; needs more images and epochs)"}
        self.radios: dict[str, QRadioButton] = {}
        for row, key in enumerate(CHOICES):
            radio = QRadioButton(texts[key])
            radio.setObjectName(f"missing_{key}")
            self.radios[key] = radio
            self.buttons.addButton(radio, row)
            grid.addWidget(radio, row, 0)
        self.backbone_combo = QComboBox()
        self.backbone_combo.addItems(sorted(self.cached))
        self.backbone_combo.setToolTip("Backbones whose ImageNet weights are already on this machine")
        if not self.cached:
            self.backbone_combo.addItem("(none cached)")
            self.backbone_combo.setEnabled(False)
            self.radios["cached"].setEnabled(False)
        grid.addWidget(self.backbone_combo, 1, 1)
        file_row = QWidget()
        file_layout = QGridLayout(file_row)
        file_layout.setContentsMargins(0, 0, 0, 0)
        self.path_edit = QLineEdit()
        self.path_edit.setReadOnly(True)
        self.path_edit.setPlaceholderText("no file chosen")
        self.browse_button = QPushButton("Browse…")
        self.browse_button.clicked.connect(self.browse)
        file_layout.addWidget(self.path_edit, 0, 0)
        file_layout.addWidget(self.browse_button, 0, 1)
        grid.addWidget(file_row, 2, 1)
        grid.setColumnStretch(1, 1)
        self.progress = QProgressBar()
        self.progress.setVisible(False)
        self.status = QLabel()
        self.status.setWordWrap(True)
        self.box = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        self.start_button = self.box.button(QDialogButtonBox.StandardButton.Ok)
        self.start_button.setText("Start training")
        self.cancel_button = self.box.button(QDialogButtonBox.StandardButton.Cancel)
        self.box.accepted.connect(self.confirm)
        self.box.rejected.connect(self.reject)
        self.buttons.idClicked.connect(self._choice_changed)
        layout = QVBoxLayout(self)
        layout.addWidget(intro)
        layout.addLayout(grid)
        layout.addWidget(self.progress)
        layout.addWidget(self.status)
        layout.addWidget(self.box)
        self.radios["cached" if self.cached else "none"].setChecked(True)
        self._choice_changed()

    @property
    def choice(self) -> str:
        return CHOICES[self.buttons.checkedId()]

    def choose(self, key: str) -> None:
        self.radios[key].setChecked(True)
        self._choice_changed()

    def chosen_model(self, model: ModelConfig) -> ModelConfig:
        """``model`` with the chosen weights (or the chosen cached backbone)."""
        if self.choice == "cached":
            return dataclasses.replace(model, name=self.backbone_combo.currentText(), weights="imagenet")
        if self.choice == "file":
            return dataclasses.replace(model, weights=self.path_edit.text())
        if self.choice == "none":
            return dataclasses.replace(model, weights="none")
        return model  # downloaded: the ImageNet weights are cached now

    @Slot()
    @Slot(int)
    def _choice_changed(self, button_id: int = -1) -> None:
        busy = self.worker is not None
        choice = self.choice
        self.start_button.setEnabled(not busy and (choice != "file" or bool(self.path_edit.text())))
        self.start_button.setText("Download and start" if choice == "download" else "Start training")
        self.backbone_combo.setEnabled(bool(self.cached) and not busy)
        self.browse_button.setEnabled(not busy)
        for radio in self.radios.values():
            radio.setEnabled(not busy and (radio is not self.radios["cached"] or bool(self.cached)))

    @Slot()
    def browse(self) -> None:
        path = self.ask_path(self, "file")
        if path:
            self.path_edit.setText(path)
            self.choose("file")

    @Slot()
    def confirm(self) -> None:
        if self.choice != "download":
            self.accept()
            return
        self.progress.setVisible(True)
        self.progress.setRange(0, 0)
        self.status.setText("Downloading ImageNet weights…")
        self.worker = run_task(prepare_weights_task, self.model, self.num_classes, parent=self,
                               on_success=self._downloaded, on_failure=self._download_failed,
                               on_progress=self._progress)
        self._choice_changed()

    @Slot(int, int)
    def _progress(self, done: int, total: int) -> None:
        show_download_progress(self.progress, done, total)

    @Slot(object)
    def _downloaded(self, message: str) -> None:
        worker, self.worker = self.worker, None
        if worker is not None:
            worker.wait()  # run() has returned: let its thread end before the dialog (its parent) is deleted
        self.progress.setVisible(False)
        self.status.setText(message)
        self.accept()

    @Slot(str, str)
    def _download_failed(self, message: str, details: str) -> None:
        self.worker = None
        self.progress.setVisible(False)
        self.status.setText(f"<span style='color:#c92a2a'>Download failed: {message}</span><br>"
                            "Choose another way to start.")
        self._choice_changed()

    def reject(self) -> None:
        if self.worker is None:  # a download in flight finishes first (it cannot be interrupted mid-file)
            super().reject()
