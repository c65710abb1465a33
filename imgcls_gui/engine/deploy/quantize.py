"""INT8 ONNX export: static quantization calibrated on the run's own training images, verified like fp32.

Starts from the fp32 ONNX export (itself checked against PyTorch), quantizes it with ONNX Runtime
(BatchNorm folded, QDQ format, per-channel int8 weights, uint8 activations whose ranges come from
the run's training images passed through the run's eval preprocessing), then compares the INT8 model with the fp32
one on the run's validation images: top-1 agreement (for multi-label: the same labels over their
thresholds), the change in accuracy (or mAP), and the latency of both on this machine. Only a
model that agrees on at least ``min_agreement`` of those images is written; the report goes into
its metadata (``imgcls.quantization``) and beside it (``<name>.quantization.json``). The final
softmax/sigmoid stays float, so probabilities keep their resolution.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import random
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..checkpoint import atomic_write_bytes, atomic_write_text
from ..errors import DatasetError, ExportError, ImgclsError
from .export import ExportSource, make_bundle_folder, open_source, verified_onnx, write_bundle_files
from .model_info import INPUT_NAME, OUTPUT_NAME, PREFIX
from .predict import DEFAULT_THRESHOLD, onnx_session_options

# Chosen by measurement (benchmarks/RESULTS.md, "INT8 export"): a resnet18 trained on flowers17 here
# (random-init backbone, so an unsure model: median top-1 margin 0.10) agreed with fp32 on 92% of its
# validation images, every flip between two classes less than 0.05 apart; a calibration on one blank
# image agreed on 50%. Models from ImageNet weights are far surer, and agree more.
DEFAULT_CALIBRATION_IMAGES = 200
DEFAULT_MIN_AGREEMENT = 0.90
MAX_PARITY_IMAGES = 1000  # validation images compared (the first ones of the split)
METADATA_KEY = PREFIX + "quantization"
REPORT_SUFFIX = ".quantization.json"
_BATCH = 32
_LATENCY_ROUNDS = 3

Progress = Callable[[int, int, str], None]  # (step done, steps, what happens next)


class QuantizationRefusedError(ExportError):
    """The INT8 model disagrees with the fp32 one too often; nothing was written. ``report`` says how often."""

    def __init__(self, message: str, report: "QuantizationReport") -> None:
        super().__init__(message)
        self.report = report


@dataclass(frozen=True)
class QuantizationReport:
    """How the INT8 model compares with the fp32 one on the run's validation images."""

    path: Path  # the INT8 file (where it was or would have been written)
    agreement: float  # share of images whose top-1 (multi-label: labels over threshold) match fp32
    parity_images: int
    metric: str  # "accuracy" (multi-class) | "map" (multi-label)
    fp32_metric: float
    int8_metric: float
    fp32_ms_per_image: float  # onnxruntime, batches of 32, this machine's physical cores
    int8_ms_per_image: float
    calibration_images: int
    min_agreement: float
    fp32_max_abs_diff: float  # the fp32 ONNX vs PyTorch, as in every export
    size_bytes: int
    fp32_size_bytes: int
    seconds: float
    format: str = "onnx-int8"

    @property
    def metric_change(self) -> float:
        return self.int8_metric - self.fp32_metric

    @property
    def speedup(self) -> float:
        return self.fp32_ms_per_image / self.int8_ms_per_image if self.int8_ms_per_image > 0 else float("nan")

    @property
    def passed(self) -> bool:
        return self.agreement >= self.min_agreement

    def to_json_dict(self) -> dict[str, Any]:
        """What the metadata and the side file hold: portable numbers, never the path."""
        data = asdict(self)
        del data["path"]
        return {**data, "metric_change": self.metric_change, "speedup": self.speedup}

    @classmethod
    def from_json_dict(cls, data: dict[str, Any], path: Path) -> "QuantizationReport":
        try:
            fields = {name: data[name] for name in cls.__dataclass_fields__ if name != "path"}
            return cls(path=Path(path), **fields)
        except (KeyError, TypeError) as exc:
            raise ExportError(f"{path}: its quantization report is incomplete ({exc}); export it again.") from exc

    def lines(self) -> list[str]:
        """The parity report as a few lines a user reads."""
        change = 100 * self.metric_change
        name = "accuracy" if self.metric == "accuracy" else "mAP"
        return [
            f"top-1 agreement with fp32: {self.agreement:.1%} of {self.parity_images} validation images "
            f"(minimum {self.min_agreement:.0%})",
            f"{name}: fp32 {self.fp32_metric:.4f}, INT8 {self.int8_metric:.4f} ({change:+.1f} points)",
            f"latency on this machine: fp32 {self.fp32_ms_per_image:.2f} ms/image, INT8 {self.int8_ms_per_image:.2f} "
            f"ms/image ({self.speedup:.2f}x)",
            f"calibrated on {self.calibration_images} training images; {self.size_bytes / 1e6:.1f} MB "
            f"(fp32 {self.fp32_size_bytes / 1e6:.1f} MB); fp32 vs PyTorch {self.fp32_max_abs_diff:.1e}",
        ]

    def summary(self) -> str:
        return f"exported {self.path} (ONNX INT8) in {self.seconds:.1f}s\n  " + "\n  ".join(self.lines())


