"""Which child process a job gets (engine/training/child_process.py acquire_child/release_child): the idle one,
else a new one, except that a job superseding a running one of its kind (the next image's Grad-CAM) waits briefly
for that job's child instead of starting another process. Stand-in children: no process is started here."""

from __future__ import annotations

import threading
import time

import pytest

from imgcls_gui.engine.training import child_process


class StandInChild:
    def __init__(self, kind: str | None = None) -> None:
        self.kind, self.alive = kind, True

    def close(self) -> None:
        self.alive = False

    def end(self) -> None:
        self.alive = False


@pytest.fixture
def started(monkeypatch) -> list[StandInChild]:
    """The children the pool starts (stand-ins), with an empty pool around the test."""
    made: list[StandInChild] = []

    def new_child() -> StandInChild:  # listed as started, as the real one is
        made.append(StandInChild())
        child_process._started.append(made[-1])
        return made[-1]

    monkeypatch.setattr(child_process, "_new_child", new_child)
    monkeypatch.setattr(child_process, "_idle", [])
    monkeypatch.setattr(child_process, "_started", [])
    return made


def _later(seconds: float, action) -> threading.Thread:
    thread = threading.Thread(target=lambda: (time.sleep(seconds), action()))
    thread.start()
    return thread


def test_a_superseding_job_gets_its_predecessors_child_when_it_comes_back(started):
    busy = StandInChild("explain")
    child_process._started.append(busy)
    thread = _later(0.3, lambda: child_process.release_child(busy))
    began = time.monotonic()
    assert child_process.acquire_child(successor_of="explain", wait_s=10) is busy
    thread.join()
    assert started == [] and busy.kind is None and time.monotonic() - began < 5


def test_other_jobs_start_a_new_child_at_once_while_one_is_busy(started):
    child_process._started.append(StandInChild("fit"))
    began = time.monotonic()
    first = child_process.acquire_child()  # nothing superseded
    second = child_process.acquire_child(successor_of="explain", wait_s=10)  # a run is no predecessor of Grad-CAM
    assert started == [first, second] and time.monotonic() - began < 1


def test_the_wait_is_bounded_and_ends_when_the_predecessors_process_dies(started):
    child_process._started.append(StandInChild("explain"))  # never comes back
    began = time.monotonic()
    assert child_process.acquire_child(successor_of="explain", wait_s=0.5) is started[0]
    assert 0.5 <= time.monotonic() - began < 3

    dying = StandInChild("explain")
    child_process._started[:] = [dying]
    thread = _later(0.3, dying.end)
    began = time.monotonic()
    assert child_process.acquire_child(successor_of="explain", wait_s=10) is started[1]
    thread.join()
    assert time.monotonic() - began < 3


def test_a_released_child_waits_idle_for_the_next_job_and_a_second_one_is_closed(started):
    one, two = StandInChild("results"), StandInChild("explain")
    child_process.release_child(one)
    child_process.release_child(two)
    assert child_process.idle_children() == [one] and one.kind is None and not two.alive
    assert child_process.acquire_child() is one and started == []


def test_warming_up_starts_a_child_while_the_only_one_watches_a_folder(started):
    """A watch holds its child until Stop: a run's warm-up must not count on it coming back."""
    watching = StandInChild("watch")
    child_process._started.append(watching)
    child_process.warm_child()
    assert len(started) == 1 and child_process.idle_children() == started
    child_process.warm_child()  # one idle child is warm: nothing more
    assert len(started) == 1

    child_process._started[:] = [StandInChild("results")]  # soon idle: no second process
    child_process._idle.clear()
    child_process.warm_child()
    assert len(started) == 1
