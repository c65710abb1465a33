"""The Inference panel's model in the app's child process (``training/child.py``'s ``JOB_HANDLERS``): loading it,
watching a folder with it, classifying a camera's frames with it.

The app never loads the model itself (no model, CUDA context or onnxruntime session in its process):
``describe_job`` loads the chosen file in the child (kept there for the jobs that follow,
``jobs.cached_predictor``) and sends back a ``ModelDescription``, what the panel shows and decides with.
``watch_job`` runs ``watch_and_predict`` there until the app's Stop, sending ``WatchStarted`` and each batch of
predictions as it comes; it holds its child for the whole watch, so other work meanwhile gets another
(``acquire_child``). ``frame_job`` classifies one frame sent
as its pixels (and, asked, lays the top class's Grad-CAM over it, with the Explainer the child keeps,
``explain_jobs.cached_explainer``). The ``*_in_child`` functions are the app's side: they send the job and
rebuild its dataclasses from their fields (``wire.py``).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .jobs import cached_predictor, model_payload, predictions_relay
from .model_info import ModelFacts, ModelInfo
from .predict import Prediction


@dataclass(frozen=True)
class ModelDescription(ModelFacts):
    """What the app knows of a model loaded in the child: its file, kind ("onnx" | "torchscript" | "checkpoint"),
    classes, task, thresholds and preprocessing (``info``), and the process that loaded it."""

    source: Path
    kind: str
    info: ModelInfo
    pid: int = 0


@dataclass(frozen=True)
class FramePrediction:
    """One frame's prediction, the top class's Grad-CAM as H x W x 3 uint8 jet colours when asked (None when not,
    or when it could not be computed), and the process that made them."""

    prediction: Prediction
    heatmap: np.ndarray | None
    pid: int


def describe_job(job: Any) -> dict[str, Any]:
    """Child-process handler of kind "describe" (payload: model path, trust_code): load the model (kept for the
    next jobs) and return its ``ModelDescription``'s fields. A TorchScript file from elsewhere without consent
    fails with ``UntrustedCodeError``, which the app receives as itself."""
    from ..training import wire

    predictor = cached_predictor(Path(job.payload["model"]), bool(job.payload["trust_code"]))
    description = ModelDescription(predictor.source, predictor.kind, predictor.info, os.getpid())
    return wire.to_plain(description)  # type: ignore[no-any-return]


def describe_in_child(child: Any, path: str | os.PathLike[str], trust_code: bool, on_event: Callable[[object], None],
                      control: Any, interrupted: Callable[[], bool] = lambda: False) -> ModelDescription:
    """Load ``path`` (a run folder, checkpoint, TorchScript or ONNX file) in ``child``: its ``ModelDescription``."""
    from ..training import wire

    value = child.run_job("describe", {"model": str(path), "trust_code": trust_code}, on_event, control, interrupted)
    return wire.from_plain(ModelDescription, value)


def watch_job(job: Any) -> dict[str, Any]:
    """Child-process handler of kind "watch" (payload: model path, trust_code, folder, top_k, batch size): predict
    the folder's images, then each new one once complete, until the app's Stop (handed to the watch's
    ``WatchControl`` by the child's request thread, so a scan's wait ends at once). Sends ``WatchStarted``, then each batch (``JobItems`` of ``Prediction``
    fields); returns the files predicted."""
    from ..events import WatchStarted
    from .watch import WatchControl, watch_and_predict

    payload = job.payload
    predictor = cached_predictor(Path(payload["model"]), bool(payload["trust_code"]))
    folder = Path(payload["folder"])

    control = WatchControl()  # stopped by the child's request thread the moment the app's Stop arrives

    def started(watcher: Any) -> None:
        job.emit(WatchStarted(folder, watcher.mode, watcher.fallback_reason, os.getpid()))

    job.attach(_StopOnly(control))
    try:
        summary = watch_and_predict(predictor, folder, job.items, control, top_k=int(payload["top_k"]),
                                    batch_size=int(payload["batch_size"]), on_start=started)
    finally:
        job.attach(None)
    return {"predicted": summary.predicted}


class _StopOnly:
    """A watch as ``JobContext.attach`` hands requests to a Trainer: Stop stops it; pause and resume mean nothing."""

    def __init__(self, control: Any) -> None:
        self.request_stop = control.stop

    def request_pause(self) -> None:
        pass

    def request_resume(self) -> None:
        pass


def watch_in_child(child: Any, model: Any, folder: str | os.PathLike[str], top_k: int, batch_size: int,
                   on_event: Callable[[object], None], control: Any,
                   interrupted: Callable[[], bool] = lambda: False) -> int:
    """Watch ``folder`` with ``model``'s file (a ``ModelDescription`` or ``Predictor``) loaded in ``child`` until
    ``control``'s Stop or ``interrupted()``; ``WatchStarted`` and each batch (a tuple of ``Prediction``s) go to
    ``on_event``. Returns the files predicted."""
    payload = {**model_payload(model), "folder": str(folder), "top_k": top_k, "batch_size": batch_size}
    return int(child.run_job("watch", payload, predictions_relay(on_event), control, interrupted)["predicted"])


def classify_frame(model: Path, trust_code: bool, pixels: np.ndarray, top_k: int, gradcam_side: int) -> FramePrediction:
    """``pixels`` (H x W x 3 uint8 RGB) classified by the kept model; with ``gradcam_side`` > 0, the top class's
    Grad-CAM at most that many pixels a side (a run folder or checkpoint only)."""
    from ..evaluation.explain import heatmap_image
    from .explain_jobs import cached_explainer

    prediction = cached_predictor(model, trust_code).predict_pixels(pixels, top_k=top_k)
    heat = None
    if gradcam_side > 0:
        labels = [prediction.top_k[0][0]] if prediction.top_k else None
        found = cached_explainer(model).explain_pixels(pixels, labels=labels, max_side=gradcam_side)
        heat = np.asarray(heatmap_image(found[0].heatmap)) if found and found[0].ok else None
    return FramePrediction(prediction, heat, os.getpid())


def frame_job(job: Any) -> dict[str, Any]:
    """Child-process handler of kind "frame" (payload: model path, trust_code, pixels as ``wire`` array, top_k,
    gradcam_side): ``classify_frame``'s fields."""
    from ..training import wire

    payload = job.payload
    pixels = wire.array_from_plain(payload["pixels"])
    frame = classify_frame(Path(payload["model"]), bool(payload["trust_code"]), pixels, int(payload["top_k"]),
                           int(payload["gradcam_side"]))
    return wire.to_plain(frame)  # type: ignore[no-any-return]


def frame_in_child(child: Any, model: Any, pixels: np.ndarray, top_k: int, gradcam_side: int,
                   on_event: Callable[[object], None], control: Any,
                   interrupted: Callable[[], bool] = lambda: False) -> FramePrediction:
    """``classify_frame`` of ``pixels`` by ``model``'s file (a ``ModelDescription`` or ``Predictor``), in ``child``."""
    from ..training import wire

    payload = {**model_payload(model), "pixels": wire.array_to_plain(np.ascontiguousarray(pixels, dtype=np.uint8)),
               "top_k": top_k, "gradcam_side": gradcam_side}
    return wire.from_plain(FramePrediction, child.run_job("frame", payload, on_event, control, interrupted))
