"""The Dataset panel's Capture view: a camera's live picture (or a video file standing in for one);
holding the Capture button or the space bar takes a burst of frames into the chosen class.

Frames are taken from the newest picture at the burst's rate (never queued), written as JPEG files
into ``<project>/images/<class>/`` by a worker, then added through one undoable command, like an
import that Ctrl+Z takes back. The camera runs only while the view is shown.
"""

from __future__ import annotations

from pathlib import Path

import qtawesome as qta
from PySide6.QtCore import Qt, QTimer, Slot
from PySide6.QtGui import QKeyEvent, QPixmap
from PySide6.QtWidgets import (
    QComboBox, QDoubleSpinBox, QFileDialog, QFormLayout, QHBoxLayout, QLabel, QPushButton, QSizePolicy, QSpinBox,
    QVBoxLayout, QWidget,
)

from ...engine import capture_folder, captured_dataset, save_frames
from ..common.frames import FrameSource, SourcePicker
from ..common.natural_sort import natural_sorted
from ..common.undo import AddImagesCommand, push
from ..errors import show_error
from ..state import AppState, ImportRequest
from ..worker import LatestTask, TaskState

def save_burst_task(task: TaskState, frames: list, folder: Path) -> list[Path]:
    """Worker: the burst's frames as JPEG files."""
    return save_frames(frames, folder)


