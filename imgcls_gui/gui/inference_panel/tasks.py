"""Worker tasks of the Inference panel (no Qt). The model is loaded, and every image predicted, in the app's warm
child process (``engine/deploy/jobs.py``, ``inference_jobs.py``); the app holds only its ``ModelDescription``."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from ...engine import ModelDescription, Prediction, SortReport, UntrustedCodeError
from ..common.child_jobs import in_child
from ..worker import TaskState


@dataclass(frozen=True)
class CodeConsentNeeded:
    """The chosen file is TorchScript not exported on this machine: the user must agree before it loads."""

    path: Path


def load_predictor_task(task: TaskState, path: Path, trust_code: bool = False) -> ModelDescription | CodeConsentNeeded:
    """Open a run folder, ``.pt`` checkpoint, TorchScript export or ``.onnx`` file in the child process (which keeps
    it loaded for the predictions that follow, on the GPU when there is one) and return its description; TorchScript
    from elsewhere comes back as ``CodeConsentNeeded`` (a question for the UI thread, not an error). The app's
    process never loads a model, so it never imports torch or initialises CUDA for one (issue 20)."""
    from ...engine import describe_in_child

    try:
        return in_child(task, describe_in_child, path, trust_code, successor_of="describe")
    except UntrustedCodeError:
        return CodeConsentNeeded(path)


def list_images_task(task: TaskState, inputs: Sequence[Path]) -> list[Path]:
    """Image files named or found (recursively) in the dropped or chosen files and folders."""
    from ...engine import iter_image_paths

    return iter_image_paths(inputs, recursive=True)


def predict_task(task: TaskState, predictor: ModelDescription, paths: Sequence[Path], top_k: int,
                 batch_size: int) -> int:
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


def watch_task(task: TaskState, predictor: ModelDescription, folder: Path, top_k: int, batch_size: int) -> int:
    """Classify the folder's images, then each new one once complete, in the child process until the task is
    cancelled (its Stop). The child's ``WatchStarted`` and each batch (a tuple of Predictions) go out as events;
    returns the files classified."""
    from ...engine import watch_in_child

    return in_child(task, watch_in_child, predictor, folder, top_k, batch_size)
