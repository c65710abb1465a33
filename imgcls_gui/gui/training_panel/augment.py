"""Augmentation options with a live preview: a grid of project images as the training loop will see them.

The engine computes the preview (``augmentation_preview``: the training transform, back to 8-bit
pixels) in a worker, torch loading there, not on the UI thread; this widget only paints the tiles.
It is refreshed, debounced, whenever an option changes; a newer preview supersedes a running one.
It pauses while a run trains: torchvision's random transforms draw from torch's global generator,
which the training thread seeds for reproducible runs.
"""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import numpy as np
import qtawesome as qta
from PySide6.QtCore import Qt, QTimer, Signal, Slot
from PySide6.QtGui import QImage, QPixmap, QShowEvent
from PySide6.QtWidgets import QGridLayout, QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget

from ...engine import AugmentConfig, ImgclsError, Preprocessing, RunConfig, preprocessing_for
from ..background import import_torch
from ..worker import LatestTask, TaskState
from .fields import Field, FieldForm

PREVIEW_IMAGES = 4
VIEWS_PER_IMAGE = 2
TILE = 76
DEBOUNCE_MS = 400

AUGMENT_FIELDS = (
    Field("augment.random_resized_crop"),
    Field("augment.crop_scale_min", minimum=0.01, step=0.05, decimals=2),
    Field("augment.hflip"),
    Field("augment.vflip"),
    Field("augment.rotation_degrees", step=5.0, decimals=0, suffix="°", special="off"),
    Field("augment.color_jitter", step=0.05, decimals=2, special="off"),
    Field("augment.gaussian_blur", step=0.05, decimals=2, special="off"),
)


def preview_task(task: TaskState, paths: list[Path], pre: Preprocessing, aug: AugmentConfig, views: int,
                 seed: int) -> list[tuple[str, np.ndarray]]:
    """Worker task: the engine's augmentation preview tiles, (file name, H×W×3 uint8)."""
    import_torch()
    from ...engine import augmentation_preview

    tiles = augmentation_preview(paths, pre, aug, views, seed, should_stop=task.is_interruption_requested)
    task.raise_if_interrupted()  # a superseded preview ends here, its partial tiles unused
    return tiles


def tile_pixmap(pixels: np.ndarray, size: int = TILE, ratio: float = 1.0) -> QPixmap:
    """A preview tile ``size`` logical pixels wide, drawn with ``ratio`` device pixels each (HiDPI: sharp)."""
    height, width, _ = pixels.shape
    image = QImage(pixels.tobytes(), width, height, 3 * width, QImage.Format.Format_RGB888).copy()
    side = round(size * ratio)
    pixmap = QPixmap.fromImage(image).scaled(side, side, Qt.AspectRatioMode.KeepAspectRatio,
                                             Qt.TransformationMode.SmoothTransformation)
    pixmap.setDevicePixelRatio(ratio)
    return pixmap


class AugmentationSection(QWidget):
    """The augmentation options (``changed`` after each edit) and their preview grid."""

    changed = Signal()
    previewReady = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.form = FieldForm(AUGMENT_FIELDS)
        self.form.changed.connect(self._form_changed)
        self.paths: list[Path] = []
        self.config = RunConfig()
        self.training = False
        self._seed = 0
        self.preview = LatestTask(self)
        self.tiles: list[QLabel] = []
        self.message = QLabel("Open a project with labeled images to preview augmentation.")
        self.message.setWordWrap(True)
        self.shuffle_button = QPushButton(qta.icon("mdi6.dice-multiple-outline"), "Other samples")
        self.shuffle_button.setToolTip("Show other random images and augmentations")
        self.shuffle_button.clicked.connect(self.shuffle)
        grid_holder = QWidget()
        self.grid = QGridLayout(grid_holder)
        self.grid.setContentsMargins(0, 0, 0, 0)
        self.grid.setSpacing(4)
        for i in range(PREVIEW_IMAGES * VIEWS_PER_IMAGE):
            tile = QLabel()
            tile.setFixedSize(TILE, TILE)
            tile.setAlignment(Qt.AlignmentFlag.AlignCenter)
            tile.setStyleSheet("background: palette(base); border: 1px solid palette(mid);")
            self.grid.addWidget(tile, i // 4, i % 4)
            self.tiles.append(tile)
        header = QHBoxLayout()
        header.addWidget(QLabel("<b>Preview</b>"))
        header.addStretch(1)
        header.addWidget(self.shuffle_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.form)
        layout.addLayout(header)
        layout.addWidget(grid_holder)
        layout.addWidget(self.message)
        self._timer = QTimer(self, singleShot=True, interval=DEBOUNCE_MS)
        self._timer.timeout.connect(self.refresh)

    def set_config(self, config: RunConfig) -> None:
        changed = (config.augment, config.model) != (self.config.augment, self.config.model)
        self.config = config
        self.form.set_config(config)
        if changed:
            self.schedule()

    def apply(self, config: RunConfig) -> RunConfig:
        return self.form.apply(config)

    def set_images(self, paths: list[Path]) -> None:
        """The labeled project images to sample from."""
        self.paths = list(paths)
        self.schedule()

    def set_training(self, training: bool) -> None:
        self.training = training
        if training:
            self.preview.discard()  # stops drawing from torch's generator before the run seeds it
        else:
            self.schedule()

    @Slot()
    def shuffle(self) -> None:
        self._seed += 1
        self.refresh()

    @Slot()
    def schedule(self) -> None:
        if self.isVisible():
            self._timer.start()

    @Slot()
    def _form_changed(self) -> None:
        self.config = self.form.apply(self.config)
        self.changed.emit()
        self.schedule()

    def showEvent(self, event: QShowEvent) -> None:  # noqa: N802 - Qt API
        super().showEvent(event)
        self.schedule()

    @Slot()
    def refresh(self) -> None:
        """Start a preview now, superseding one still running."""
        if self.training:
            self.message.setText("Preview paused while training.")
            return
        if not self.paths:
            self.message.setText("Open a project with labeled images to preview augmentation.")
            self._show_tiles([])
            return
        try:
            pre = preprocessing_for(self.config.model)
        except ImgclsError as exc:
            self.message.setText(str(exc))
            return
        chosen = random.Random(self._seed).sample(self.paths, min(PREVIEW_IMAGES, len(self.paths)))
        self.message.setText(f"Training crops at {pre.image_size} px, shown at {TILE} px.")
        self.preview.start(preview_task, chosen, pre, self.config.augment, VIEWS_PER_IMAGE, self._seed,
                           on_success=self._preview_done, on_failure=self._preview_failed)

    @Slot(object)
    def _preview_done(self, tiles: Any) -> None:
        self._show_tiles(tiles)
        self.previewReady.emit()

    @Slot(str, str)
    def _preview_failed(self, message: str, details: str) -> None:
        self.message.setText(message)

    def _show_tiles(self, tiles: list[tuple[str, np.ndarray]]) -> None:
        for i, label in enumerate(self.tiles):
            if i < len(tiles):
                name, pixels = tiles[i]
                label.setPixmap(tile_pixmap(pixels, ratio=label.devicePixelRatioF()))
                label.setToolTip(name)
            else:
                label.clear()
                label.setToolTip("")

    def shown_tiles(self) -> int:
        return sum(1 for label in self.tiles if not label.pixmap().isNull())
