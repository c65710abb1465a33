"""One way to show an error: a dialog with a readable message and an expandable "details" part.

``install_excepthook()`` routes every uncaught exception (a slot, a timer, a thread) to that
dialog, so a bug costs the user one click instead of the session. ``ImgclsError`` messages are
written for users and shown as they are; anything else is an "Unexpected error" whose traceback
goes in the details.
"""

from __future__ import annotations

import sys
import threading
import traceback
from types import TracebackType

import shiboken6
from PySide6.QtCore import QObject, Qt, Signal, Slot
from PySide6.QtWidgets import QApplication, QMessageBox, QWidget

from ..engine import ImgclsError, OptionValueError, option_spec

MAX_OPEN_DIALOGS = 3  # an error repeating in a loop must not bury the window under dialogs
# Messages quote file and class names and file contents: a huge one (a YAML alias bomb once made 351 MB)
# would freeze the dialog's layout. The full text stays in the details.
MAX_MESSAGE_CHARS = 2000

_open_dialogs: list[QMessageBox] = []


# Options the Model & Freezing panel edits (the others are on the Training panel's form).
_MODEL_PANEL_OPTIONS = ("model.name", "model.weights", "model.hidden_size", "model.dropout", "freeze.")


def option_message(exc: OptionValueError) -> str:
    """An out-of-range option in the app's words: the editor's label and the panel that holds it."""
    label = option_spec(exc.option).option.label
    panel = "Model & Freezing" if exc.option.startswith(_MODEL_PANEL_OPTIONS) else "Training"
    return f"{label} ({panel} panel): {exc.value} {exc.reason}."


def describe_exception(exc: BaseException, tb: TracebackType | None = None) -> tuple[str, str]:
    """(message, details) for the dialog; the engine's own text stays in the details."""
    details = "".join(traceback.format_exception(type(exc), exc, tb or exc.__traceback__))
    if isinstance(exc, OptionValueError):
        return option_message(exc), details
    if isinstance(exc, ImgclsError):
        return str(exc), details
    return f"Unexpected error: {type(exc).__name__}: {exc}", details


def show_error(parent: QWidget | None, message: str, details: str = "", title: str = "imgcls") -> QMessageBox | None:
    """Open the error dialog without blocking (the app keeps running); returns it, or None when too many are open."""
    _open_dialogs[:] = open_error_dialogs()
    if len(message) > MAX_MESSAGE_CHARS:
        message = f"{message[:MAX_MESSAGE_CHARS]}… ({len(message) - MAX_MESSAGE_CHARS:,} more characters not shown)"
    if len(_open_dialogs) >= MAX_OPEN_DIALOGS or any(d.text() == message for d in _open_dialogs):
        return None
    if parent is None:
        parent = QApplication.activeWindow()
    dialog = QMessageBox(QMessageBox.Icon.Critical, title, message, QMessageBox.StandardButton.Ok, parent)
    dialog.setObjectName("errorDialog")
    dialog.setTextFormat(Qt.TextFormat.PlainText)  # a name like "<img src=...>" must show as typed, not render
    dialog.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
    if details:
        dialog.setDetailedText(details)  # QMessageBox shows a "Show Details..." button for it
    dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
    dialog.finished.connect(dialog.deleteLater)
    _open_dialogs.append(dialog)
    dialog.open()
    return dialog


def open_error_dialogs() -> list[QMessageBox]:
    """The error dialogs currently shown (tests look at them)."""
    return [d for d in _open_dialogs if shiboken6.isValid(d) and d.isVisible()]  # closed ones delete themselves


class _ErrorBridge(QObject):
    """Carries an exception report from any thread to the UI thread (queued signal)."""

    reported = Signal(str, str)

    def __init__(self) -> None:
        super().__init__()
        self.reported.connect(self.show)

    @Slot(str, str)
    def show(self, message: str, details: str) -> None:
        show_error(None, message, details)


_bridge: _ErrorBridge | None = None


def handle_exception(exc_type: type[BaseException], exc: BaseException, tb: TracebackType | None) -> None:
    """``sys.excepthook``: print the traceback (for logs) and show the dialog on the UI thread."""
    if issubclass(exc_type, KeyboardInterrupt):
        sys.__excepthook__(exc_type, exc, tb)
        return
    message, details = describe_exception(exc, tb)
    sys.stderr.write(details)
    if _bridge is None or QApplication.instance() is None:
        return
    if threading.current_thread() is threading.main_thread():
        _bridge.show(message, details)
    else:
        _bridge.reported.emit(message, details)


def install_excepthook() -> None:
    """Call once the QApplication exists (from the UI thread)."""
    global _bridge
    if _bridge is None:
        _bridge = _ErrorBridge()
    sys.excepthook = handle_exception
    threading.excepthook = _handle_thread_exception


def _handle_thread_exception(args: threading.ExceptHookArgs) -> None:
    if args.exc_value is not None and not issubclass(args.exc_type, SystemExit):
        handle_exception(args.exc_type, args.exc_value, args.exc_traceback)
