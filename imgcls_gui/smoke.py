"""``imgcls-gui --smoke-test`` (also ``python -m imgcls_gui.smoke``): prove an installed or frozen app works.

It runs what a user's first session runs, offscreen and inside a temporary folder whose name has a
space and non-ASCII letters: boots the real main window, creates the demo project, shows every
panel, then in the app's own child process (``smoke_child.py``), as the app's panels use it: trains
one tiny epoch whose DataLoader uses worker processes, exports ONNX (with the export's own parity
check against PyTorch) and predicts a folder of images. It prints one summary line and exits 0; any
failure, including any error dialog the app showed, prints the step and the error and exits 1.

The child is *spawned*, the way Windows and macOS always start processes: in a frozen app that means
running the executable again, which becomes the child only because the entry point calls
``multiprocessing.freeze_support()`` first; the child checks that it is another process with no Qt GUI
module loaded (so no window) and runs torchvision's compiled operators, whose absence is the classic
way a PyInstaller bundle of torchvision breaks.
"""

from __future__ import annotations

import argparse
import contextlib
import faulthandler
import multiprocessing
import os
import shutil
import sys
import tempfile
import time
import traceback
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .smoke_child import (SMOKE_MODEL, TrainingOutcome, check_child, export_bundle_in_child,
                          predict_folder_in_child, smoke_config, train_in_child)

DEADLINE_S = 900  # a hung child (e.g. a spawned process that opened a window instead) must not hang CI
WORKDIR_PREFIX = "imgcls smoke ü-"  # a space and a non-ASCII letter in every path the test touches


_deadline_stream: Any = None


class SmokeTestFailed(Exception):
    """One step of the smoke test failed; the message names the step."""


@dataclass(frozen=True)
class SmokeReport:
    frozen: bool
    device: str
    panels: int
    child_pid: int  # the app's child process, where every step after the device probe ran
    own_pid: int  # this process: the app's
    torchvision_ops: str
    training: TrainingOutcome
    onnx_max_abs_diff: float
    predicted: int
    predicted_correct: int
    seconds: float
    camera_support: str = ""  # "" when Qt Multimedia loads (Capture view, live prediction), else why not

    def summary(self) -> str:
        t = self.training
        where = "frozen app" if self.frozen else "from source"
        return (
            f"imgcls smoke test passed ({where}, {self.seconds:.0f} s): demo project "
            f"{t.train_images + t.val_images} images in {len(t.classes)} classes, {self.panels} panels shown; "
            f"in the app's child process (pid {self.child_pid}, the app's is {self.own_pid}): "
            f"1 epoch of {SMOKE_MODEL} with {t.loader_processes} DataLoader worker process(es), "
            f"val accuracy {t.val_accuracy:.2f}; torchvision ops {self.torchvision_ops}; "
            f"ONNX parity {self.onnx_max_abs_diff:.1e}; predicted {self.predicted} images "
            f"({self.predicted_correct} right); device {self.device}; "
            f"camera support {'yes' if not self.camera_support else 'no (' + self.camera_support + ')'}"
        )


@contextlib.contextmanager
def step(name: str) -> Iterator[None]:
    """Name the step in any failure, so the one line printed says where the app broke."""
    try:
        yield
    except SmokeTestFailed:
        raise
    except BaseException as exc:  # noqa: BLE001 - the smoke test reports every failure, then exits non-zero
        raise SmokeTestFailed(f"{name}: {type(exc).__name__}: {exc}") from exc


# -- the app side -------------------------------------------------------------------------------

def isolate(workdir: Path) -> None:
    """Keep the user's data, caches, downloads and recent-project list out of it (the app's child gets this
    environment with every job)."""
    os.environ["IMGCLS_DATA_DIR"] = str(workdir / "data")
    os.environ["IMGCLS_CACHE_DIR"] = str(workdir / "cache")
    os.environ["TORCH_HOME"] = str(workdir / "torch")
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")  # works with no display, and opens no window on one
    os.environ["IMGCLS_TEST_HOOKS"] = "1"  # the child then reports its DataLoader workers (smoke_child.py)


