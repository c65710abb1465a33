"""``imgcls-gui``: start the desktop app (``--demo``, ``PROJECT_DIR``, ``--screenshot PATH``).

Start-up order matters for a fast first window: Qt and the window first, torch never here (the
device probe imports it in a worker once the window is up).
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import sys
from collections.abc import Sequence
from pathlib import Path

SCREENSHOT_TIMEOUT_MS = 90_000  # a cap: the demo import and the device probe both wait for torch's first import


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="imgcls-gui", description="imgcls desktop app: label, train, evaluate.")
    parser.add_argument("project", nargs="?", metavar="PROJECT_DIR", help="open this project folder")
    parser.add_argument("--demo", action="store_true", help="open (creating it the first time) the demo project")
    parser.add_argument("--screenshot", metavar="PATH", help="save a PNG of the window once it has loaded, then quit")
    parser.add_argument("--panel", default=None, help="show this panel first (dataset, model, training, inference)")
    parser.add_argument("--smoke-test", action="store_true", help="check this installation end to end offscreen, then exit")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    multiprocessing.freeze_support()  # first: a frozen app's worker processes re-enter here
    args = build_parser().parse_args(argv)
    if args.smoke_test:
        from ..smoke import main as smoke_main

        return smoke_main([])

    from PySide6.QtCore import QCoreApplication, QTimer
    from PySide6.QtWidgets import QApplication

    from .errors import install_excepthook
    from .main_thread_gc import MainThreadGarbageCollector
    from .main_window import MainWindow, app_icon
    from .worker import running_workers
    from .settings import APPLICATION, ORGANISATION

    QCoreApplication.setOrganizationName(ORGANISATION)
    QCoreApplication.setApplicationName(APPLICATION)
    app = QApplication.instance() or QApplication([sys.argv[0] if sys.argv else "imgcls-gui"])
    app.setApplicationDisplayName("imgcls")
    app.setWindowIcon(app_icon())
    install_excepthook()
    collector = MainThreadGarbageCollector(app)  # cyclic garbage (Qt wrappers among it) only on the UI thread

    window = MainWindow()
    window.show()
    if args.demo:
        QTimer.singleShot(0, window.projects.open_demo_project)
    elif args.project:
        folder = Path(args.project)
        QTimer.singleShot(0, lambda: window.projects.open_project(folder))  # UI thread: a timer, not a worker
    if args.panel:
        QTimer.singleShot(0, lambda: window.show_panel(args.panel))
    if args.screenshot:
        from .screenshot import ScreenshotTaker

        window._screenshot = ScreenshotTaker(window, Path(args.screenshot), SCREENSHOT_TIMEOUT_MS)  # kept alive
    code = app.exec()
    # Quitting (the screenshot's quit, or the session ending) does not close the window: close it so its
    # settings are saved, the project lock released and the workers asked to stop. A worker that cannot
    # stop (a first import of torch cannot be interrupted) would abort the process as its QThread is
    # destroyed; leave without running destructors instead.
    window.close()
    collector.stop()
    from ..engine import shutdown_children

    shutdown_children()  # the warm training child; os._exit below would skip the at-exit handler
    if running_workers():
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    return code


if __name__ == "__main__":
    sys.exit(main())
