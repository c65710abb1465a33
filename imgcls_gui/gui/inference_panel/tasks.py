"""Worker tasks of the Inference panel: plain functions over the engine's Predictor (no Qt)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from ...engine import Prediction, Predictor, SortReport, UntrustedCodeError
from ..background import import_torch, lower_thread_priority
from ..common.child_jobs import in_child
from ..worker import TaskState


@dataclass(frozen=True)
class CodeConsentNeeded:
    """The chosen file is TorchScript not exported on this machine: the user must agree before it loads."""

    path: Path


def load_predictor_task(task: TaskState, path: Path, trust_code: bool = False) -> Predictor | CodeConsentNeeded:
    """Open a run folder, ``.pt`` checkpoint, TorchScript export or ``.onnx`` file; TorchScript from
    elsewhere comes back as ``CodeConsentNeeded`` (a question for the UI thread, not an error).

    On the CPU, always: the app's process never initialises CUDA (issue 20). This copy names the classes and
    serves the live view and the watched folder; a folder's prediction runs in the child process, whose own copy
    uses the GPU when there is one."""
    lower_thread_priority()  # onnxruntime's threads, created here, inherit it
    import_torch()
    try:
        return Predictor.load(path, device="cpu", trust_code=trust_code)
    except UntrustedCodeError:
        return CodeConsentNeeded(path)


def list_images_task(task: TaskState, inputs: Sequence[Path]) -> list[Path]:
    """Image files named or found (recursively) in the dropped or chosen files and folders."""
    from ...engine import iter_image_paths

    return iter_image_paths(inputs, recursive=True)


def predict_task(task: TaskState, predictor: Predictor, paths: Sequence[Path], top_k: int, batch_size: int) -> int:
    """Predict batch by batch in the warm child process (its model file loaded there once); each batch goes out
    as an event (a tuple of Predictions) so the table fills while the run goes. Cancelling keeps what was
    predicted so far. Returns files predicted."""
    from ...engine import predict_in_child

    return in_child(task, predict_in_child, predictor, list(paths), top_k, batch_size)


def sort_task(task: TaskState, predictions: Sequence[Prediction], dest: Path, move: bool,
              classes: Sequence[str] = ()) -> SortReport:
    """Copy (or move) each image into ``dest/<label>/`` (``uncertain/`` when no label passes)."""
    from ...engine import sort_into

    return sort_into(predictions, dest, move=move, classes=classes)


@dataclass(frozen=True)
class WatchStarted:
    """Told once the watch runs: how it learns of new files, and why it polls if it does."""

    folder: Path
    mode: str  # "events" | "polling"
    fallback_reason: str


def watch_task(task: TaskState, predictor: Predictor, folder: Path, top_k: int, batch_size: int) -> int:
    """Classify the folder's images, then each new one once complete, until the task is cancelled.
    Each batch goes out as an event (a tuple of Predictions); returns the files classified."""
    from ...engine import WatchControl, watch_and_predict

    lower_thread_priority()
    import_torch()

    class TaskControl(WatchControl):  # the worker's interruption is the stop
        @property
        def stopped(self) -> bool:
            return task.is_interruption_requested() or super().stopped

        def wait(self, seconds: float) -> bool:
            return super().wait(seconds) or self.stopped

    def started(watcher) -> None:
        task.emit_event(WatchStarted(folder, watcher.mode, watcher.fallback_reason))

    summary = watch_and_predict(predictor, folder, lambda batch: task.emit_event(tuple(batch)), TaskControl(),
                                top_k=top_k, batch_size=batch_size, on_start=started)
    return summary.predicted
