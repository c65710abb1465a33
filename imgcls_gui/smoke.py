"""``imgcls-gui --smoke-test`` (also ``python -m imgcls_gui.smoke``): prove an installed or frozen app works.

It runs what a user's first session runs, offscreen and inside a temporary folder whose name has a
space and non-ASCII letters: boots the real main window, creates the demo project, shows every
panel, trains one tiny epoch in a separate worker process whose DataLoader uses worker processes
too, exports ONNX (with the export's own parity check against PyTorch) and predicts a folder of
images. It prints one summary line and exits 0; any failure, including any error dialog the app
showed, prints the step and the error and exits 1.

Every process it starts is *spawned*, the way Windows and macOS always start them: in a frozen
app that means running the executable again, which only works when the entry point calls
``multiprocessing.freeze_support()`` first. The worker also checks torchvision's compiled
operators, whose absence is the classic way a PyInstaller bundle of torchvision breaks.
"""

from __future__ import annotations

import argparse
import contextlib
import faulthandler
import multiprocessing
import os
import queue
import shutil
import sys
import tempfile
import time
import traceback
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .engine.events import BatchEnd, FitStart

SMOKE_MODEL = "mobilenet_v3_small"
SMOKE_IMAGE_SIZE = 32
LOADER_WORKERS = 1
PREDICT_PER_CLASS = 3
DEADLINE_S = 900  # a hung child (e.g. a spawned process that opened a window instead) must not hang CI
WORKDIR_PREFIX = "imgcls smoke ü-"  # a space and a non-ASCII letter in every path the test touches


_deadline_stream: Any = None


class SmokeTestFailed(Exception):
    """One step of the smoke test failed; the message names the step."""


@dataclass(frozen=True)
class TrainingOutcome:
    """What the training worker process reports back."""

    train_images: int
    val_images: int
    classes: tuple[str, ...]
    loader_processes: int  # DataLoader worker processes seen alive while batches arrived
    val_accuracy: float
    torchvision_ops: str


@dataclass(frozen=True)
class SmokeReport:
    frozen: bool
    device: str
    panels: int
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
            f"1 epoch of {SMOKE_MODEL} in a worker process with {t.loader_processes} DataLoader worker "
            f"process(es), val accuracy {t.val_accuracy:.2f}; "
            f"torchvision ops {t.torchvision_ops}; ONNX parity {self.onnx_max_abs_diff:.1e}; "
            f"predicted {self.predicted} images ({self.predicted_correct} right); device {self.device}; "
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


def smoke_config(project_dir: Path) -> dict[str, Any]:
    """The tiny run: no pretrained weights (no download), nothing frozen (so images go through the
    DataLoader rather than a feature cache), small images, one epoch on the CPU."""
    from .engine.config import DataConfig, FreezeConfig, ModelConfig, RunConfig, TrainConfig

    return RunConfig(
        data=DataConfig(path=str(project_dir), num_workers=LOADER_WORKERS),
        model=ModelConfig(name=SMOKE_MODEL, weights="none", image_size=SMOKE_IMAGE_SIZE),
        freeze=FreezeConfig(mode="none"),
        train=TrainConfig(epochs=1, batch_size=32, device="cpu", feature_cache=False),
    ).to_dict()


# -- the training worker process ----------------------------------------------------------------

class _RunWatcher:
    """Trainer callback: the run's sizes, and how many child processes (DataLoader workers) are
    alive while batches arrive."""

    def __init__(self) -> None:
        self.most_children = 0
        self.start: Any = None

    def on_event(self, event: object) -> None:
        if isinstance(event, FitStart):
            self.start = event
        elif isinstance(event, BatchEnd):
            self.most_children = max(self.most_children, len(multiprocessing.active_children()))


def torchvision_ops_check() -> str:
    """Run one compiled torchvision operator and say which extensions loaded; raise if one is missing."""
    import torch
    import torchvision
    from torchvision.extension import _has_ops
    from torchvision.io.image import _has_image_ops

    if not _has_ops():
        raise RuntimeError("torchvision's compiled operators (_C_stable) did not load; the bundle misses them")
    if not _has_image_ops():
        raise RuntimeError("torchvision's image extension (image_stable) did not load; the bundle misses it")
    boxes = torch.tensor([[0.0, 0.0, 10.0, 10.0], [1.0, 1.0, 10.0, 10.0], [20.0, 20.0, 30.0, 30.0]])
    kept = torchvision.ops.nms(boxes, torch.tensor([0.9, 0.8, 0.7]), iou_threshold=0.5)
    if kept.tolist() != [0, 2]:
        raise RuntimeError(f"torchvision.ops.nms returned {kept.tolist()}, expected [0, 2]")
    return "nms+image ok"


def train_in_worker(config: dict[str, Any], run_dir: str, results: Any) -> None:
    """Body of the training worker process: put ("ok", TrainingOutcome) or ("error", traceback) on ``results``."""
    multiprocessing.set_start_method("spawn", force=True)  # DataLoader workers: spawned like on Windows/macOS
    arm_deadline()  # an orphan must not outlive a parent that gave up
    try:
        from .engine.config import RunConfig
        from .engine.training.trainer import Trainer

        run_config = RunConfig.from_dict(config)  # a bad config fails before torch loads
        ops = torchvision_ops_check()
        watcher = _RunWatcher()
        result = Trainer(run_config, run_dir, callbacks=[watcher]).fit()
        if result.epochs_run != 1:
            raise RuntimeError(f"trained {result.epochs_run} epochs instead of 1")
        if watcher.most_children < LOADER_WORKERS:
            raise RuntimeError(f"no DataLoader worker process was alive during training (saw {watcher.most_children})")
        start = watcher.start
        outcome = TrainingOutcome(start.train_size, start.val_size, tuple(start.classes), watcher.most_children,
                                  float(result.final.get("accuracy", float("nan"))), ops)
        results.put(("ok", outcome))
    except BaseException:  # noqa: BLE001 - everything must reach the parent as text
        results.put(("error", traceback.format_exc()))