def quantization_report_path(model_path: str | os.PathLike[str]) -> Path:
    """Where the report of an INT8 file is saved beside it: ``model.onnx`` -> ``model.quantization.json``."""
    path = Path(model_path)
    return path.with_name(path.stem + REPORT_SUFFIX)


def read_quantization_report(model_path: str | os.PathLike[str]) -> QuantizationReport | None:
    """The report stored in an ONNX file's metadata; None for a file that was not quantized by imgcls."""
    import onnxruntime as ort

    try:
        session = ort.InferenceSession(str(model_path), providers=["CPUExecutionProvider"])
    except Exception as exc:
        raise ExportError(f"{model_path}: not a readable ONNX model ({str(exc).splitlines()[0][:200]}).") from exc
    text = session.get_modelmeta().custom_metadata_map.get(METADATA_KEY)
    if text is None:
        return None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ExportError(f"{model_path}: metadata {METADATA_KEY} is not valid JSON; export it again.") from exc
    return QuantizationReport.from_json_dict(data, Path(model_path))


# -- the exports ---------------------------------------------------------------------------------

def export_onnx_int8(
    run_or_ckpt: str | os.PathLike[str],
    out_path: str | os.PathLike[str],
    *,
    calibration_images: int = DEFAULT_CALIBRATION_IMAGES,
    min_agreement: float = DEFAULT_MIN_AGREEMENT,
    calibration_paths: Sequence[str | os.PathLike[str]] | None = None,
    opset: int | None = None,
    progress: Progress | None = None,
) -> QuantizationReport:
    """Write an INT8 ``.onnx`` (same input, output and metadata as fp32) and its report beside it.

    ``calibration_paths`` replaces the run's training images (for experiments and tests).
    QuantizationRefusedError, with nothing written, when agreement with fp32 is under ``min_agreement``.
    """
    started = time.perf_counter()
    out_path = Path(out_path)
    data, report = _quantized(run_or_ckpt, out_path, calibration_images, min_agreement, calibration_paths, opset,
                              progress, started)
    _write(out_path, data, report)
    return report


def _write(model: Path, data: bytes, report: QuantizationReport) -> None:
    atomic_write_text(quantization_report_path(model), json.dumps(report.to_json_dict(), indent=2) + "\n")
    atomic_write_bytes(model, data)  # last: an INT8 file on disk always has its report beside it


