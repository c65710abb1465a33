"""Cyclic garbage is collected on the UI thread only, while the app's collector lives."""

from __future__ import annotations

import gc
import threading

from imgcls_gui.gui.main_thread_gc import MainThreadGarbageCollector


class _Cycle:
    collected_in: list[str] = []

    def __init__(self) -> None:
        self.me = self

    def __del__(self) -> None:
        _Cycle.collected_in.append(threading.current_thread().name)


def test_automatic_collection_is_off_and_the_ui_thread_timer_collects(qtbot):
    gc.enable()  # as in a fresh app (the GUI tests' own collector turned it off)
    collector = MainThreadGarbageCollector(interval_ms=20)
    try:
        assert not gc.isenabled()
        _Cycle.collected_in.clear()

        def make_garbage_in_a_thread() -> None:
            for _ in range(5_000):  # far past the first generation's threshold: Python would collect here
                _Cycle()

        worker = threading.Thread(target=make_garbage_in_a_thread, name="allocating-worker")
        worker.start()
        worker.join()
        assert _Cycle.collected_in == []  # nothing collected in the worker
        qtbot.waitUntil(lambda: len(_Cycle.collected_in) > 0, timeout=5_000)
        assert set(_Cycle.collected_in) == {threading.main_thread().name}
    finally:
        collector.stop()
    assert gc.isenabled()


def test_young_generations_follow_pythons_thresholds_and_the_oldest_waits_its_interval(monkeypatch):
    from imgcls_gui.gui import main_thread_gc

    collector = MainThreadGarbageCollector(interval_ms=3_600_000)  # checked by hand below, never by its timer
    try:
        threshold0, threshold1, threshold2 = collector._thresholds
        counts = [(threshold0 + 1, threshold1 + 1, threshold2 + 1)]  # every generation past its threshold
        collected: list[int] = []
        now = [1_000.0]
        monkeypatch.setattr(main_thread_gc.gc, "get_count", lambda: counts[0])
        monkeypatch.setattr(main_thread_gc.gc, "collect", lambda generation=2: collected.append(generation) or 0)
        monkeypatch.setattr(main_thread_gc.time, "monotonic", lambda: now[0])
        collector._last_full = now[0]

        collector.check()  # a full pass just happened: the middle generation only
        now[0] += main_thread_gc.FULL_EVERY_S - 1
        collector.check()
        now[0] += 2
        collector.check()  # the interval passed: the whole heap, once
        collector.check()
        counts[0] = (threshold0 + 1, 0, 0)
        collector.check()  # only the youngest generation is due
        counts[0] = (threshold0 - 1, threshold1 + 1, threshold2 + 1)
        collector.check()  # too few new objects: nothing
        assert collected == [1, 1, 2, 1, 0]
    finally:
        collector.stop()
