"""Live prediction: the chosen model classifies a camera's frames (or a video file's) as fast as the
machine allows, with the top classes drawn as bars over the picture and the frames/s shown.

Never queueing: a frame is sent to the model only when the previous one is done; the frames that
arrive meanwhile are shown but not classified. "Show Grad-CAM" (off by default, kept in the project
settings) adds the Grad-CAM heatmap of the top class to that same task, so a frame is explained only
when it is classified, and laid over the picture until the next one; only a run folder or a .pt
checkpoint can be explained. Both run in the app's child process (``frame_in_child``: the frame's pixels go
there, the prediction and heatmap come back), with the model and Explainer it keeps loaded; consecutive frames
use the same child.
"""

from __future__ import annotations

import time
from collections import deque
from pathlib import Path

import numpy as np
from PySide6.QtCore import QRectF, QSize, Qt, Slot
from PySide6.QtGui import QColor, QImage, QPainter, QPixmap
from PySide6.QtWidgets import QCheckBox, QHBoxLayout, QLabel, QSizePolicy, QVBoxLayout, QWidget

from ...engine import FramePrediction, ImgclsError, ModelDescription, Prediction
from ..common.child_jobs import in_child
from ..common.frames import FrameSource, SourcePicker
from ..worker import LatestTask, TaskState

FPS_WINDOW_S = 2.0
GRADCAM_KEY = "live_gradcam"  # project setting: whether live prediction shows Grad-CAM
GRADCAM_SIDE = 160  # the heatmap's longer side: it is stretched over the picture, detail beyond this is not seen
GRADCAM_OPACITY = 0.45  # as the engine's overlays


def classify_frame_task(task: TaskState, predictor: ModelDescription, pixels: np.ndarray, top_k: int,
                        gradcam: bool) -> FramePrediction:
    """The frame's prediction (and, with ``gradcam``, its top class's heatmap), computed in the child process. A
    frame superseded (the model changed, the view closed) is waited for rather than given a second process."""
    from ...engine import frame_in_child

    return in_child(task, frame_in_child, predictor, pixels, top_k, GRADCAM_SIDE if gradcam else 0,
                    successor_of="frame")


def fit(image: QImage, size: QSize) -> QPixmap:
    """The frame scaled to fit ``size`` whole (aspect ratio kept)."""
    return QPixmap.fromImage(image).scaled(size.expandedTo(QSize(64, 48)), Qt.AspectRatioMode.KeepAspectRatio,
                                           Qt.TransformationMode.SmoothTransformation)


def draw_top_k(image: QImage, prediction: Prediction, size: QSize, heat: QImage | None = None) -> QPixmap:
    """The frame scaled to fit ``size`` (under ``heat``, a heatmap, when given) with one labelled bar per top
    class along its bottom."""
    pixmap = fit(image, size)
    painter = QPainter(pixmap)
    if heat is not None:
        painter.setOpacity(GRADCAM_OPACITY)
        painter.drawImage(QRectF(pixmap.rect()), heat)
        painter.setOpacity(1.0)
    row = 22
    top = pixmap.height() - row * len(prediction.top_k) - 6
    painter.fillRect(QRectF(0, top - 4, pixmap.width(), pixmap.height() - top + 4), QColor(0, 0, 0, 150))
    for i, (label, prob) in enumerate(prediction.top_k):
        y = top + i * row
        painter.fillRect(QRectF(6, y + 2, (pixmap.width() - 12) * prob, row - 6),
                         QColor("#2f9e44") if i == 0 else QColor("#868e96"))
        painter.setPen(QColor("white"))
        painter.drawText(QRectF(10, y, pixmap.width() - 20, row - 2), Qt.AlignmentFlag.AlignVCenter,
                         f"{label}  {prob:.2f}")
    painter.end()
    return pixmap


