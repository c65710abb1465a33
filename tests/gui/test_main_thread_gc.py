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
