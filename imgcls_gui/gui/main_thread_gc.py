"""Python's cyclic garbage collector, run on the UI thread only.

Automatic collection starts in whichever thread happens to allocate: a worker building a model
could collect a closed dialog's wrappers and destroy its Qt objects from the worker thread. With
PySide6 6.12 that deadlocked a test run: the worker held a Qt object's lock while waiting for the
GIL, and the UI thread, holding the GIL, waited for that lock to delete the dialog's children.
So the app turns automatic collection off and collects from a UI-thread timer instead, generation
by generation as Python would (the recipe PyQt applications use for the same reason).
"""

from __future__ import annotations

import gc
import time

from PySide6.QtCore import QObject, QTimer, Slot

INTERVAL_MS = 100  # a collection's pause grows with what was allocated since the last: often keeps each one short
FULL_EVERY_S = 60.0  # the oldest generation at most this often (its pass costs as much as the whole heap)


class MainThreadGarbageCollector(QObject):
    """While it lives (until ``stop()``), cyclic garbage is collected only on the thread that owns it."""

    def __init__(self, parent: QObject | None = None, interval_ms: int = INTERVAL_MS) -> None:
        super().__init__(parent)
        self._thresholds = gc.get_threshold()
        self._was_enabled = gc.isenabled()
        gc.disable()
        self._last_full = time.monotonic()
        self._timer = QTimer(self, interval=interval_ms)
        self._timer.timeout.connect(self.check)
        self._timer.start()

    @Slot()
    def check(self) -> None:
        """Collect the generations whose counts passed Python's own thresholds; the oldest one at most every
        ``FULL_EVERY_S`` (Python itself waits until a quarter of it is new, which it does not let us read)."""
        count0, count1, count2 = gc.get_count()
        if count0 > self._thresholds[0]:
            generation = 0
            if count1 > self._thresholds[1]:
                generation = 1
                if count2 > self._thresholds[2] and time.monotonic() - self._last_full >= FULL_EVERY_S:
                    generation = 2
                    self._last_full = time.monotonic()
            gc.collect(generation)

    def stop(self) -> None:
        """Hand collection back to Python (as it was before)."""
        self._timer.stop()
        if self._was_enabled:
            gc.enable()
