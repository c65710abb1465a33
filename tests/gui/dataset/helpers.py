"""Small helpers shared by the dataset panel tests."""

from __future__ import annotations

import warnings
from pathlib import Path

from imgcls_gui.gui.main_window import MainWindow
from imgcls_gui.gui.state import ImportRequest


def import_and_wait(qtbot, window: MainWindow, *paths: Path, format: str = "auto") -> None:
    """Import through the real path (worker + UI-thread write) and wait until the views reloaded."""
    with qtbot.waitSignal(window.state.imagesChanged, timeout=60_000):
        window.state.request_import(ImportRequest(tuple(paths), format))


def labels_by_row(panel) -> dict[int, tuple[str, ...]]:
    model = panel.model
    return {model.record(row).id: model.record(row).labels for row in range(model.rowCount())}


def drag_enter_then_drop(widget, paths: list[Path]):
    """What a file manager does: a drag enters ``widget`` and must be accepted, then the drop arrives; both go
    through Qt's event dispatch with file URLs in the mime data. Returns the drop event."""
    from PySide6.QtCore import QMimeData, QPoint, QPointF, Qt, QUrl
    from PySide6.QtGui import QDragEnterEvent, QDropEvent
    from PySide6.QtWidgets import QApplication

    taker = widget  # Qt hands a drag to the nearest widget, from the one under the mouse up, that takes drops
    while taker is not None and not taker.acceptDrops():
        taker = taker.parentWidget()
    assert taker is not None, f"neither {type(widget).__name__} nor a parent takes drops: a real drag is refused"
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(p)) for p in paths])
    with warnings.catch_warnings():  # PySide6 marks the only QDragEnterEvent constructor there is as deprecated
        warnings.simplefilter("ignore", DeprecationWarning)
        enter = QDragEnterEvent(QPoint(20, 20), Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton,
                                Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(widget, enter)
    assert enter.isAccepted(), "the drag was refused on entering, so no drop would follow"
    drop = QDropEvent(QPointF(20, 20), Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton,
                      Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(widget, drop)
    assert drop.isAccepted()
    return drop
