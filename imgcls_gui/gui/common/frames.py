"""Live frames from a camera, or from a video file standing in for one (Qt Multimedia).

``FrameSource`` keeps only the newest frame: ``frameReady`` says one arrived, ``latest_image()``
and ``latest_pixels()`` give it. Consumers that are slower than the camera (capturing, predicting)
read the newest frame when they are ready, so frames are dropped, never queued. Qt Multimedia
comes in the PySide6-Addons wheel and needs the system's PulseAudio client library on Linux;
without it ``multimedia_problem()`` says why and the views offer the other imports instead.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
from PySide6.QtCore import QObject, QUrl, Signal, Slot
from PySide6.QtGui import QImage
from PySide6.QtWidgets import QFileDialog, QWidget

from ..background import import_torch, torch_imported
from ..worker import LatestTask

_PROBLEM: str | None = None
VIDEO_FILTER = "Videos (*.mp4 *.avi *.mkv *.mov *.webm *.wmv *.ogv);;All files (*)"


def ask_video_file(parent: QWidget) -> str:
    """A recorded video to stand in for a camera ('' when cancelled)."""
    path, _ = QFileDialog.getOpenFileName(parent, "A video to use as the camera", str(Path.home()), VIDEO_FILTER)
    return path


def multimedia_problem() -> str:
    """'' when Qt Multimedia loads; otherwise why not, in words for the user."""
    global _PROBLEM
    if _PROBLEM is None:
        try:
            from PySide6 import QtMultimedia  # noqa: F401
            _PROBLEM = ""
        except ImportError as exc:
            _PROBLEM = (f"Camera and video support is not available ({exc}). Install PySide6-Addons "
                        "(and on Linux the PulseAudio client library, libpulse0).")
    return _PROBLEM


def camera_names() -> list[str]:
    """The cameras the system offers, by description ([] without Qt Multimedia)."""
    if multimedia_problem():
        return []
    from PySide6.QtMultimedia import QMediaDevices

    return [device.description() for device in QMediaDevices.videoInputs()]


def image_to_pixels(image: QImage) -> np.ndarray:
    """An H x W x 3 uint8 RGB copy of ``image`` (what the engine's Predictor and frame saving take)."""
    rgb = image.convertToFormat(QImage.Format.Format_RGB888)
    width, height, stride = rgb.width(), rgb.height(), rgb.bytesPerLine()
    raw = np.frombuffer(rgb.constBits(), np.uint8, count=rgb.sizeInBytes()).reshape(height, stride)
    return raw[:, : width * 3].reshape(height, width, 3).copy()


class FrameSource(QObject):
    """A camera (by index in ``camera_names()``) or a looping video file, delivering frames to a sink."""

    frameReady = Signal()
    failed = Signal(str)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._camera = self._session = self._player = self._sink = None
        self._latest: QImage | None = None
        self.description = ""
        self.frames_seen = 0
        self.started_at = 0.0

    @property
    def active(self) -> bool:
        return self._sink is not None

    def open_camera(self, index: int) -> None:
        from PySide6.QtMultimedia import QCamera, QMediaCaptureSession, QMediaDevices

        self.close()
        devices = QMediaDevices.videoInputs()
        if not 0 <= index < len(devices):
            self.failed.emit("No camera found.")
            return
        self._camera = QCamera(devices[index], self)
        self._camera.errorOccurred.connect(self._camera_error)
        self._session = QMediaCaptureSession(self)
        self._session.setCamera(self._camera)
        self._session.setVideoSink(self._new_sink())
        self.description = devices[index].description()
        self._camera.start()

    def open_video(self, path: Path) -> None:
        """Play ``path`` in a loop as if it were a camera."""
        from PySide6.QtMultimedia import QMediaPlayer

        self.close()
        self._player = QMediaPlayer(self)
        self._player.errorOccurred.connect(self._player_error)
        self._player.setVideoSink(self._new_sink())
        self._player.setLoops(QMediaPlayer.Loops.Infinite)
        self._player.setSource(QUrl.fromLocalFile(str(path)))
        self.description = Path(path).name
        self._player.play()

    def close(self) -> None:
        """Stop the camera or video and let go of the sink, detached first so no frame lands in a deleted one."""
        if self._sink is not None:
            self._sink.videoFrameChanged.disconnect(self._frame)
        if self._player is not None:
            self._player.stop()
            self._player.setVideoSink(None)
        if self._session is not None:
            self._session.setVideoSink(None)
        if self._camera is not None:
            self._camera.stop()
        for name in ("_player", "_session", "_camera", "_sink"):
            device = getattr(self, name)
            if device is not None:
                device.deleteLater()
                setattr(self, name, None)
        self._latest, self.description, self.frames_seen = None, "", 0

    def latest_image(self) -> QImage | None:
        return self._latest

    def latest_pixels(self) -> np.ndarray | None:
        return image_to_pixels(self._latest) if self._latest is not None else None

    def _new_sink(self):
        from PySide6.QtMultimedia import QVideoSink

        self._sink = QVideoSink(self)
        self._sink.videoFrameChanged.connect(self._frame)  # a slot of this UI-thread object: queued from decoders
        self.started_at, self.frames_seen = time.monotonic(), 0
        return self._sink

    @Slot(object)
    def _frame(self, frame) -> None:
        if self.sender() is not self._sink or not frame.isValid():
            return  # a frame of a source closed meanwhile
        image = frame.toImage()
        if image.isNull():
            return
        self._latest = image
        self.frames_seen += 1
        self.frameReady.emit()

    @Slot(object, str)
    def _camera_error(self, error, message: str) -> None:
        self.failed.emit(f"The camera stopped: {message}")

    @Slot(object, str)
    def _player_error(self, error, message: str) -> None:
        self.failed.emit(f"The video could not be played: {message}")


class SourcePicker(QWidget):
    """The cameras and a chosen video file in one list, with a "Video file…" button, driving ``source``."""

    def __init__(self, source: FrameSource, parent: QWidget | None = None) -> None:
        from PySide6.QtWidgets import QComboBox, QHBoxLayout, QPushButton
        import qtawesome as qta

        super().__init__(parent)
        self.source = source
        self.ask_video = ask_video_file  # tests answer it
        self.video_path: Path | None = None
        self._importing = LatestTask(self)
        self.combo = QComboBox()
        self.combo.setObjectName("frameSource")
        self.combo.activated.connect(self._chosen)
        self.video_button = QPushButton(qta.icon("mdi6.filmstrip"), "Video file…")
        self.video_button.setToolTip("Use a recorded video as the camera (it plays in a loop)")
        self.video_button.clicked.connect(self.choose_video)
        row = QHBoxLayout(self)
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.combo, 1)
        row.addWidget(self.video_button)

    def list_sources(self) -> str:
        """Fill the list, keeping the current choice; returns why nothing can be shown ('' when something can)."""
        import qtawesome as qta

        current = self.combo.currentData()
        self.combo.clear()
        for index, name in enumerate(camera_names()):
            self.combo.addItem(qta.icon("mdi6.webcam"), name, index)
        if self.video_path is not None:
            self.combo.addItem(qta.icon("mdi6.filmstrip"), self.video_path.name, str(self.video_path))
        problem = multimedia_problem()
        self.video_button.setEnabled(not problem)
        if self.combo.count() == 0:
            self.combo.addItem("No camera found", None)
            return problem or "No camera found. Open a video file to stand in for one"
        self.combo.setCurrentIndex(max(self.combo.findData(current) if current is not None else -1, 0))
        return ""

    def has_source(self) -> bool:
        return self.combo.currentData() is not None

    @Slot()
    def choose_video(self) -> None:
        path = self.ask_video(self)
        if path:
            self.use_video(Path(path))

    def use_video(self, path: Path) -> None:
        self.video_path = Path(path)
        self.list_sources()
        self.combo.setCurrentIndex(self.combo.findData(str(self.video_path)))
        self.open_current()

    def open_current(self) -> None:
        """Open the chosen camera or video; the first time, only once torch has been imported (in a worker).

        Turning a frame into an image can load the system's OpenGL, whose LLVM (Mesa's llvmpipe and
        radeonsi use one) clashes with the LLVM inside triton, which torch loads: loaded in that order,
        importing torch afterwards crashes the process. Loaded the other way round, both work.
        """
        if not torch_imported():
            if not self._importing.busy:
                self._importing.start(_import_torch_task, on_success=self._torch_ready, on_failure=self._torch_failed)
            return
        data = self.combo.currentData()
        if isinstance(data, int):
            self.source.open_camera(data)
        elif isinstance(data, str):
            self.source.open_video(Path(data))

    @Slot(int)
    def _chosen(self, index: int) -> None:
        self.open_current()

    @Slot(object)
    def _torch_ready(self, _: object) -> None:
        if self.isVisible():
            self.open_current()

    @Slot(str, str)
    def _torch_failed(self, message: str, details: str) -> None:
        self.source.failed.emit(f"Could not load the model libraries: {message}")


def _import_torch_task(task) -> bool:
    import_torch()
    return True