class CaptureView(QWidget):
    def __init__(self, state: AppState, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.state = state
        self.ask_folder = lambda parent: QFileDialog.getExistingDirectory(parent, "Import a folder")
        self.source = FrameSource(self)
        self.source.frameReady.connect(self._show_frame)
        self.source.failed.connect(self._source_failed)
        self.burst: list = []
        self._burst_class = ""
        self.saving = LatestTask(self)
        self.timer = QTimer(self)
        self.timer.timeout.connect(self._take_frame)
        self._build()
        state.projectChanged.connect(self._refresh_classes)
        state.classesChanged.connect(self._refresh_classes)
        self._refresh_classes()

    def _build(self) -> None:
        self.picker = SourcePicker(self.source)
        self.source.frameReady.connect(self._hide_import)
        self.preview = QLabel()
        self.preview.setObjectName("capturePreview")
        self.preview.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.preview.setMinimumSize(240, 180)
        self.preview.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Ignored)  # frames never resize it
        self.preview.setWordWrap(True)
        self.import_button = QPushButton(qta.icon("mdi6.folder-image"), "Import a folder instead…")
        self.import_button.clicked.connect(self._import_folder)
        self.class_combo = QComboBox()
        self.class_combo.setObjectName("captureClass")
        self.count = QSpinBox()
        self.count.setRange(1, 500)
        self.count.setValue(10)
        self.count.setToolTip("Frames one burst takes at most (releasing the button ends it sooner)")
        self.rate = QDoubleSpinBox()
        self.rate.setRange(0.5, 30.0)
        self.rate.setValue(5.0)
        self.rate.setSuffix(" frames/s")
        self.capture_button = QPushButton(qta.icon("mdi6.camera-burst"), "Hold to capture")
        self.capture_button.setObjectName("captureButton")
        self.capture_button.setToolTip("Hold this button (or the space bar) to capture a burst into the class")
        self.capture_button.pressed.connect(self.start_burst)
        self.capture_button.released.connect(self.end_burst)
        self.status = QLabel()
        self.status.setObjectName("captureStatus")
        self.status.setWordWrap(True)
        form = QFormLayout()
        form.addRow("Class:", self.class_combo)
        burst = QHBoxLayout()
        burst.addWidget(self.count)
        burst.addWidget(QLabel("at"))
        burst.addWidget(self.rate)
        form.addRow("Burst:", burst)
        layout = QVBoxLayout(self)
        layout.addWidget(self.picker)
        layout.addWidget(self.preview, 1)
        layout.addWidget(self.import_button)
        layout.addLayout(form)
        layout.addWidget(self.capture_button)
        layout.addWidget(self.status)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)

    # -- sources ------------------------------------------------------------------------------

    def list_sources(self) -> None:
        problem = self.picker.list_sources()
        if problem:
            self.preview.setText(problem + ", or import photos (File ▸ Import, or drop them on the grid).")
        self.import_button.setVisible(not self.picker.has_source())

    def use_video(self, path: Path) -> None:
        self.picker.use_video(path)

    @Slot()
    def _hide_import(self) -> None:
        self.import_button.setVisible(False)

    @Slot()
    def _show_frame(self) -> None:
        image = self.source.latest_image()
        if image is not None and self.isVisible():
            pixmap = QPixmap.fromImage(image).scaled(self.preview.size(), Qt.AspectRatioMode.KeepAspectRatio,
                                                     Qt.TransformationMode.SmoothTransformation)
            self.preview.setPixmap(pixmap)
        self._update_buttons()

    @Slot(str)
    def _source_failed(self, message: str) -> None:
        self.source.close()
        self.preview.setText(message)
        self._update_buttons()

    def showEvent(self, event) -> None:  # noqa: N802 - Qt API: the camera runs only while shown
        super().showEvent(event)
        self.list_sources()
        if not self.source.active:
            self.picker.open_current()

    def hideEvent(self, event) -> None:  # noqa: N802 - Qt API
        self.end_burst()
        self.source.close()
        super().hideEvent(event)

    # -- classes ------------------------------------------------------------------------------

    @Slot()
    def _refresh_classes(self, *_: object) -> None:
        project = self.state.project
        current = self.class_combo.currentText()
        self.class_combo.clear()
        names = natural_sorted(project.class_names()) if project is not None and not project.closed else []
        self.class_combo.addItems(names)
        if current in names:
            self.class_combo.setCurrentText(current)
        self._update_buttons()

    def _update_buttons(self) -> None:
        ready = (self.state.writable and self.class_combo.count() > 0 and self.source.latest_image() is not None
                 and not self.saving.busy)
        self.capture_button.setEnabled(ready or self.timer.isActive())
        if not self.state.writable:
            self.capture_button.setToolTip("Open a project (not read-only) to capture into it")
        elif self.class_combo.count() == 0:
            self.capture_button.setToolTip("Add a class first (the list on the left): frames go into a class")

    # -- bursts -------------------------------------------------------------------------------

    @Slot()
    def start_burst(self) -> None:
        if self.timer.isActive() or self.saving.busy or not self.class_combo.currentText() or not self.state.writable:
            return
        self.burst, self._burst_class = [], self.class_combo.currentText()
        self.timer.start(max(1, int(1000 / self.rate.value())))
        self._take_frame()

    @Slot()
    def _take_frame(self) -> None:
        pixels = self.source.latest_pixels()
        if pixels is not None:
            self.burst.append(pixels)
            self.status.setText(f"Capturing into '{self._burst_class}': {len(self.burst)} of {self.count.value()}…")
        if len(self.burst) >= self.count.value():
            self.end_burst()

    @Slot()
    def end_burst(self) -> None:
        if not self.timer.isActive():
            return
        self.timer.stop()
        frames, self.burst = self.burst, []
        project = self.state.project
        if not frames or project is None:
            return
        self.status.setText(f"Saving {len(frames)} frame(s)…")
        self.saving.start(save_burst_task, frames, capture_folder(project.folder, self._burst_class),
                          on_success=self._saved, on_failure=self._save_failed)
        self._update_buttons()

    @Slot(object)
    def _saved(self, paths: list) -> None:
        project = self.state.project
        if project is None or project.closed:
            return
        dataset = captured_dataset(paths, self._burst_class, project.folder, project.task)
        push(self.state, AddImagesCommand(self.state, dataset, f"Capture {len(paths)} frame(s) into '{self._burst_class}'"))
        self.status.setText(f"Captured {len(paths)} frame(s) into '{self._burst_class}' (Ctrl+Z undoes).")
        self._update_buttons()

    @Slot(str, str)
    def _save_failed(self, message: str, details: str) -> None:
        self.status.setText("The frames could not be saved.")
        show_error(self, message, details, title="Capture")
        self._update_buttons()

    def keyPressEvent(self, event: QKeyEvent) -> None:  # noqa: N802 - Qt API: hold space to capture
        if event.key() == Qt.Key.Key_Space and not event.isAutoRepeat():
            self.start_burst()
            return
        super().keyPressEvent(event)

    def keyReleaseEvent(self, event: QKeyEvent) -> None:  # noqa: N802 - Qt API
        if event.key() == Qt.Key.Key_Space and not event.isAutoRepeat():
            self.end_burst()
            return
        super().keyReleaseEvent(event)

    @Slot()
    def _import_folder(self) -> None:
        folder = self.ask_folder(self)
        if folder:
            self.state.request_import(ImportRequest((Path(folder),), "auto", preview=True))
