"""``imgcls-gui --screenshot PATH``: wait until the window has settled, save it as a PNG, quit.

Settled means: no worker running (project import, device probe, info scan) and every thumbnail
on screen decoded, twice in a row, checked a few times a second. Used for the docs.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from PySide6.QtCore import QObject, QTimer, Slot
from PySide6.QtWidgets import QApplication, QMainWindow

from ..engine import atomic_write_bytes
from .worker import running_workers

POLL_MS = 250
WINDOW_SIZE = (1280, 800)  # docs screenshots have one size whatever the settings say
MIN_WAIT_S = 1.5  # thumbnails are only asked for once painted: give the first paints time to happen


class ScreenshotTaker(QObject):
    def __init__(self, window: QMainWindow, path: Path, timeout_ms: int) -> None:
        super().__init__(window)
        self.window = window
        self.path = path
        self._started = time.monotonic()
        self._deadline = self._started + timeout_ms / 1000
        self._calm_polls = 0
        self._timer = QTimer(self, interval=POLL_MS)
        self._timer.timeout.connect(self._poll)
        self._timer.start()
        window.resize(*WINDOW_SIZE)

    def _settled(self) -> bool:
        if running_workers() or QApplication.activeModalWidget() is not None:
            return False
        loaders = [panel.thumbnails for panel in getattr(self.window, "_panels", {}).values() if hasattr(panel, "thumbnails")]
        return all(loader.is_idle() for loader in loaders)

    @Slot()
    def _poll(self) -> None:
        now = time.monotonic()
        self._calm_polls = self._calm_polls + 1 if self._settled() else 0
        if (now - self._started >= MIN_WAIT_S and self._calm_polls >= 2) or now >= self._deadline:
            if now >= self._deadline:
                print(f"imgcls-gui: window did not settle in time; saving the screenshot anyway", file=sys.stderr)
            self._timer.stop()
            self.save()
            QApplication.instance().quit()

    def save(self) -> None:
        from PySide6.QtCore import QBuffer, QIODevice

        buffer = QBuffer()
        buffer.open(QIODevice.OpenModeFlag.WriteOnly)
        self.window.grab().save(buffer, "PNG")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_bytes(self.path, bytes(buffer.data()))
        print(f"imgcls-gui: saved {self.path}")