def boot_window(workdir: Path) -> tuple[Any, Any]:
    """The real main window (with its device probe), shown offscreen, QSettings in ``workdir``."""
    from PySide6.QtCore import QCoreApplication, QSettings
    from PySide6.QtWidgets import QApplication

    from .gui.errors import install_excepthook
    from .gui.main_window import MainWindow, app_icon

    QCoreApplication.setOrganizationName("imgcls-smoke-test")
    QCoreApplication.setApplicationName("imgcls-smoke-test")
    QSettings.setDefaultFormat(QSettings.Format.IniFormat)
    QSettings.setPath(QSettings.Format.IniFormat, QSettings.Scope.UserScope, str(workdir / "settings"))
    app = QApplication.instance() or QApplication([sys.argv[0] if sys.argv else "imgcls"])
    app.setWindowIcon(app_icon())
    if app_icon().isNull():
        raise RuntimeError("the app icon was not found (resources/icons missing from the bundle?)")
    install_excepthook()  # as the app does: an error in any slot becomes a dialog, which fails the test
    window = MainWindow()
    window.show()
    app.processEvents()
    return app, window


def open_demo_project(window: Any, timeout_s: float = 120.0) -> Path:
    """File > Open demo project, as the user's first click does."""
    from PySide6.QtWidgets import QApplication

    from .gui.errors import open_error_dialogs

    opened = window.projects.open_demo_project()
    deadline = time.monotonic() + timeout_s
    while window.importer.busy and time.monotonic() < deadline:  # the import worker writes the digits
        QApplication.processEvents()
        time.sleep(0.02)
    if not opened or window.importer.busy or not window.state.project.image_count():
        texts = "; ".join(d.text() for d in open_error_dialogs()) or "no message"
        raise RuntimeError(f"the demo project did not open with its images: {texts}")
    return Path(window.state.project.folder)


def visit_panels(app: Any, window: Any) -> int:
    """Show every panel once with the demo project open, as a user clicking down the sidebar does
    (panels are imported by name when first shown: a module missing from a bundle shows up here)."""
    from .gui.panels import PANELS

    for spec in PANELS:
        window.show_panel(spec.key)
        app.processEvents()
    return len(PANELS)


def wait_for_device(app: Any, window: Any, timeout_s: float = 120.0) -> str:
    """The status bar's device, once the probe (a worker thread asking the app's child process) has answered."""
    deadline = time.monotonic() + timeout_s
    while window.state.device in ("", "detecting…") and time.monotonic() < deadline:
        app.processEvents()
        time.sleep(0.05)
    device = window.state.device
    if device in ("", "detecting…") or device.startswith("unavailable"):
        raise RuntimeError(f"the device probe did not find a device: {device!r}")
    return device


def check_no_error_dialogs(app: Any) -> None:
    """Fail on any error dialog shown so far (the excepthook turns every uncaught error into one)."""
    from .gui.errors import open_error_dialogs

    app.processEvents()  # errors from other threads arrive as queued signals
    errors = [d.text() for d in open_error_dialogs()]
    if errors:
        raise RuntimeError("the app showed an error: " + " | ".join(errors))


def close_window(window: Any) -> None:
    """Close as the user does, and fail if a worker thread still runs afterwards: the real app would
    then abort on exit ("QThread: Destroyed while thread is still running")."""
    from .gui.worker import running_workers, stop_all_workers

    window.close()  # no event processing after this, as in the app once its event loop has ended
    left = sorted(worker.objectName() for worker in running_workers())
    if left:
        stop_all_workers(30_000)  # so that this process still exits cleanly
        raise RuntimeError(f"worker thread(s) {', '.join(left)} still ran after the window closed; "
                           "the app aborts on exit")