def export_bundle_int8(
    run_or_ckpt: str | os.PathLike[str],
    out_dir: str | os.PathLike[str],
    *,
    calibration_images: int = DEFAULT_CALIBRATION_IMAGES,
    min_agreement: float = DEFAULT_MIN_AGREEMENT,
    calibration_paths: Sequence[str | os.PathLike[str]] | None = None,
    opset: int | None = None,
    progress: Progress | None = None,
) -> QuantizationReport:
    """A bundle folder like ``export_bundle`` whose model.onnx is the verified INT8 model."""
    started = time.perf_counter()
    model = Path(out_dir) / "model.onnx"
    data, report = _quantized(run_or_ckpt, model, calibration_images, min_agreement, calibration_paths, opset,
                              progress, started)
    out_dir = make_bundle_folder(out_dir)  # after the check: a refused export leaves no empty folder
    _write(model, data, report)
    note = ("\n\nThis model is INT8 (ONNX Runtime static quantization). Against the fp32 model on the run's "
            "validation images:\n\n" + "\n".join(f"- {line}" for line in report.lines()) +
            f"\n\nThe same report is in `{quantization_report_path(model).name}` and in the model's `{METADATA_KEY}` metadata.")
    write_bundle_files(_source_info(run_or_ckpt), out_dir, report.fp32_max_abs_diff, note)
    return report


def _source_info(run_or_ckpt: str | os.PathLike[str]) -> Any:
    from ..checkpoint import load_checkpoint
    from .model_info import ModelInfo

    return ModelInfo.from_checkpoint(load_checkpoint(Path(run_or_ckpt)))


def _quantized(run_or_ckpt: Any, out_path: Path, calibration_images: int, min_agreement: float,
               calibration_paths: Any, opset: int | None, progress: Progress | None,
               started: float) -> tuple[bytes, QuantizationReport]:
    """The INT8 bytes (metadata and report included) and the report; refused when agreement is short."""
    if calibration_images < 1:
        raise ExportError(f"calibration images must be at least 1 (got {calibration_images}).")
    if not 0.0 <= min_agreement <= 1.0:
        raise ExportError(f"the minimum agreement is a share from 0 to 1 (got {min_agreement}).")
    step = _stepper(progress, 4)
    step("exporting the fp32 model and checking it against PyTorch")
    source = open_source(run_or_ckpt)
    # the images first: a moved dataset is refused before minutes of work
    calibration = list(calibration_paths) if calibration_paths is not None else _training_images(source, calibration_images)
    val_paths, targets = _validation_set(source)
    fp32, fp32_report = verified_onnx(source, None, opset)
    step("calibrating on the run's training images")
    int8, calibrated = _quantize(fp32, source, calibration)
    step("comparing INT8 with fp32 on the validation images")
    comparison = _compare(fp32, int8, source, val_paths, targets)
    step("writing")
    report = QuantizationReport(
        path=out_path, calibration_images=calibrated, min_agreement=min_agreement,
        fp32_max_abs_diff=fp32_report.max_abs_diff, size_bytes=len(int8), fp32_size_bytes=len(fp32),
        seconds=time.perf_counter() - started, **comparison,
    )
    if not report.passed:
        raise QuantizationRefusedError(
            f"{source.path}: the INT8 model agrees with the fp32 model on only {report.agreement:.1%} of "
            f"{report.parity_images} validation images (minimum {min_agreement:.0%}); nothing was written. "
            "Calibrate on more of the run's training images (--calibration-images), export ONNX fp32 instead, "
            "or accept less agreement (--min-agreement).", report)
    return _with_report(int8, report), report


def _stepper(progress: Progress | None, total: int) -> Callable[[str], None]:
    done = [0]

    def step(text: str) -> None:
        if progress is not None:
            progress(done[0], total, text)
        done[0] += 1

    return step


# -- images --------------------------------------------------------------------------------------

def _run_samples(source: ExportSource, split: str) -> list[Any]:
    """The labeled samples of one part of the run's saved split, or an ExportError saying why not."""
    from ..data.split import split_samples

    run_dir = source.path if source.path.is_dir() else source.path.parent
    try:
        return split_samples(run_dir, source.ckpt["config"], source.info.task, split)
    except (ImgclsError, OSError, KeyError, TypeError) as exc:
        reason = str(exc) if isinstance(exc, (DatasetError, ExportError)) else f"{type(exc).__name__}: {exc}"
        raise ExportError(f"{source.path}: INT8 export needs the run's {split} images, which cannot be read "
                          f"({reason}). Move the dataset back where the run found it, or export ONNX fp32.") from exc


