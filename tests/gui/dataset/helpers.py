"""Small helpers shared by the dataset panel tests."""

from __future__ import annotations

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
