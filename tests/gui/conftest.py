"""GUI test fixtures: offscreen Qt, QSettings and app data isolated per test, the real main window."""

from __future__ import annotations

import gc
import os
from pathlib import Path

# Before any QApplication exists: offscreen, with a 1920x1200 screen (Qt's default offscreen screen, 800x600,
# is smaller than the main window's minimum size).
if os.environ.get("QT_QPA_PLATFORM", "offscreen") == "offscreen":
    os.environ["QT_QPA_PLATFORM"] = f"offscreen:configfile={Path(__file__).with_name('offscreen_screens.json')}"


import numpy as np  # noqa: E402
import pytest  # noqa: E402
from PIL import Image  # noqa: E402
from PySide6.QtCore import QCoreApplication, QEvent, QSettings  # noqa: E402

from imgcls_gui.gui import errors as gui_errors  # noqa: E402
from imgcls_gui.gui.main_thread_gc import MainThreadGarbageCollector  # noqa: E402
from imgcls_gui.gui.worker import stop_all_workers  # noqa: E402


@pytest.fixture(autouse=True)
def isolated_settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Each test gets its own QSettings file and per-user data folder (demo project), never the real ones."""
    QCoreApplication.setOrganizationName("imgcls-tests")
    QCoreApplication.setApplicationName("imgcls-tests")
    QSettings.setDefaultFormat(QSettings.Format.IniFormat)
    QSettings.setPath(QSettings.Format.IniFormat, QSettings.Scope.UserScope, str(tmp_path / "settings"))
    monkeypatch.setenv("IMGCLS_DATA_DIR", str(tmp_path / "data"))
    return tmp_path / "settings"


@pytest.fixture(autouse=True)
def no_leftover_dialogs(qapp):
    collector = MainThreadGarbageCollector()  # as in the app: cyclic garbage only on the UI thread
    yield
    collector.stop()
    for dialog in gui_errors.open_error_dialogs():
        dialog.close()
    # A worker importing torch cannot be interrupted and takes a minute or more on a loaded 2-core machine:
    # the wait is long so that only a worker that never ends fails here, not a slow one.
    assert stop_all_workers(300_000), "a worker thread outlived its test"
    # pytest-qt only calls deleteLater() on the test's widgets, which would then be destroyed in the next
    # test's first event loop, interleaved with that test's threads (CI once segfaulted there). Destroy them
    # now, inside their own test, while no worker runs.
    QCoreApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)
    # Collect their wrappers here, on the UI thread with no worker running, then freeze the survivors so the
    # next collections stay cheap (a full collection walks torch's ~400,000 objects otherwise).
    gc.collect()
    gc.freeze()


@pytest.fixture
def main_win(qtbot):
    """The real main window, shown (offscreen), without the torch device probe (tests that want it ask)."""
    from imgcls_gui.gui.main_window import MainWindow

    window = MainWindow(probe_device=False)
    qtbot.addWidget(window)
    window.show()
    qtbot.waitExposed(window)
    yield window
    window.close()


def write_png(path: Path, seed: int, size: tuple[int, int] = (40, 32)) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    pixels = np.random.default_rng(seed).integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)
    Image.fromarray(pixels).save(path)
    return path


@pytest.fixture
def class_folders(tmp_path: Path) -> Path:
    """photos/<class>/<n>.png: cat 4, dog 3, distinct tiny images."""
    root = tmp_path / "photos"
    seed = 0
    for name, count in (("cat", 4), ("dog", 3)):
        for i in range(count):
            seed += 1
            write_png(root / name / f"{name}{i}.png", seed)
    return root


@pytest.fixture
def hymenoptera(shared_datasets: Path) -> Path:
    path = shared_datasets / "hymenoptera"
    if not path.is_dir():
        pytest.skip("hymenoptera not in shared/datasets")
    return path


@pytest.fixture
def miml(shared_datasets: Path) -> Path:
    path = shared_datasets / "miml"
    if not (path / "miml_labels_2.csv").is_file():
        pytest.skip("miml not in shared/datasets")
    return path
