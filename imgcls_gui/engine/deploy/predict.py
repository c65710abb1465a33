"""Offline inference: ``Predictor.load(model).predict(paths)``, used by ``imgcls predict`` and the GUI.

A model is an exported ``.onnx`` (run by onnxruntime), an imgcls TorchScript export, a run folder
or a ``.pt`` checkpoint (run by PyTorch). TorchScript is code: it loads only under the policy of
``trusted_code`` (exported on this machine, or ``trust_code=True``). Files decode on a thread pool while the model works on
the previous batch (``predict_io.decoded_batches``); an unreadable file becomes a row with its
``error`` set and never stops the run.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ..checkpoint import load_error_reason
from ..errors import ExportError
from ..model_files import check_declared_sizes, is_torchscript_archive
from ..trusted_code import require_code_consent
from .model_info import INPUT_NAME, OUTPUT_NAME, ModelFacts, ModelInfo
from .predict_io import decoded_batches
from ..data.preprocess import Preprocessing
from ..evaluation.forward import forward

if TYPE_CHECKING:
    import torch

TORCHSCRIPT_METADATA = "imgcls.json"  # the ``_extra_files`` entry of a TorchScript export
DEFAULT_THRESHOLD = 0.5  # multilabel, when neither the caller nor the model gives one


@dataclass(frozen=True)
class Prediction:
    """The result for one file. ``label`` is the top class, or for multi-label the labels over
    threshold joined by ';'. ``score`` is the probability behind ``label`` (for multi-label the
    highest probability among the labels over threshold, else the highest overall); None on error.
    ``labels_over_threshold``: multi-label, every label at or over its threshold; multi-class, the
    top class unless a threshold was given (or stored) and it falls short.
    """

    path: Path
    label: str
    score: float | None
    top_k: tuple[tuple[str, float], ...]
    labels_over_threshold: tuple[str, ...]
    error: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "path": str(self.path),
            "label": self.label,
            "score": self.score,
            "top_k": [{"label": label, "prob": prob} for label, prob in self.top_k],
            "labels_over_threshold": list(self.labels_over_threshold),
            "error": self.error,
        }


def probability_model(model: "torch.nn.Module", task: str) -> "torch.nn.Module":
    """``model`` followed by softmax (multi-class) or sigmoid (multi-label): what exports contain."""
    import torch

    last = torch.nn.Sigmoid() if task == "multilabel" else torch.nn.Softmax(dim=1)
    return torch.nn.Sequential(model, last).eval()


def flush_denormals() -> None:
    """Treat denormal floats as zero in this thread. Trained models can produce denormal activations,
    which make CPU convolutions over 20x slower; zeroing values below 1e-38 changes no probability."""
    import torch

    torch.set_flush_denormal(True)


def physical_cores() -> int:
    """Physical cores this process may use: onnxruntime runs best with one thread per core."""
    allowed = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else []
    cores = set()
    for cpu in allowed:
        topology = Path(f"/sys/devices/system/cpu/cpu{cpu}/topology")
        try:
            cores.add(((topology / "physical_package_id").read_text().strip(), (topology / "core_id").read_text().strip()))
        except OSError:
            return len(allowed)
    return len(cores) or os.cpu_count() or 1


class Predictor(ModelFacts):
    """A loaded model plus what it needs to turn image files into predictions."""

    def __init__(self, run_batch: Callable[["torch.Tensor"], np.ndarray], info: ModelInfo, source: Path, kind: str) -> None:
        self._run_batch = run_batch  # (N, 3, H, W) float tensor → (N, C) probabilities
        self.info = info
        self.source = source
        self.kind = kind  # "onnx" | "torchscript" | "checkpoint"

    @classmethod
    def load(
        cls,
        path: str | os.PathLike[str],
        *,
        classes: Sequence[str] | None = None,
        preprocessing: Preprocessing | None = None,
        task: str = "multiclass",
        thresholds: Sequence[float] | None = None,
        device: str = "cpu",
        threads: int | None = None,
        trust_code: bool = False,
    ) -> "Predictor":
        """Open an ``.onnx`` file, an imgcls TorchScript export, a run folder or a ``.pt`` checkpoint.

        ``classes``/``preprocessing`` (with ``task``, ``thresholds``) describe an ONNX file that lacks
        imgcls metadata; its output is taken as probabilities when named ``probabilities``, else as
        logits. ``threads``: onnxruntime intra-op threads (default: the physical cores).
        ``trust_code``: load a TorchScript file not exported on this machine (it runs its own code).
        """
        path = Path(path)
        if path.suffix.lower() == ".onnx":
            given = None
            if classes is not None and preprocessing is not None:
                given = ModelInfo(tuple(classes), task, preprocessing, tuple(thresholds) if thresholds else None)
            return _load_onnx(path, given, device, threads)
        if path.is_file() and is_torchscript_archive(path):  # any TorchScript, not only ours: it is code
            return _load_torchscript(path, device, trust_code)
        return _load_checkpoint(path, device)

    # -- running -----------------------------------------------------------------------------
    def probabilities(self, batch: "torch.Tensor") -> np.ndarray:
        """(N, C) probabilities for an already preprocessed (N, 3, H, W) batch."""
        return self._run_batch(batch)

    def predict(
        self,
        paths: Sequence[str | os.PathLike[str]],
        *,
        batch_size: int = 32,
        top_k: int = 3,
        threshold: float | None = None,
        progress: Callable[[int, int], None] | None = None,
        should_stop: Callable[[], bool] | None = None,
    ) -> list[Prediction]:
        """One Prediction per path, in order. ``progress(done, total)`` after each batch; when
        ``should_stop()`` turns true the files not yet predicted are left out of the result."""
        results: list[Prediction] = []
        for batch in self.iter_predict(paths, batch_size=batch_size, top_k=top_k, threshold=threshold):
            results.extend(batch)
            if progress is not None:
                progress(len(results), len(paths))
            if should_stop is not None and should_stop():
                break
        return results

    def predict_pixels(self, pixels: np.ndarray, *, top_k: int = 3, threshold: float | None = None,
                       name: str = "frame") -> Prediction:
        """One H x W x 3 uint8 RGB frame (a camera's, already in memory), by the same eval rule as a file."""
        from PIL import Image

        from ..data.preprocess import preprocess_image

        tensor = preprocess_image(Image.fromarray(np.ascontiguousarray(pixels, dtype=np.uint8), "RGB"), self.preprocessing)
        return self._decider(threshold)(Path(name), self._run_batch(tensor.unsqueeze(0))[0], top_k)

    def iter_predict(
        self, paths: Sequence[str | os.PathLike[str]], *, batch_size: int = 32, top_k: int = 3, threshold: float | None = None
    ) -> Iterator[list[Prediction]]:
        """Predictions batch by batch, for callers that show results as they come."""
        decide = self._decider(threshold)
        for batch in decoded_batches(paths, self.preprocessing, batch_size):
            probs = self._run_batch(batch.tensor) if batch.tensor is not None else None
            rows: list[Prediction] = []
            row_of = {position: row for row, position in enumerate(batch.ok)}
            for position, path in enumerate(batch.paths):
                if position in batch.errors:
                    rows.append(Prediction(path, "", None, (), (), batch.errors[position]))
                else:
                    rows.append(decide(path, probs[row_of[position]], top_k))
            yield rows

    def _decider(self, threshold: float | None) -> Callable[[Path, np.ndarray, int], Prediction]:
        classes, multilabel = self.classes, self.task == "multilabel"
        if threshold is not None:
            limits: np.ndarray | None = np.full(len(classes), float(threshold))
        elif self.info.thresholds is not None:
            limits = np.asarray(self.info.thresholds, dtype=float)
        else:
            limits = np.full(len(classes), DEFAULT_THRESHOLD) if multilabel else None

        def decide(path: Path, probs: np.ndarray, top_k: int) -> Prediction:
            order = np.argsort(-probs, kind="stable")
            ranked = tuple((classes[i], float(probs[i])) for i in order[: max(0, top_k)])
            top = order[0]
            if multilabel:
                over = [i for i in order if probs[i] >= limits[i]]
                labels = tuple(classes[i] for i in over)
                return Prediction(path, ";".join(labels), float(probs[over[0] if over else top]), ranked, labels)
            # one class per image: only the top class can pass its threshold
            asserted = (classes[top],) if limits is None or probs[top] >= limits[top] else ()
            return Prediction(path, classes[top], float(probs[top]), ranked, asserted)

        return decide


# -- loaders -------------------------------------------------------------------------------------

def onnx_session_options(threads: int | None = None) -> Any:
    """How imgcls runs every ONNX model (fp32 or INT8): one intra-op thread per physical core."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads or physical_cores()
    options.inter_op_num_threads = 1
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.log_severity_level = 4  # failures come back as exceptions, reported in one line; no log to stderr
    # Decoding threads share the cores; idle onnxruntime threads must sleep, not spin.
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return options


def _load_onnx(path: Path, given: ModelInfo | None, device: str, threads: int | None) -> Predictor:
    import onnxruntime as ort

    if not path.is_file():
        raise ExportError(f"{path}: ONNX file not found.")
    options = onnx_session_options(threads)
    wanted = ["CUDAExecutionProvider"] if device in ("auto", "cuda") else []
    providers = [p for p in wanted if p in ort.get_available_providers()] + ["CPUExecutionProvider"]
    try:
        session = ort.InferenceSession(str(path), options, providers=providers)
    except Exception as exc:  # onnxruntime raises its own untyped errors for bad files
        raise ExportError(f"{path}: not a readable ONNX model ({load_error_reason(exc)}).") from exc
    props = session.get_modelmeta().custom_metadata_map
    if any(key.startswith("imgcls.") for key in props):
        info = ModelInfo.from_metadata_props(props, str(path))
    elif given is not None:
        info = given
    else:
        raise ExportError(
            f"{path}: this ONNX model has no imgcls metadata (classes, preprocessing); export it with "
            "'imgcls export', or pass classes= and preprocessing= to Predictor.load."
        )
    _check_onnx_signature(session, info, path)
    output = session.get_outputs()[0]
    as_probabilities = output.name == OUTPUT_NAME
    input_name = session.get_inputs()[0].name

    def run_batch(batch: "torch.Tensor") -> np.ndarray:
        try:
            out = session.run([output.name], {input_name: batch.numpy()})[0]
        except Exception as exc:  # onnxruntime's own error types; also a failed allocation of absurd size
            raise ExportError(f"{path}: the model failed while running on {len(batch)} image(s) "
                              f"({load_error_reason(exc)}); the file is damaged or not an image classifier.") from exc
        _check_onnx_output(out, len(batch), len(info.classes), path)
        out = out.astype(np.float32, copy=False)
        return out if as_probabilities else _activate(out, info.task)

    return Predictor(run_batch, info, path, "onnx")


def _check_onnx_signature(session: Any, info: ModelInfo, path: Path) -> None:
    """One float image input of shape (N, 3, S, S) and one output of (N, classes), or a clear error."""
    inputs, outputs = session.get_inputs(), session.get_outputs()
    size = info.preprocessing.image_size
    expected = f"(batch, 3, {size}, {size}) float32 named '{INPUT_NAME}'"
    if len(inputs) != 1 or len(outputs) < 1:
        raise ExportError(f"{path}: expected one input {expected}, found {len(inputs)} inputs.")
    shape, dtype = inputs[0].shape, inputs[0].type
    fixed = [dim if isinstance(dim, int) else None for dim in shape]
    if len(shape) != 4 or fixed[1] not in (None, 3) or any(d not in (None, size) for d in fixed[2:]) or dtype != "tensor(float)":
        raise ExportError(f"{path}: the model's input is {shape} {dtype}, but its preprocessing makes {expected}; "
                          "the file does not match its metadata (or the image size passed in).")
    out_shape, out_type = outputs[0].shape, outputs[0].type
    if out_type not in _FLOAT_OUTPUTS:
        raise ExportError(f"{path}: the model's output is {out_type}, but an image classifier outputs float scores "
                          f"(batch, {len(info.classes)}); the file is damaged or not an image classifier.")
    if out_shape is not None and len(out_shape) != 2:
        raise ExportError(f"{path}: the model's output has shape {list(out_shape)}, but an image classifier outputs "
                          f"(batch, {len(info.classes)}) scores; the file is damaged or not an image classifier.")
    classes_dim = out_shape[-1] if out_shape else None
    if isinstance(classes_dim, int) and classes_dim != len(info.classes):
        raise ExportError(f"{path}: the model outputs {classes_dim} scores but {len(info.classes)} class names were given.")


_FLOAT_OUTPUTS = ("tensor(float)", "tensor(double)", "tensor(float16)")


def _check_onnx_output(out: Any, images: int, classes: int, path: Path) -> None:
    """What a declared-dynamic output really was: (images, classes) numbers, or a clear error."""
    shape = getattr(out, "shape", None)
    if not isinstance(out, np.ndarray) or out.dtype.kind != "f" or shape != (images, classes):
        raise ExportError(f"{path}: the model returned {getattr(out, 'dtype', type(out).__name__)} of shape "
                          f"{list(shape) if shape is not None else '?'} for {images} image(s), not ({images}, {classes}) "
                          "scores; the file is damaged or not an image classifier.")


def _activate(logits: np.ndarray, task: str) -> np.ndarray:
    logits = logits.astype(np.float64)
    if task == "multilabel":
        return (1.0 / (1.0 + np.exp(-logits))).astype(np.float32)
    shifted = np.exp(logits - logits.max(axis=1, keepdims=True))
    return (shifted / shifted.sum(axis=1, keepdims=True)).astype(np.float32)


def _load_torchscript(path: Path, device: str, trust_code: bool) -> Predictor:
    """Load a TorchScript export under the code policy; the bytes checked are the bytes loaded."""
    import io
    import json

    import torch

    from ..device import resolve_device

    check_declared_sizes(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ExportError(f"{path}: cannot read the file ({exc.strerror or exc}).") from exc
    require_code_consent(path, data, trust_code)
    target = resolve_device(device)
    extra = {TORCHSCRIPT_METADATA: ""}
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)  # TorchScript is deprecated upstream; still loads
            module = torch.jit.load(io.BytesIO(data), map_location=target, _extra_files=extra)
        info = ModelInfo.from_json_dict(json.loads(extra[TORCHSCRIPT_METADATA]), str(path))
    except (RuntimeError, ValueError) as exc:
        raise ExportError(f"{path}: not a loadable TorchScript export ({load_error_reason(exc)}).") from exc
    return Predictor(_torch_runner(module.eval(), target), info, path, "torchscript")


def _load_checkpoint(path: Path, device: str) -> Predictor:
    from ..checkpoint import load_checkpoint
    from ..device import cpu_capabilities, resolve_cpu_speed, resolve_device
    from ..models.build import model_from_checkpoint
    from ..models.registry import list_backbones

    ckpt = load_checkpoint(path)
    info = ModelInfo.from_checkpoint(ckpt)
    target = resolve_device(device)
    model = probability_model(model_from_checkpoint(ckpt), info.task).to(target)
    # The CPU layout that cpu_speed "auto" picks for this family's forward passes; precision stays full (see
    # _torch_runner).
    family = next((spec.family for spec in list_backbones() if spec.name == info.backbone), "")
    channels_last = target.type == "cpu" and \
        resolve_cpu_speed("auto", cpu_capabilities(), family).forward_channels_last
    return Predictor(_torch_runner(model, target, channels_last), info, path, "checkpoint")


def _torch_runner(model: Any, device: "torch.device", channels_last: bool = False) -> Callable[["torch.Tensor"], np.ndarray]:
    """Probabilities of a preprocessed batch through the engine's one forward (full precision: the
    figures match the export's parity check and the CLI's on every device)."""
    import torch

    model.eval()
    if channels_last:
        model.to(memory_format=torch.channels_last)

    def run_batch(batch: "torch.Tensor") -> np.ndarray:
        flush_denormals()  # per thread, and callers may run batches from any thread
        return forward(model, batch, device, channels_last=channels_last).float().cpu().numpy()

    return run_batch

