"""Where the backbone's starting weights come from: torchvision's ImageNet weights, a local file, a model
trained earlier in any imgcls project, or none (random).

ImageNet weights download with a progress bar when online; offline, the engine's message (which
file is missing and what to do) is shown in a dialog. A chosen file is checked at once by building
the model with it in a worker, so a file that does not fit is reported before a run starts.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import qtawesome as qta
from PySide6.QtCore import Signal, Slot
from PySide6.QtWidgets import (
    QButtonGroup,
    QGridLayout,
    QLabel,
    QLineEdit,
    QProgressBar,
    QPushButton,
    QRadioButton,
    QWidget,
)

from ...engine import ModelConfig
from .. import errors as gui_errors
from ..common.weights import ask_weights_path, prepare_weights_task, show_download_progress
from ..worker import Worker, run_task

SOURCES = (("imagenet", "ImageNet (torchvision pretrained)"), ("none", "None (random initialisation)"),
           ("file", "Local weights file…"), ("run", "Model trained in an imgcls project…"))


def source_of(weights: str) -> str:
    if weights in ("imagenet", "none"):
        return weights
    return "run" if Path(weights).name in ("best.pt", "last.pt") else "file"


class WeightsBox(QWidget):
    """``weightsChosen(value)``: the new ``ModelConfig.weights`` ("imagenet", "none" or a path)."""

    weightsChosen = Signal(str)
    cacheChanged = Signal()  # weights were downloaded: the backbone table should look again

    def __init__(self, model_config: Callable[[], ModelConfig], num_classes: Callable[[], int],
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._model_config = model_config
        self._num_classes = num_classes
        self.ask_path = ask_weights_path  # (parent, kind) -> path; tests answer it
        self.weights = "imagenet"
        self.cached: dict[str, str] | None = None
        self.worker: Worker | None = None
        self._outcome: tuple[str, str] | None = None  # (weights, what checking them said): shown until they change
        self.buttons = QButtonGroup(self)
        grid = QGridLayout(self)
        for row, (key, text) in enumerate(SOURCES):
            radio = QRadioButton(text)
            radio.setObjectName(f"weights_{key}")
            self.buttons.addButton(radio, row)
            grid.addWidget(radio, row, 0, 1, 2)
        self.buttons.idClicked.connect(self._source_clicked)
        self.path_edit = QLineEdit()
        self.path_edit.setReadOnly(True)
        self.path_edit.setPlaceholderText("no file chosen")
        self.prepare_button = QPushButton(qta.icon("mdi6.download"), "Download")
        self.prepare_button.setToolTip("Download the ImageNet weights now, or check the chosen file fits this backbone")
        self.prepare_button.clicked.connect(self.prepare)
        self.progress = QProgressBar()
        self.progress.setVisible(False)
        self.status = QLabel()
        self.status.setWordWrap(True)
        grid.addWidget(self.path_edit, len(SOURCES), 0)
        grid.addWidget(self.prepare_button, len(SOURCES), 1)
        grid.addWidget(self.progress, len(SOURCES) + 1, 0, 1, 2)
        grid.addWidget(self.status, len(SOURCES) + 2, 0, 1, 2)
        grid.setColumnStretch(0, 1)

    def set_weights(self, weights: str) -> None:
        """Show ``weights`` (from the config) without announcing it."""
        self.weights = weights
        keys = [key for key, _ in SOURCES]
        self.buttons.button(keys.index(source_of(weights))).setChecked(True)
        self.path_edit.setText("" if weights in ("imagenet", "none") else weights)
        self.update_status()

    def set_cached(self, cached: dict[str, str]) -> None:
        self.cached = dict(cached)
        self.update_status()

    def update_status(self) -> None:
        name = self._model_config().name
        imagenet = self.weights == "imagenet"
        busy = self.worker is not None
        if imagenet and self.cached is None:
            text = "Checking torchvision's cache…"
        elif imagenet and name in self.cached:
            text = f"ImageNet weights for {name} are cached: {self.cached[name]}"
        elif imagenet:
            text = f"ImageNet weights for {name} are not cached yet: they download when training starts, or now."
        elif self.weights == "none":
            text = "Random weights: training from scratch needs many more images and epochs."
        else:
            text = f"Backbone weights from {self.weights} (its classifier head is replaced)."
        if self._outcome is not None and self._outcome[0] == self.weights:
            text = self._outcome[1]
        if not busy:
            self.status.setText(text)
        self.prepare_button.setText("Download" if imagenet else "Check file")
        cached = imagenet and self.cached is not None and name in self.cached
        self.prepare_button.setEnabled(not busy and self.weights != "none" and not cached)

    @Slot(int)
    def _source_clicked(self, button_id: int) -> None:
        key = SOURCES[button_id][0]
        if key in ("imagenet", "none"):
            self.weightsChosen.emit(key)
            return
        path = self.ask_path(self, key)
        if not path:
            self.set_weights(self.weights)  # cancelled: the previous choice stays
            return
        self.weightsChosen.emit(path)
        self.prepare()

    @Slot()
    def prepare(self) -> None:
        """Build the model with the chosen weights in a worker: downloads or checks them."""
        if self.worker is not None or self.weights == "none":
            return
        self.progress.setVisible(self.weights == "imagenet")
        self.progress.setRange(0, 0)
        self.status.setText("Downloading ImageNet weights…" if self.weights == "imagenet" else "Checking the file…")
        self.worker = run_task(prepare_weights_task, self._model_config(), self._num_classes(), parent=self,
                               on_success=self._prepared, on_failure=self._failed, on_progress=self._progress)
        self.update_status()

    @Slot(int, int)
    def _progress(self, done: int, total: int) -> None:
        show_download_progress(self.progress, done, total)

    @Slot(object)
    def _prepared(self, message: str) -> None:
        self.worker = None
        self.progress.setVisible(False)
        self._outcome = (self.weights, message)
        self.update_status()
        if self.weights == "imagenet":
            self.cacheChanged.emit()  # downloaded: the backbone table looks at the cache again

    @Slot(str, str)
    def _failed(self, message: str, details: str) -> None:
        self.worker = None
        self.progress.setVisible(False)
        failed = self.weights
        if self.weights not in ("imagenet", "none"):
            self.weightsChosen.emit("none")  # a file that does not fit must not reach a training run
        self._outcome = (self.weights, f"<span style='color:#c92a2a'>{failed}: {message}</span>")
        self.update_status()
        gui_errors.show_error(self, message, details)