def train_in_worker_process(config: dict[str, Any], run_dir: Path, wait: Any = None) -> TrainingOutcome:
    """Start ``train_in_worker`` in a spawned process and wait for its answer (``wait()`` runs while waiting)."""
    context = multiprocessing.get_context("spawn")
    results = context.Queue()
    process = context.Process(target=train_in_worker, args=(config, str(run_dir), results), name="imgcls-smoke-train")
    process.start()
    answer = None
    while answer is None:
        if wait is not None:
            wait()
        try:
            answer = results.get(timeout=0.2)
        except queue.Empty:
            if not process.is_alive():
                with contextlib.suppress(queue.Empty):  # it may have answered just before exiting
                    answer = results.get(timeout=1.0)
                if answer is None:
                    raise RuntimeError(f"the training process died without an answer (exit code {process.exitcode})")
    process.join(timeout=60)
    kind, payload = answer
    if kind != "ok":
        raise RuntimeError(f"the training process failed:\n{payload}")
    return payload


# -- the app side -------------------------------------------------------------------------------

def isolate(workdir: Path) -> None:
    """Keep the user's data, caches, downloads and recent-project list out of it."""
    os.environ["IMGCLS_DATA_DIR"] = str(workdir / "data")
    os.environ["IMGCLS_CACHE_DIR"] = str(workdir / "cache")
    os.environ["TORCH_HOME"] = str(workdir / "torch")
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")  # works with no display, and opens no window on one


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
    """The status bar's device, once the probe (torch imported in a worker thread) has answered."""
    deadline = time.monotonic() + timeout_s
    while window.state.device in ("", "detecting…") and time.monotonic() < deadline:
        app.processEvents()
        time.sleep(0.05)
    device = window.state.device
    if device in ("", "detecting…") or device.startswith("unavailable"):
        raise RuntimeError(f"the device probe did not find a device: {device!r}")
    return device


def export_model_bundle(run_dir: Path, out_dir: Path) -> Any:
    """The export a user ships: model.onnx (written only after its parity check against PyTorch
    passed) plus labels.json, predict.py and README.md, which are copied from package files."""
    from .engine.deploy.export import export_bundle

    report = export_bundle(run_dir, out_dir)
    expected = ("model.onnx", "labels.json", "predict.py", "README.md")
    missing = [name for name in expected if not (out_dir / name).is_file()]
    if missing:
        raise RuntimeError(f"the export bundle lacks {', '.join(missing)}")
    return report


def predict_folder(model_path: Path, demo_images: Path, folder: Path, classes: Sequence[str]) -> tuple[int, int]:
    """Copy a few demo images per class into ``folder``, predict it; (predicted, right)."""
    from .engine.deploy.predict import Predictor
    from .engine.deploy.predict_io import iter_image_paths

    folder.mkdir(parents=True)
    for name in classes:
        for source in sorted((demo_images / name).glob("*.png"))[-PREDICT_PER_CLASS:]:
            shutil.copy2(source, folder / f"{name}_{source.name}")
    paths = iter_image_paths([folder])
    if len(paths) != PREDICT_PER_CLASS * len(classes):
        raise RuntimeError(f"expected {PREDICT_PER_CLASS * len(classes)} images in {folder}, found {len(paths)}")
    predictions = Predictor.load(model_path).predict(paths)
    failed = [p for p in predictions if p.error or p.label not in classes]
    if len(predictions) != len(paths) or failed:
        raise RuntimeError(f"{len(failed)} of {len(paths)} predictions failed, e.g. {failed[:1]}")
    return len(predictions), sum(p.label == p.path.name.split("_")[0] for p in predictions)


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
        with step("training in a worker process"):
            training = train_in_worker_process(smoke_config(project_dir), workdir / "run", wait=app.processEvents)
        with step("detecting the device"):
            device = wait_for_device(app, window)
        with step("exporting ONNX"):
            exported = export_model_bundle(workdir / "run", workdir / "exported model")
        with step("predicting a folder"):
            from .engine.data.demo import DEMO_FOLDER_NAME

            demo_images = Path(os.environ["IMGCLS_DATA_DIR"]) / DEMO_FOLDER_NAME
            predicted, right = predict_folder(exported.path, demo_images, workdir / "to predict", training.classes)
        with step("loading Qt Multimedia"):  # reported, not required: a machine may lack its system libraries
            camera_support = camera_support_problem()
        with step("closing the app"):
            check_no_error_dialogs(app)
            close_window(window)
    finally:
        from .gui.worker import stop_all_workers

        window.close()  # after a failure too: the project lock is released, no thread outlives Qt
        stop_all_workers(30_000)
    return SmokeReport(bool(getattr(sys, "frozen", False)), device, panels, training, exported.max_abs_diff,
                       predicted, right, time.monotonic() - started, camera_support)


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