def camera_support_problem() -> str:
    """'' when Qt Multimedia loads and its media backend (FFmpeg, a plugin) can decode some file format."""
    from .gui.common.frames import multimedia_problem

    problem = multimedia_problem()
    if problem:
        return problem
    from PySide6.QtMultimedia import QMediaFormat

    decodable = QMediaFormat().supportedFileFormats(QMediaFormat.ConversionMode.Decode)
    return "" if decodable else "Qt Multimedia loads but no media backend plugin decodes any format"


def run_smoke_test(workdir: Path) -> SmokeReport:
    """Every step in order; raises SmokeTestFailed naming the step that broke."""
    started = time.monotonic()
    isolate(workdir)
    with step("starting the app"):
        app, window = boot_window(workdir)
    try:
        with step("creating the demo project"):
            project_dir = open_demo_project(window)
        with step("showing the panels"):
            panels = visit_panels(app, window)
            check_no_error_dialogs(app)
        with step("detecting the device"):  # in the app's child: once it answers, that child is idle for the rest
            device = wait_for_device(app, window)
        from .engine import DEMO_FOLDER_NAME, acquire_child, release_child

        child = acquire_child()  # the warm child, taken as the app's tasks take it
        try:
            with step("checking the app's child process"):
                check = check_child(child)
            with step("training in the app's child process"):
                dataset = window.state.project.to_labeled_dataset()  # what the Training panel sends
                training = train_in_child(child, smoke_config(project_dir), workdir / "run", dataset)
            with step("exporting ONNX in the app's child process"):
                exported = export_bundle_in_child(child, workdir / "run", workdir / "exported model")
            with step("predicting a folder in the app's child process"):
                demo_images = Path(os.environ["IMGCLS_DATA_DIR"]) / DEMO_FOLDER_NAME
                predicted, right = predict_folder_in_child(child, exported.path, demo_images, workdir / "to predict",
                                                           training.classes)
        finally:
            release_child(child)
        with step("loading Qt Multimedia"):  # reported, not required: a machine may lack its system libraries
            camera_support = camera_support_problem()
        with step("closing the app"):
            check_no_error_dialogs(app)
            close_window(window)
    finally:
        from .engine import shutdown_children
        from .gui.worker import stop_all_workers

        window.close()  # after a failure too: the project lock is released, no thread outlives Qt
        stop_all_workers(30_000)
        shutdown_children()  # the warm child ends with the app, as gui/app.py ends it
    return SmokeReport(bool(getattr(sys, "frozen", False)), device, panels, check.pid, os.getpid(),
                       check.torchvision_ops, training, exported.max_abs_diff, predicted, right,
                       time.monotonic() - started, camera_support)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="imgcls --smoke-test", description=__doc__.splitlines()[0])
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder (its path is printed)")
    args = parser.parse_args(argv)
    multiprocessing.freeze_support()  # harmless when the entry point already called it
    err = arm_deadline()
    workdir = Path(tempfile.mkdtemp(prefix=WORKDIR_PREFIX))
    try:
        report = run_smoke_test(workdir)
    except SmokeTestFailed as exc:
        traceback.print_exception(exc.__cause__ or exc, file=err)
        _say(f"imgcls smoke test FAILED at {exc}")
        return 1
    finally:
        faulthandler.cancel_dump_traceback_later()
        if args.keep:
            _say(f"kept {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    _say(report.summary())
    return 0


def arm_deadline() -> Any:
    """After DEADLINE_S, print every thread's stack and exit 1: a hang fails instead of blocking CI.
    Returns the stream errors go to (windowed Windows apps have no stderr)."""
    global _deadline_stream
    # Kept in a global: faulthandler holds only the file descriptor.
    _deadline_stream = sys.stderr if sys.stderr is not None else open(os.devnull, "w")
    faulthandler.dump_traceback_later(DEADLINE_S, exit=True, file=_deadline_stream)
    return _deadline_stream


def _say(line: str) -> None:
    if sys.stdout is not None:
        print(line, flush=True)


if __name__ == "__main__":
    sys.exit(main())
