"""The worker: plain functions off the UI thread, throttled progress, events, failures, cancellation."""

from __future__ import annotations

import threading
import time

import pytest
from PySide6.QtCore import QObject, Slot

from imgcls_gui.engine.errors import DatasetError
from imgcls_gui.gui import worker as worker_module
from imgcls_gui.gui.worker import TaskState, Worker, run_task


class Recorder(QObject):
    """Lives on the UI thread; records what its slots receive and on which thread."""

    def __init__(self) -> None:
        super().__init__()
        self.progress: list[tuple[int, int]] = []
        self.events: list[object] = []
        self.results: list[object] = []
        self.failures: list[tuple[str, str]] = []
        self.cancelled = 0
        self.threads: set[str] = set()

    def _seen(self) -> None:
        self.threads.add(threading.current_thread().name)

    @Slot(int, int)
    def on_progress(self, done: int, total: int) -> None:
        self._seen()
        self.progress.append((done, total))

    @Slot(object)
    def on_event(self, event: object) -> None:
        self._seen()
        self.events.append(event)

    @Slot(object)
    def on_success(self, result: object) -> None:
        self._seen()
        self.results.append(result)

    @Slot(str, str)
    def on_failure(self, message: str, details: str) -> None:
        self._seen()
        self.failures.append((message, details))

    @Slot()
    def on_cancel(self) -> None:
        self.cancelled += 1


def run(qtbot, recorder: Recorder, fn, *args) -> Worker:
    worker = run_task(fn, *args, on_success=recorder.on_success, on_failure=recorder.on_failure,
                      on_progress=recorder.on_progress, on_event=recorder.on_event, on_cancel=recorder.on_cancel)
    qtbot.waitUntil(lambda: not worker.isRunning() and bool(recorder.results or recorder.failures or recorder.cancelled),
                    timeout=10_000)
    return worker


def counting(state: TaskState, n: int) -> str:
    worker_thread = threading.current_thread().name
    for i in range(n + 1):
        state.set_progress(i, n)
        state.set_progress(i, n)  # repeated values are dropped
    state.emit_event(("hello", worker_thread))
    return f"counted {n} in {worker_thread}"


def test_results_events_and_progress_arrive_on_the_ui_thread(qtbot):
    recorder = Recorder()
    run(qtbot, recorder, counting, 50_000)
    assert recorder.results[0].startswith("counted 50000")
    assert recorder.events[0][1] != threading.main_thread().name  # the task ran elsewhere
    assert recorder.threads == {threading.main_thread().name}  # slots ran on the UI thread
    assert recorder.progress[-1] == (50_000, 50_000)  # the final value always goes
    assert len(recorder.progress) < 100  # 100,000 calls throttled to a handful of signals
    assert len(set(recorder.progress)) == len(recorder.progress)


def test_throttle_lets_a_changed_value_through_after_the_interval(monkeypatch):
    emitted = []

    class FakeWorker:
        class progress:  # noqa: N801 - mimics a signal attribute
            @staticmethod
            def emit(done, total):
                emitted.append((done, total))

    clock = iter([100.0, 100.01, 100.5, 100.51])
    monkeypatch.setattr(worker_module.time, "monotonic", lambda: next(clock))
    state = TaskState(FakeWorker())
    for done in (1, 2, 3, 4):
        state.set_progress(done, 10)
    assert emitted == [(1, 10), (3, 10)]


def failing_with_user_error(state: TaskState) -> None:
    raise DatasetError("photos/: no images found. Choose another folder.")


def failing_with_bug(state: TaskState) -> None:
    return {}["missing"]


def test_failures_carry_a_readable_message_and_the_traceback(qtbot):
    recorder = Recorder()
    run(qtbot, recorder, failing_with_user_error)
    message, details = recorder.failures[0]
    assert message == "photos/: no images found. Choose another folder."  # user errors shown as they are
    assert "DatasetError" in details
    recorder = Recorder()
    run(qtbot, recorder, failing_with_bug)
    message, details = recorder.failures[0]
    assert message.startswith("Unexpected error: KeyError")
    assert "failing_with_bug" in details


def waits_for_cancel(state: TaskState) -> None:
    state.emit_event("started")
    while True:
        state.raise_if_interrupted()
        time.sleep(0.01)


def test_cancel_interrupts_a_running_task(qtbot):
    recorder = Recorder()
    worker = run_task(waits_for_cancel, on_event=recorder.on_event, on_cancel=recorder.on_cancel,
                      on_failure=recorder.on_failure)
    qtbot.waitUntil(lambda: recorder.events == ["started"], timeout=5_000)
    worker.cancel()
    qtbot.waitUntil(lambda: recorder.cancelled == 1, timeout=5_000)
    assert not recorder.failures


def test_lambdas_and_plain_functions_are_refused_as_slots():
    with pytest.raises(TypeError, match="@Slot methods"):
        run_task(counting, 1, on_success=lambda result: None)
    with pytest.raises(TypeError, match="@Slot methods"):
        run_task(counting, 1, on_success=print)


def test_unhandled_failure_opens_the_error_dialog(qtbot):
    from imgcls_gui.gui.errors import open_error_dialogs

    worker = run_task(failing_with_user_error)
    qtbot.waitUntil(lambda: bool(open_error_dialogs()), timeout=5_000)
    assert open_error_dialogs()[0].text().startswith("photos/: no images found")
    worker.wait()

