"""Run plain engine functions off the UI thread and turn what they report into Qt signals.

Orange3-style: a task is an ordinary function whose first argument is a ``TaskState``; it calls
``state.set_progress(done, total)``, ``state.emit_event(obj)`` and checks
``state.is_interruption_requested()``. The function never sees Qt.

Connect ``Worker`` signals only to ``@Slot`` methods of QObjects living on the UI thread: such
connections are queued, so the slot runs on the UI thread. A lambda or plain function would run
in the worker thread and touch widgets from there (PySide6 then crashes with "Recursive
repaint"); ``run_task`` refuses them.

A widget whose newest request makes older ones pointless (a model chosen, a run opened, a check
restarted) keeps its task in a ``LatestTask``: starting one supersedes the previous one and drops
whatever that one still reports, like Orange3's ``ConcurrentMixin``.
"""

from __future__ import annotations

import inspect
import time
import traceback
from collections.abc import Callable
from typing import Any

import shiboken6
from PySide6.QtCore import QObject, QThread, Signal, Slot

from ..engine import ImgclsError

PROGRESS_INTERVAL_S = 0.1  # at most ~10 progress signals a second

_running: set["Worker"] = set()  # keeps each Python wrapper alive until its thread has finished


class TaskCancelled(Exception):
    """Raised by ``TaskState.raise_if_interrupted``; the worker then emits ``cancelled``."""


class TaskState:
    """What a task function sees of its worker: progress, events, cancellation."""

    def __init__(self, worker: "Worker") -> None:
        self._worker = worker
        self._last_progress: tuple[int, int] | None = None
        self._last_emit = 0.0

    def set_progress(self, done: int, total: int) -> None:
        """Report progress; repeated values are dropped and updates throttled (the last one always goes)."""
        value = (int(done), int(total))
        if value == self._last_progress:
            return
        now = time.monotonic()
        if value[0] < value[1] and now - self._last_emit < PROGRESS_INTERVAL_S:
            return
        self._last_progress, self._last_emit = value, now
        self._worker.progress.emit(*value)

    def is_interruption_requested(self) -> bool:
        return self._worker.isInterruptionRequested()

    def raise_if_interrupted(self) -> None:
        if self.is_interruption_requested():
            raise TaskCancelled()

    def emit_event(self, event: object) -> None:
        """Forward any (preferably immutable) object, e.g. an engine training event."""
        self._worker.event.emit(event)


class Worker(QThread):
    """One background run of ``fn(TaskState, *args, **kwargs)``."""

    progress = Signal(int, int)
    event = Signal(object)
    succeeded = Signal(object)
    failed = Signal(str, str)  # message, details (traceback)
    cancelled = Signal()

    def __init__(self, fn: Callable[..., Any], *args: Any, parent: QObject | None = None, **kwargs: Any) -> None:
        super().__init__(parent)
        self._fn, self._args, self._kwargs = fn, args, kwargs
        self.setObjectName(f"worker:{getattr(fn, '__name__', 'task')}")
        self.finished.connect(self._forget)

    def start(self, *args: Any, **kwargs: Any) -> None:
        _running.add(self)
        super().start(*args, **kwargs)

    def run(self) -> None:
        state = TaskState(self)
        try:
            result = self._fn(state, *self._args, **self._kwargs)
        except TaskCancelled:
            self.cancelled.emit()
        except ImgclsError as exc:  # one from a child process carries the child's traceback
            self.failed.emit(str(exc), getattr(exc, "child_traceback", "") or traceback.format_exc())
        except Exception as exc:  # noqa: BLE001 - every failure must reach the UI, never kill the thread silently
            self.failed.emit(f"Unexpected error: {type(exc).__name__}: {exc}", traceback.format_exc())
        else:
            self.succeeded.emit(result)

    def cancel(self) -> None:
        self.requestInterruption()

    @Slot()
    def _forget(self) -> None:
        # No deleteLater: callers may keep a reference and call cancel()/isRunning() at any time.
        # wait() returns at once here (run() has returned) and makes destruction safe once the
        # last reference (or the Qt parent) goes.
        self.wait()
        _running.discard(self)


class _FailureReporter(QObject):
    """Shows a worker failure nobody else handles (created on the UI thread)."""

    @Slot(str, str)
    def report(self, message: str, details: str) -> None:
        from .errors import show_error

        show_error(None, message, details)


_reporter: _FailureReporter | None = None


def _failure_reporter() -> _FailureReporter:
    global _reporter
    if _reporter is None:
        _reporter = _FailureReporter()
    return _reporter