def _training_images(source: ExportSource, count: int) -> list[Path]:
    """``count`` training images spread over the split (a fixed shuffle, so exports repeat)."""
    paths = [sample.path for sample in _run_samples(source, "train")]
    return random.Random(0).sample(paths, min(count, len(paths)))


def _validation_set(source: ExportSource) -> tuple[list[Path], np.ndarray]:
    from ..data.loading import encode_targets

    samples = _run_samples(source, "val")[:MAX_PARITY_IMAGES]
    return [s.path for s in samples], encode_targets(samples, source.info.classes, source.info.task).numpy()


def _decoded(source: ExportSource, paths: Sequence[Path]) -> Iterator[tuple[np.ndarray, tuple[int, ...]]]:
    """(batch, positions of the images that decoded) through the run's eval preprocessing."""
    from .predict_io import decoded_batches

    for start, batch in zip(range(0, len(paths), _BATCH), decoded_batches(paths, source.info.preprocessing, _BATCH)):
        if batch.tensor is not None:
            yield batch.tensor.numpy(), tuple(start + i for i in batch.ok)


# -- quantizing ----------------------------------------------------------------------------------

def _quantize(fp32: bytes, source: ExportSource, calibration: Sequence[Path]) -> tuple[bytes, int]:
    """ONNX Runtime static quantization of the fp32 bytes: (INT8 bytes, images calibrated on)."""
    import onnx
    from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static
    from onnxruntime.quantization.shape_inference import quant_pre_process

    batches = [batch for batch, _ in _decoded(source, calibration)]
    images = sum(len(b) for b in batches)
    if not images:
        raise ExportError(f"{source.path}: none of the {len(calibration)} calibration images could be read; "
                          "INT8 export needs the run's training images.")

    class Reader(CalibrationDataReader):
        def __init__(self) -> None:
            self._left = iter(batches)

        def get_next(self) -> dict[str, np.ndarray] | None:
            batch = next(self._left, None)
            return None if batch is None else {INPUT_NAME: batch}

    with tempfile.TemporaryDirectory(prefix="imgcls-int8-") as tmp:
        fp32_path, ready, int8_path = Path(tmp) / "fp32.onnx", Path(tmp) / "ready.onnx", Path(tmp) / "int8.onnx"
        fp32_path.write_bytes(fp32)
        try:
            with _quiet_advice():
                # BatchNorm folded into the convolutions first, so each is quantized once, per output channel.
                quant_pre_process(str(fp32_path), str(ready))
                # uint8 activations x int8 weights is the fast kernel on x86; reduce_range (7-bit weights) keeps
                # its 16-bit sums from saturating on CPUs without VNNI (measured: fewer flipped answers, same speed).
                quantize_static(str(ready), str(int8_path), Reader(), quant_format=QuantFormat.QDQ, per_channel=True,
                                nodes_to_exclude=_final_nodes(ready), reduce_range=True, activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8,
                                calibration_providers=["CPUExecutionProvider"])
        except Exception as exc:  # onnxruntime's tools raise many kinds; all mean the same to a user
            raise ExportError(f"{source.path}: ONNX Runtime could not quantize {source.info.backbone} "
                              f"({str(exc).splitlines()[0][:300]}); export ONNX fp32 instead.") from exc
        model = onnx.load(str(int8_path))
    del model.metadata_props[:]  # the quantizer keeps some; imgcls's own go in again below
    fp32_model = onnx.load_from_string(fp32)
    for prop in fp32_model.metadata_props:
        model.metadata_props.add(key=prop.key, value=prop.value)
    model.producer_name, model.producer_version = fp32_model.producer_name, fp32_model.producer_version
    model.doc_string = fp32_model.doc_string + " (INT8)"
    return model.SerializeToString(), images


