"""Uncaught exceptions become a dialog (message + details) and the app keeps running."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import threading

import pytest
from imgcls_gui.engine.errors import ConfigError
from imgcls_gui.gui import errors


@pytest.fixture(autouse=True)
def restore_hooks(monkeypatch):
    """install_excepthook() is global: put pytest's hooks back afterwards."""
    monkeypatch.setattr(sys, "excepthook", sys.excepthook)
    monkeypatch.setattr(threading, "excepthook", threading.excepthook)


def raise_and_hook(exc: BaseException) -> None:
    try:
        raise exc
    except BaseException as caught:  # noqa: BLE001 - handing it to the hook is the point
        errors.handle_exception(type(caught), caught, caught.__traceback__)


def test_user_errors_show_as_they_are_and_bugs_as_unexpected(qtbot):
    errors.install_excepthook()
    raise_and_hook(ConfigError("run.yaml: optim.lr must be a number; fix the file."))
    raise_and_hook(ZeroDivisionError("division by zero"))
    dialogs = errors.open_error_dialogs()
    assert [d.text() for d in dialogs] == [
        "run.yaml: optim.lr must be a number; fix the file.",
        "Unexpected error: ZeroDivisionError: division by zero",
    ]
    assert "Traceback" in dialogs[1].detailedText() and "raise_and_hook" in dialogs[1].detailedText()


def test_a_repeating_error_does_not_bury_the_window(qtbot):
    errors.install_excepthook()
    for n in range(10):
        raise_and_hook(RuntimeError(f"boom {n % 5}"))
    assert len(errors.open_error_dialogs()) == errors.MAX_OPEN_DIALOGS


def test_exceptions_from_other_threads_reach_the_ui_thread(qtbot):
    errors.install_excepthook()
    thread = threading.Thread(target=lambda: (_ for _ in ()).throw(ValueError("from a thread")))
    thread.start()
    thread.join()
    qtbot.waitUntil(lambda: bool(errors.open_error_dialogs()), timeout=5_000)
    assert errors.open_error_dialogs()[0].text() == "Unexpected error: ValueError: from a thread"


def test_an_exception_in_a_slot_leaves_the_app_running(tmp_path):
    """A real app process: a slot raises, the dialog appears, and the event loop goes on to the next timer."""
    code = textwrap.dedent("""
        import os, sys
        os.environ["QT_QPA_PLATFORM"] = "offscreen"
        from PySide6.QtCore import QTimer
        from PySide6.QtWidgets import QApplication, QPushButton
        from imgcls_gui.gui import errors
        app = QApplication([])
        errors.install_excepthook()
        button = QPushButton("crash")
        button.clicked.connect(lambda: 1 / 0)
        button.show()
        QTimer.singleShot(50, button.click)
        def later():
            print("dialogs:", [d.text() for d in errors.open_error_dialogs()], flush=True)
            app.quit()
        QTimer.singleShot(500, later)
        sys.exit(app.exec())
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert "dialogs: ['Unexpected error: ZeroDivisionError: division by zero']" in out.stdout
    assert "ZeroDivisionError" in out.stderr  # the traceback is logged too