def run_task(
    fn: Callable[..., Any],
    *args: Any,
    parent: QObject | None = None,
    on_success: Callable[[Any], None] | None = None,
    on_failure: Callable[[str, str], None] | None = None,
    on_progress: Callable[[int, int], None] | None = None,
    on_event: Callable[[object], None] | None = None,
    on_cancel: Callable[[], None] | None = None,
    **kwargs: Any,
) -> Worker:
    """Start ``fn`` in a worker thread with the given UI-thread slots connected; failures without a
    handler are shown in the error dialog. Call from the UI thread."""
    worker = Worker(fn, *args, parent=parent, **kwargs)
    if on_failure is None:
        on_failure = _failure_reporter().report
    for signal, slot in ((worker.succeeded, on_success), (worker.failed, on_failure), (worker.progress, on_progress),
                         (worker.event, on_event), (worker.cancelled, on_cancel)):
        if slot is not None:
            _check_slot(slot)
            signal.connect(slot)
    worker.start()
    return worker


class LatestTask(QObject):
    """The one current background task of a widget: only the latest task's reports reach its handlers.

    ``start`` asks the running task (if any) to stop and forgets it: its progress, events, result,
    failure or cancellation, which may still arrive, are dropped, so a slow old result never
    overwrites a newer one. ``cancel`` asks the current task to stop and still reports how it ended
    (``on_cancel``, or its result if it finished first); ``discard`` forgets it as ``start`` does.
    Handlers run on the UI thread and, like ``run_task``'s, must be @Slot methods of UI-thread QObjects.
    """

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.worker: Worker | None = None
        self._handlers: dict[str, Callable[..., None] | None] = {}

    @property
    def busy(self) -> bool:
        """Whether the current task is still running (a superseded one no longer counts)."""
        return self.worker is not None

    def start(
        self,
        fn: Callable[..., Any],
        *args: Any,
        on_success: Callable[[Any], None] | None = None,
        on_failure: Callable[[str, str], None] | None = None,
        on_progress: Callable[[int, int], None] | None = None,
        on_event: Callable[[object], None] | None = None,
        on_cancel: Callable[[], None] | None = None,
        **kwargs: Any,
    ) -> Worker:
        """Supersede the current task with ``fn(TaskState, *args, **kwargs)``; failures without a
        handler are shown in the error dialog."""
        self.discard()
        handlers = {"success": on_success, "failure": on_failure, "progress": on_progress, "event": on_event,
                    "cancel": on_cancel}
        for slot in handlers.values():
            if slot is not None:
                _check_slot(slot)
        self._handlers = handlers
        self.worker = run_task(fn, *args, parent=self, on_success=self._succeeded, on_failure=self._failed,
                               on_progress=self._progressed if on_progress else None,
                               on_event=self._evented if on_event else None, on_cancel=self._cancelled, **kwargs)
        return self.worker

    def cancel(self) -> None:
        """Ask the current task to stop; it still reports how it ended."""
        if self.worker is not None:
            self.worker.cancel()

    def discard(self) -> None:
        """Ask the current task to stop and drop everything it reports from now on."""
        if self.worker is not None:
            self.worker.cancel()
        self.worker = None

    def _is_current(self) -> bool:
        return self.worker is not None and self.sender() is self.worker

    def _end(self, kind: str) -> Callable[..., None] | None:
        """The handler for how the current task ended; the task stops being current first, so the
        handler may start the next one."""
        self.worker = None
        return self._handlers.get(kind)

    @Slot(object)
    def _succeeded(self, result: object) -> None:
        if self._is_current() and (handler := self._end("success")) is not None:
            handler(result)

    @Slot(str, str)
    def _failed(self, message: str, details: str) -> None:
        if not self._is_current():
            return
        handler = self._end("failure")
        if handler is not None:
            handler(message, details)
        else:
            _failure_reporter().report(message, details)

    @Slot()
    def _cancelled(self) -> None:
        if self._is_current() and (handler := self._end("cancel")) is not None:
            handler()

    @Slot(int, int)
    def _progressed(self, done: int, total: int) -> None:
        if self._is_current() and (handler := self._handlers.get("progress")) is not None:
            handler(done, total)

    @Slot(object)
    def _evented(self, event: object) -> None:
        if self._is_current() and (handler := self._handlers.get("event")) is not None:
            handler(event)


def running_workers() -> list[Worker]:
    return [w for w in _live_workers() if w.isRunning()]


def _live_workers() -> list[Worker]:
    """The registered workers whose Qt object still exists: a finished worker's parent (a dialog closed
    right after its task) may delete it before ``_forget`` runs, leaving only the Python wrapper."""
    for worker in [w for w in _running if not shiboken6.isValid(w)]:
        _running.discard(worker)
    return list(_running)


def stop_all_workers(timeout_ms: int = 10_000) -> bool:
    """Ask every worker to stop and wait for them (on exit, so no QThread dies while running)."""
    workers = _live_workers()
    for worker in workers:
        worker.requestInterruption()
    return all(worker.wait(timeout_ms) for worker in workers)


def _check_slot(slot: Callable[..., Any]) -> None:
    if not (inspect.ismethod(slot) and isinstance(slot.__self__, QObject)):
        raise TypeError(
            f"{slot!r}: connect worker signals to @Slot methods of a QObject on the UI thread; "
            "lambdas and plain functions would run in the worker thread."
        )