def _final_nodes(model_path: Path) -> list[str]:
    """The node that makes the output (softmax or sigmoid): left float, so probabilities keep their resolution."""
    import onnx

    graph = onnx.load(str(model_path), load_external_data=False).graph
    return [node.name for node in graph.node if OUTPUT_NAME in node.output]


@contextlib.contextmanager
def _quiet_advice() -> Iterator[None]:
    """Drop the quantizer's advice to pre-process, logged to the root logger on every call: a user
    cannot act on it (the export's graph is already optimised by onnxruntime when it loads)."""
    class Advice(logging.Filter):
        def filter(self, record: logging.LogRecord) -> bool:
            return not record.getMessage().startswith("Please consider")

    advice, root = Advice(), logging.getLogger()
    root.addFilter(advice)
    try:
        yield
    finally:
        root.removeFilter(advice)


def _with_report(int8: bytes, report: QuantizationReport) -> bytes:
    import onnx

    model = onnx.load_from_string(int8)
    model.metadata_props.add(key=METADATA_KEY, value=json.dumps(report.to_json_dict()))
    return model.SerializeToString()


# -- parity --------------------------------------------------------------------------------------

def _compare(fp32: bytes, int8: bytes, source: ExportSource, paths: list[Path], targets: np.ndarray) -> dict[str, Any]:
    """Agreement, metric of both and latency of both on the validation images."""
    import onnxruntime as ort

    from ..evaluation.metrics import compute_metrics

    sessions = []
    for data, name in ((fp32, "fp32"), (int8, "INT8")):
        try:
            sessions.append(ort.InferenceSession(data, onnx_session_options(), providers=["CPUExecutionProvider"]))
        except Exception as exc:
            raise ExportError(f"{source.path}: onnxruntime cannot load the {name} model "
                              f"({str(exc).splitlines()[0][:300]}).") from exc
    outputs: tuple[list[np.ndarray], list[np.ndarray]] = ([], [])
    kept: list[int] = []
    for batch, positions in _decoded(source, paths):
        for session, out in zip(sessions, outputs):
            out.append(session.run([OUTPUT_NAME], {INPUT_NAME: batch})[0])
        kept.extend(positions)
    if not kept:
        raise ExportError(f"{source.path}: none of the run's {len(paths)} validation images could be read, so the "
                          "INT8 model cannot be checked; export ONNX fp32 instead.")
    fp32_probs, int8_probs = np.concatenate(outputs[0]), np.concatenate(outputs[1])
    info, truth = source.info, targets[kept]
    multilabel = info.task == "multilabel"
    if multilabel:
        limits = np.asarray(info.thresholds if info.thresholds is not None else [DEFAULT_THRESHOLD] * len(info.classes))
        same = ((fp32_probs >= limits) == (int8_probs >= limits)).all(axis=1)
    else:
        same = fp32_probs.argmax(axis=1) == int8_probs.argmax(axis=1)
    metric = "map" if multilabel else "accuracy"
    thresholds = list(info.thresholds) if multilabel and info.thresholds is not None else None
    scores = [compute_metrics(info.task, probs, truth, info.classes, thresholds).scalars[metric]
              for probs in (fp32_probs, int8_probs)]
    sample = next(_decoded(source, paths[:_BATCH]))[0]
    fp32_ms, int8_ms = (_latency_ms(session, sample) for session in sessions)
    return {"agreement": float(same.mean()), "parity_images": len(kept), "metric": metric,
            "fp32_metric": float(scores[0]), "int8_metric": float(scores[1]),
            "fp32_ms_per_image": fp32_ms, "int8_ms_per_image": int8_ms}


def _latency_ms(session: Any, batch: np.ndarray) -> float:
    """Milliseconds per image on one batch: the best of a few runs after a warm-up."""
    session.run([OUTPUT_NAME], {INPUT_NAME: batch})
    best = float("inf")
    for _ in range(_LATENCY_ROUNDS):
        started = time.perf_counter()
        session.run([OUTPUT_NAME], {INPUT_NAME: batch})
        best = min(best, time.perf_counter() - started)
    return 1000 * best / len(batch)