class LiveView(QWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.predictor: ModelDescription | None = None
        self.top_k = 3
        self.source = FrameSource(self)
        self.source.frameReady.connect(self._frame)
        self.source.failed.connect(self._failed)
        self.task = LatestTask(self)
        self.last: tuple[np.ndarray, Prediction] | None = None  # the newest classified frame and its result
        self.heat: QImage | None = None  # the newest classified frame's heatmap (Show Grad-CAM)
        self.classified_by = 0  # the process that classified the newest frame (the child's pid)
        self.project = None
        self._pending: np.ndarray | None = None  # the frame being classified
        self.classified = 0
        self._done_at: deque[float] = deque()
        self.picker = SourcePicker(self.source)
        self.picture = QLabel()
        self.picture.setObjectName("livePicture")
        self.picture.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.picture.setMinimumHeight(240)
        self.picture.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Ignored)  # frames never resize it
        self.fps = QLabel()
        self.fps.setObjectName("liveRate")
        self.gradcam = QCheckBox("Show Grad-CAM")
        self.gradcam.setObjectName("liveGradcam")
        self.gradcam.setToolTip("Lay the heatmap of where the model looked for its top class over the picture "
                                "(needs a run or a .pt checkpoint; each classified frame costs more)")
        self.gradcam.toggled.connect(self._gradcam_toggled)
        row = QHBoxLayout()
        row.addWidget(QLabel("Source:"))
        row.addWidget(self.picker, 1)
        row.addWidget(self.gradcam)
        row.addWidget(self.fps)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(row)
        layout.addWidget(self.picture, 1)

    def set_predictor(self, predictor: ModelDescription | None) -> None:
        self.predictor, self.last, self.heat = predictor, None, None
        self.task.discard()
        self.gradcam.setEnabled(predictor is None or predictor.kind == "checkpoint")

    def set_project(self, project) -> None:
        """Show Grad-CAM as this project last had it (off for a new one)."""
        self.project = project
        self.gradcam.blockSignals(True)
        self.gradcam.setChecked(bool(project is not None and project.get_setting(GRADCAM_KEY, False)))
        self.gradcam.blockSignals(False)

    @property
    def explaining(self) -> bool:
        return (self.gradcam.isChecked() and self.predictor is not None and self.predictor.kind == "checkpoint")

    @Slot(bool)
    def _gradcam_toggled(self, on: bool) -> None:
        self.heat = None
        project = self.project
        if project is not None and not project.closed and not project.read_only:
            try:
                project.set_setting(GRADCAM_KEY, on)
            except ImgclsError:  # a full disk: the box works for now, the next toggle tries again
                pass

    def start(self) -> None:
        problem = self.picker.list_sources()
        if problem:
            self.picture.setText(problem + ".")
        self.classified, self._done_at = 0, deque()
        self.picker.open_current()

    def showEvent(self, event) -> None:  # noqa: N802 - Qt API: the camera runs only while the picture shows
        super().showEvent(event)
        self.start()

    def hideEvent(self, event) -> None:  # noqa: N802 - Qt API
        self.stop()
        super().hideEvent(event)

    def stop(self) -> None:
        self.task.discard()
        self.source.close()
        self.fps.clear()

    def use_video(self, path: Path) -> None:
        self.classified, self._done_at = 0, deque()
        self.picker.use_video(path)

    @Slot()
    def _frame(self) -> None:
        image = self.source.latest_image()
        if image is None:
            return
        if self.last is not None:
            self.picture.setPixmap(draw_top_k(image, self.last[1], self.picture.size(), self.heat))
        else:
            self.picture.setPixmap(fit(image, self.picture.size()))
        if self.predictor is not None and not self.task.busy:  # busy: this frame is shown, not classified
            pixels = self.source.latest_pixels()
            self._pending = pixels
            self.task.start(classify_frame_task, self.predictor, pixels, self.top_k, self.explaining,
                            on_success=self._classified, on_failure=self._prediction_failed)

    @Slot(object)
    def _classified(self, frame: FramePrediction) -> None:
        if frame.heatmap is None or not self.gradcam.isChecked():
            self.heat = None
        else:
            height, width = frame.heatmap.shape[:2]
            self.heat = QImage(np.ascontiguousarray(frame.heatmap).data, width, height, 3 * width,
                               QImage.Format.Format_RGB888).copy()
        self.last, self.classified_by = (self._pending, frame.prediction), frame.pid
        self.classified += 1
        now = time.monotonic()
        self._done_at.append(now)
        while self._done_at and now - self._done_at[0] > FPS_WINDOW_S:
            self._done_at.popleft()
        rate = (len(self._done_at) - 1) / (self._done_at[-1] - self._done_at[0]) if len(self._done_at) > 1 else 0.0
        self.fps.setText(f"{rate:.1f} frames/s classified")

    @Slot(str, str)
    def _prediction_failed(self, message: str, details: str) -> None:
        self.stop()
        self.picture.setText(f"Live prediction stopped: {message}")

    @Slot(str)
    def _failed(self, message: str) -> None:
        self.stop()
        self.picture.setText(message)
