"""One training run at a time, in a child process owned by a worker thread: the engine's events as Qt signals.

The run itself happens in the engine's training child process (``engine/training/child_process.py``):
a native crash or a kill there ends the run, never the app, and the training loop never holds this
process's GIL, so the window keeps repainting. The worker task (``child_fit_task``) hands the job to
the warm child and relays every engine event (small frozen dataclasses from ``engine/events.py``,
rebuilt from the child's messages) through the worker's ``event`` signal. Pause, resume and stop set
the run's ``JobControl``, which the task passes to the child; the worker's interruption (window
closing) stops the run with a short grace, then ends the process. The search and the learning-rate
finder run in the same child (``gui/common/child_jobs.py``'s ``in_child``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, Signal, Slot

from ...engine import (FitResult, JobControl, LabeledDataset, RunConfig, acquire_child, live_children,
                       release_child, warm_child)
from ..background import import_torch
from ..worker import TaskState, Worker, run_task


def child_fit_task(task: TaskState, config: RunConfig, run_dir: Path, dataset: LabeledDataset | None,
                   resume: bool, control: JobControl, hooks: dict[str, Any]) -> FitResult:
    """Worker task: train in the warm child process (started now if there is none) and relay its events."""
    child = acquire_child()
    try:
        return child.run_fit(config, run_dir, dataset, resume, task.emit_event, control,
                             interrupted=task.is_interruption_requested, hooks=hooks)
    finally:
        release_child(child)


def warm_up_task(task: TaskState) -> None:
    """Worker task: start the training child (it imports torch in its own process), then import what this
    process's own tasks need (results, prediction) while the user is still choosing options."""
    warm_child()
    import_torch()


class TrainingSession(QObject):
    """Starts, pauses and stops runs; re-emits the worker's signals for the panel (all on the UI thread)."""

    started = Signal(str)  # run folder
    event = Signal(object)  # an engine event (FitStart, EpochStart, BatchEnd, EpochEnd, ...)
    finished = Signal(object)  # FitResult
    failed = Signal(str, str)  # message, details
    pausedChanged = Signal(bool)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.control: JobControl | None = None
        self.worker: Worker | None = None
        self.run_dir: Path | None = None
        self.test_hooks: dict[str, Any] = {}  # the child honours them only under the test suite (child.py)

    @property
    def running(self) -> bool:
        return self.worker is not None

    @property
    def paused(self) -> bool:
        return self.control is not None and self.control.paused and not self.control.stopping

    def start(self, config: RunConfig, run_dir: Path, dataset: LabeledDataset | None, resume: bool = False) -> None:
        """Train ``config`` into ``run_dir`` (or continue it from last.pt with ``resume``)."""
        if self.running:
            raise RuntimeError("a training run is already going; stop it first")
        self.run_dir = Path(run_dir)
        self.control = JobControl()
        self.worker = run_task(child_fit_task, config, self.run_dir, dataset, resume, self.control,
                               dict(self.test_hooks), parent=self, on_event=self._on_event,
                               on_success=self._on_success, on_failure=self._on_failure, on_cancel=self._on_cancel)
        self.started.emit(str(self.run_dir))

    def pause(self) -> None:
        if self.control is not None and not self.paused:
            self.control.request_pause()
            self.pausedChanged.emit(True)

    def resume(self) -> None:
        if self.control is not None and self.paused:
            self.control.request_resume()
            self.pausedChanged.emit(False)

    def stop(self) -> None:
        """Stop after the current batch (its process is ended if it does not stop within ``STOP_GRACE_S``);
        best.pt and last.pt keep the last finished epoch."""
        if self.control is not None:
            self.control.request_stop()
            self.pausedChanged.emit(False)

    def warm_up(self) -> None:
        """Start the warm training child (and this process's own imports) in a worker, unless it is waiting."""
        if not live_children():
            run_task(warm_up_task, parent=self, on_failure=self._warm_up_failed)

    @Slot(str, str)
    def _warm_up_failed(self, message: str, details: str) -> None:
        pass  # the run itself will start the child and report a failure properly

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
    def _on_cancel(self) -> None:  # child_fit_task never raises TaskCancelled; kept so no worker ends unheard
        self._done()
        self.failed.emit("Training was cancelled.", "")

    def _done(self) -> None:
        self.worker = None
        self.control = None
