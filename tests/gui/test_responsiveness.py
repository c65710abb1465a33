"""The UI thread keeps answering while a real training run goes (issue 4: no stall over 50 ms).

A 10 ms QTimer ticks on the UI thread during a small real run started from the Training panel;
the longest gap between ticks is how long the window could not have repainted or reacted to a
click. The figure is printed (``pytest -s``) because it depends on the machine and its load: the
assertion is a generous bound that holds on a busy 2-core CI machine; the issue's target is 50 ms.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest
from PySide6.QtCore import QObject, Qt, QTimer, Slot

from imgcls_gui.gui import errors as gui_errors
from imgcls_gui.gui.main_window import MainWindow

from .workflow_helpers import WAIT_MS, colour_project, fast_config, wait_workers

TICK_MS = 10
GENEROUS_BOUND_MS = 500


class TickMeter(QObject):
    """Gaps between ticks of a precise timer on the UI thread."""

    def __init__(self, interval_ms: int = TICK_MS) -> None:
        super().__init__()
        self.gaps_ms: list[float] = []
        self._last: float | None = None
        self.timer = QTimer(self)
        self.timer.setTimerType(Qt.TimerType.PreciseTimer)
        self.timer.setInterval(interval_ms)
        self.timer.timeout.connect(self.tick)

    def start(self) -> None:
        self._last = None
        self.gaps_ms.clear()
        self.timer.start()

    def stop(self) -> None:
        self.timer.stop()

    @Slot()
    def tick(self) -> None:
        now = time.perf_counter()
        if self._last is not None:
            self.gaps_ms.append((now - self._last) * 1000)
        self._last = now

    def summary(self) -> dict[str, float]:
        gaps = sorted(self.gaps_ms)
        return {"ticks": len(gaps), "max_ms": gaps[-1], "p99_ms": gaps[int(0.99 * (len(gaps) - 1))],
                "median_ms": gaps[len(gaps) // 2]}


@pytest.mark.slow
def test_longest_ui_stall_during_a_real_training_run(main_win: MainWindow, qtbot, tmp_path: Path, monkeypatch):
    monkeypatch.setenv("IMGCLS_CACHE_DIR", str(tmp_path / "cache"))
    colour_project(qtbot, main_win, tmp_path, per_class=10)
    main_win.state.set_run_config(fast_config(epochs=3))
    panel = main_win.panel("training")
    main_win.show_panel("training")
    wait_workers(qtbot)  # the panel imports what runs need while the user picks options; so does this test
    meter = TickMeter()
    meter.start()
    with qtbot.waitSignal(panel.session.finished, timeout=WAIT_MS):
        assert panel.start()
    qtbot.waitUntil(lambda: panel.results.results is not None, timeout=WAIT_MS)  # results view fills too
    meter.stop()
    summary = meter.summary()
    print(f"\nUI responsiveness during training: {summary}")
    assert not gui_errors.open_error_dialogs()
    assert summary["ticks"] >= 10  # the timer really ran through the run
    assert summary["max_ms"] < GENEROUS_BOUND_MS, summary


SPY = """
import os, sys, threading
os.environ["QT_QPA_PLATFORM"] = "offscreen"
first = []
class Spy:
    def find_spec(self, name, path=None, target=None):
        if name == "torch" and not first:
            first.append(threading.current_thread() is threading.main_thread())
        return None
sys.meta_path.insert(0, Spy())
from PySide6.QtWidgets import QApplication
app = QApplication([])
from imgcls_gui.gui.main_window import MainWindow
from imgcls_gui.gui.worker import stop_all_workers
window = MainWindow(probe_device=False)
window.show()
for key in ("model", "training", "inference"):
    window.show_panel(key)
    app.processEvents()
assert stop_all_workers(300_000)
print("torch first imported on the UI thread:", first == [True])
"""


def test_panels_import_torch_only_in_workers():
    """Showing the Model, Training and Inference panels loads torch in worker threads, never on the UI thread."""
    out = subprocess.run([sys.executable, "-c", SPY], capture_output=True, text=True, timeout=600,
                         cwd=Path(__file__).resolve().parents[2])
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip().splitlines()[-1] == "torch first imported on the UI thread: False"
