"""PySide6 6.12 on Python 3.11 takes a reference to None away with each void Qt call; the app's guard
keeps a long session (a live camera makes several such calls per frame) from aborting."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

SESSION = """
import os, sys
os.environ["QT_QPA_PLATFORM"] = "offscreen"
import imgcls_gui.gui
from PySide6.QtWidgets import QApplication, QLabel
app = QApplication([])
label = QLabel()
for _ in range(100_000):  # far more void calls than None has references in a fresh interpreter
    label.setText("frame")
print("alive")
"""


def test_many_void_qt_calls_do_not_abort_the_interpreter():
    proc = subprocess.run([sys.executable, "-c", SESSION], cwd=ROOT, capture_output=True, text=True, timeout=300,
                          env={**__import__("os").environ, "PYTHONPATH": str(ROOT)})
    assert proc.returncode == 0 and "alive" in proc.stdout, proc.stderr[-2000:]
