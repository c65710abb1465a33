"""One training run at a time, in a worker thread: the engine's Trainer with its events turned into Qt signals.

The task (``fit_task``) is a plain function: it adds a callback to the Trainer that forwards every
engine event (small frozen dataclasses from ``engine/events.py``) through the worker's ``event``
signal, and a watcher that turns the worker's interruption request (window closing) into
``Trainer.request_stop``. Pause, resume and stop go straight to the Trainer's thread-safe
``request_*`` methods; the Trainer honours them between batches.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from PySide6.QtCore import QObject, Signal, Slot

from ...engine import FitResult, LabeledDataset, RunConfig, Trainer
from ..background import import_torch, lower_thread_priority
from ..worker import TaskState, Worker, run_task

INTERRUPT_POLL_S = 0.1
T = TypeVar("T")


class _EventForwarder:
    """Trainer callback, called on the worker thread: engine event → Qt signal (queued to the UI thread)."""

    def __init__(self, task: TaskState) -> None:
        self._task = task

    def on_event(self, event: Any) -> None:
        self._task.emit_event(event)


def _stop_when_interrupted(task: TaskState, trainer: Any, finished: threading.Event) -> None:
    # A paused run emits nothing, so the interruption must be watched apart from the events.
    while not finished.wait(INTERRUPT_POLL_S):
        if task.is_interruption_requested():
            trainer.request_stop()
            return


def warm_up_task(task: TaskState) -> None:
    """Worker task: import everything a run needs while the user is still choosing options, because
    executing a large module holds the GIL long enough to freeze the UI in the middle of a run."""
    import_torch()


def run_stoppable(task: TaskState, stoppable: Any, work: Callable[[], T]) -> T:
    """Run ``work()`` on the worker thread (at low priority, torch imported) while a watcher turns the task's
    interruption (the window closing) into ``stoppable.request_stop()``."""
    lower_thread_priority()
    import_torch()
    finished = threading.Event()
    watcher = threading.Thread(target=_stop_when_interrupted, args=(task, stoppable, finished),
                               name="imgcls-stop-watch", daemon=True)
    watcher.start()
    try:
        return work()
    finally:
        finished.set()
        watcher.join()


def fit_task(task: TaskState, trainer: Trainer, resume: bool) -> FitResult:
    """Worker task: run ``trainer.fit`` and forward its events."""
    trainer.callbacks.append(_EventForwarder(task))
    return run_stoppable(task, trainer, lambda: trainer.fit(resume=resume))


_warmed = False


class TrainingSession(QObject):
    """Starts, pauses and stops runs; re-emits the worker's signals for the panel (all on the UI thread)."""

    started = Signal(str)  # run folder
    event = Signal(object)  # an engine event (FitStart, EpochStart, BatchEnd, EpochEnd, ...)
    finished = Signal(object)  # FitResult
    failed = Signal(str, str)  # message, details
    pausedChanged = Signal(bool)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.trainer: Trainer | None = None
        self.worker: Worker | None = None
        self.run_dir: Path | None = None

    @property
    def running(self) -> bool:
        return self.worker is not None

    @property
    def paused(self) -> bool:
        return self.trainer is not None and self.trainer.paused

    def start(self, config: RunConfig, run_dir: Path, dataset: LabeledDataset | None, resume: bool = False) -> None:
        """Train ``config`` into ``run_dir`` (or continue it from last.pt with ``resume``)."""
        if self.running:
            raise RuntimeError("a training run is already going; stop it first")
        self.run_dir = Path(run_dir)
        self.trainer = Trainer(config, self.run_dir, dataset=dataset)
        self.worker = run_task(fit_task, self.trainer, resume, parent=self, on_event=self._on_event,
                               on_success=self._on_success, on_failure=self._on_failure, on_cancel=self._on_cancel)
        self.started.emit(str(self.run_dir))

    def pause(self) -> None:
        if self.trainer is not None and not self.trainer.paused:
            self.trainer.request_pause()
            self.pausedChanged.emit(True)

    def resume(self) -> None:
        if self.trainer is not None and self.trainer.paused:
            self.trainer.request_resume()
            self.pausedChanged.emit(False)

    def stop(self) -> None:
        """Stop after the current batch; best.pt and last.pt keep the last finished epoch."""
        if self.trainer is not None:
            self.trainer.request_stop()
            self.pausedChanged.emit(False)

    def warm_up(self) -> None:
        """Import what a run needs in a worker, once per process (``background.HEAVY_MODULES``)."""
        global _warmed
        if not _warmed:
            _warmed = True
            run_task(warm_up_task, parent=self, on_failure=self._warm_up_failed)

    @Slot(str, str)
    def _warm_up_failed(self, message: str, details: str) -> None:
        pass  # the run itself will import the same modules and report a failure properly

    def wait(self, timeout_ms: int = 30_000) -> bool:
        return self.worker is None or self.worker.wait(timeout_ms)

    @Slot(object)
    def _on_event(self, event: object) -> None:
        self.event.emit(event)

    @Slot(object)
    def _on_success(self, result: object) -> None:
        self._done()
        self.finished.emit(result)

    @Slot(str, str)
    def _on_failure(self, message: str, details: str) -> None:
        self._done()
        self.failed.emit(message, details)

    @Slot()
    def _on_cancel(self) -> None:  # fit_task never raises TaskCancelled; kept so no worker ends unheard
        self._done()
        self.failed.emit("Training was cancelled.", "")

    def _done(self) -> None:
        self.worker = None
        self.trainer = None
