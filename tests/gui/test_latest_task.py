"""LatestTask: starting a task supersedes the previous one, whose late reports never reach the widget."""

from __future__ import annotations

import threading

import pytest
from PySide6.QtCore import QObject, Slot

from imgcls_gui.gui.worker import LatestTask, TaskState


class Widget(QObject):
    """Stands for a panel: records what reaches its slots."""

    def __init__(self) -> None:
        super().__init__()
        self.task = LatestTask(self)
        self.results: list[object] = []
        self.events: list[object] = []
        self.failures: list[str] = []
        self.cancelled = 0

    @Slot(object)
    def shown(self, result: object) -> None:
        self.results.append(result)

    @Slot(object)
    def got_event(self, event: object) -> None:
        self.events.append(event)

    @Slot(str, str)
    def failed(self, message: str, details: str) -> None:
        self.failures.append(message)

    @Slot()
    def stopped(self) -> None:
        self.cancelled += 1


def slow_answer(state: TaskState, answer: str, release: threading.Event) -> str:
    """Reports an event, then answers once released, even if asked to stop (as a build_model would)."""
    state.emit_event(f"{answer} started")
    release.wait(10)
    state.emit_event(f"{answer} late event")
    return answer


def quick_answer(state: TaskState, answer: str) -> str:
    return answer


def failing(state: TaskState, release: threading.Event) -> None:
    release.wait(10)
    raise RuntimeError("old failure")


def stoppable(state: TaskState) -> None:
    while True:
        state.raise_if_interrupted()
        threading.Event().wait(0.01)


def test_a_superseded_result_never_reaches_the_widget(qtbot):
    widget = Widget()
    release = threading.Event()
    old = widget.task.start(slow_answer, "old", release, on_success=widget.shown, on_event=widget.got_event)
    qtbot.waitUntil(lambda: widget.events == ["old started"], timeout=10_000)
    widget.task.start(quick_answer, "new", on_success=widget.shown, on_event=widget.got_event)
    qtbot.waitUntil(lambda: widget.results == ["new"], timeout=10_000)
    assert not widget.task.busy
    with qtbot.waitSignal(old.finished, timeout=10_000):
        release.set()  # the old task finishes after the new one: its result and event arrive late
    qtbot.wait(50)  # let the queued signals of the old worker be delivered (and dropped)
    assert widget.results == ["new"]
    assert widget.events == ["old started"]


def test_a_superseded_failure_is_dropped_too(qtbot):
    widget = Widget()
    release = threading.Event()
    old = widget.task.start(failing, release, on_failure=widget.failed)
    widget.task.start(quick_answer, "new", on_success=widget.shown, on_failure=widget.failed)
    qtbot.waitUntil(lambda: widget.results == ["new"], timeout=10_000)
    with qtbot.waitSignal(old.finished, timeout=10_000):
        release.set()
    qtbot.wait(50)
    assert widget.failures == []


def test_cancel_reports_the_end_but_discard_does_not(qtbot):
    widget = Widget()
    widget.task.start(stoppable, on_cancel=widget.stopped)
    assert widget.task.busy
    widget.task.cancel()
    qtbot.waitUntil(lambda: widget.cancelled == 1, timeout=10_000)
    assert not widget.task.busy

    dropped = widget.task.start(stoppable, on_cancel=widget.stopped)
    widget.task.discard()
    assert not widget.task.busy
    qtbot.waitUntil(lambda: not dropped.isRunning(), timeout=10_000)
    qtbot.wait(50)
    assert widget.cancelled == 1


def test_handlers_must_be_slots_of_ui_objects():
    widget = Widget()
    with pytest.raises(TypeError, match="lambdas"):
        widget.task.start(quick_answer, "x", on_success=lambda result: None)
