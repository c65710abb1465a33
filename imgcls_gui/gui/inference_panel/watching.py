"""The Inference panel's watch mode: predict a folder's images, then each new one as it arrives, until Stop.
The watch runs in the app's child process (``watch_task``), which holds that child until Stop.

``FolderWatch`` is given the panel's task, table, results, top-k box, progress bar and status line;
it announces with ``changed`` when the panel's buttons should be updated.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QObject, Qt, Signal, Slot
from PySide6.QtWidgets import QLabel, QProgressBar, QSpinBox, QTableView, QWidget

from ...engine import ModelDescription
from ...engine import events as ev
from .. import errors as gui_errors
from ..worker import LatestTask
from .table import PredictionModel
from .tasks import watch_task


class FolderWatch(QObject):
    changed = Signal()  # watching started or ended: the buttons change

    def __init__(self, task: LatestTask, results: PredictionModel, table: QTableView, top_k: QSpinBox,
                 progress: QProgressBar, status: QLabel, batch_size: int, parent: QWidget) -> None:
        super().__init__(parent)
        self.task, self.results, self.table, self.top_k = task, results, table, top_k
        self.progress, self.status, self.batch_size = progress, status, batch_size
        self.watched: Path | None = None  # the folder being watched
        self._how = ""  # "file-system events" or why it scans
        self.watcher_pid = 0  # the child process watching (0 until it says it started)

    def start(self, folder: Path, predictor: ModelDescription) -> None:
        """Predict ``folder``'s images, then every image that arrives in it, until the task is cancelled."""
        self.watched = Path(folder)
        self.results.clear()
        self.table.horizontalHeader().setSortIndicator(-1, Qt.SortOrder.AscendingOrder)
        self.results.set_shown_top_k(self.top_k.value())
        self.progress.setRange(0, 0)  # busy: a watch has no end to measure against
        self.status.setText(f"Starting to watch {folder}…")
        self._how, self.watcher_pid = "", 0
        self.task.start(watch_task, predictor, self.watched, len(predictor.classes), self.batch_size,
                        on_event=self._event, on_success=self._ended, on_failure=self._failed, on_cancel=self._ended)
        self.changed.emit()

    @Slot(object)
    def _event(self, event: object) -> None:
        if isinstance(event, ev.WatchStarted):
            self.watcher_pid = event.pid
            reason = f" ({event.fallback_reason})" if event.fallback_reason else ""
            self._how = "file-system events" if event.mode == "events" else f"regular scans{reason}"
        else:
            self.results.append(event, {})  # type: ignore[arg-type]  # watched images are not project images
        self.status.setText(f"Watching {self.watched} through {self._how or '…'}: "
                            f"{len(self.results.rows)} image(s) predicted. New images appear as they arrive.")

    @Slot(object)
    def _ended(self, *_: object) -> None:
        self.progress.setRange(0, 1)
        self.progress.setValue(1)
        self.status.setText(f"Stopped watching {self.watched}; {len(self.results.rows)} image(s) predicted.")
        self.watched = None
        self.changed.emit()

    @Slot(str, str)
    def _failed(self, message: str, details: str) -> None:
        self.status.setText(f"Stopped watching {self.watched}: {message}")
        self.watched = None
        self.progress.setRange(0, 1)
        gui_errors.show_error(self.parent(), message, details)
        self.changed.emit()
