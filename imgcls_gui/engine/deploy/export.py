"""Export a trained model to one self-contained ONNX file or TorchScript, verified at export time.

The exported graph ends in softmax (multi-class) or sigmoid (multi-label), so it outputs
probabilities, and it carries its classes, task, thresholds and preprocessing (``ModelInfo``).
Before a file is written, the exported model runs on a sample batch (the run's own validation
images where they can be found) and must agree with PyTorch within ``PARITY_TOLERANCE``; a model
that does not is never written. Debug records that name source files of the exporting machine
are stripped, so no absolute path of that machine ends up inside.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import time
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from string import Template
from typing import TYPE_CHECKING, Any

import numpy as np

from ..checkpoint import atomic_write_bytes, atomic_write_text, load_checkpoint
from ..errors import ExportError, ImgclsError, ImageReadError
from .model_info import INPUT_NAME, OUTPUT_NAME, ModelInfo
from ..trusted_code import record_trusted_export
from .predict import TORCHSCRIPT_METADATA, flush_denormals, probability_model
from ..evaluation.forward import forward

if TYPE_CHECKING:
    import torch

BUNDLE_FILES = ("model.onnx", "labels.json", "README.md", "predict.py")  # what export_bundle writes
PARITY_TOLERANCE = 1e-4  # largest allowed |p_exported - p_pytorch| over the sample batch
PARITY_SAMPLES = 8
_PROTOBUF_LIMIT = 2**31 - 1  # one ONNX file cannot hold more (protobuf's limit)


@dataclass(frozen=True)
class ExportReport:
    """What was written and how closely it matches PyTorch."""

    path: Path
    format: str  # "onnx" | "torchscript"
    max_abs_diff: float  # largest |probability difference| exported model vs PyTorch
    samples: int
    sample_source: str  # "validation images" | "given images" | "synthetic images"
    size_bytes: int
    seconds: float
    opset: int | None = None

    def summary(self) -> str:
        opset = f", opset {self.opset}" if self.opset else ""
        return (f"exported {self.path} ({self.format}{opset}, {self.size_bytes / 1e6:.1f} MB) in {self.seconds:.1f}s; "
                f"largest probability difference vs PyTorch on {self.samples} {self.sample_source}: "
                f"{self.max_abs_diff:.2e} (limit {PARITY_TOLERANCE:.0e})")


@dataclass
class ExportSource:
    """A checkpoint opened for export: its model (ending in probabilities) and portable facts."""

    path: Path
    ckpt: dict[str, Any]
    info: ModelInfo
    model: "torch.nn.Module"


def export_onnx(
    run_or_ckpt: str | os.PathLike[str],
    out_path: str | os.PathLike[str],
    *,
    sample_images: Sequence[str | os.PathLike[str]] | None = None,
    opset: int | None = None,
) -> ExportReport:
    """Write one self-contained ``.onnx`` (input ``input`` (N,3,S,S) float32, output ``probabilities``)."""
    started = time.perf_counter()
    return _write_onnx(open_source(run_or_ckpt), Path(out_path), sample_images, opset, started)


def export_torchscript(
    run_or_ckpt: str | os.PathLike[str],
    out_path: str | os.PathLike[str],
    *,
    sample_images: Sequence[str | os.PathLike[str]] | None = None,
) -> ExportReport:
    """Write a traced TorchScript module; metadata in its ``extra/imgcls.json``. Its digest is recorded
    as exported on this machine, so imgcls loads it later without asking (see ``trusted_code``)."""
    started = time.perf_counter()
    source = open_source(run_or_ckpt)
    data = _torchscript_bytes(source)
    record_trusted_export(data)  # before the write: a file on disk is never one this machine cannot load
    return _verify_and_write(source, data, _torchscript_runner(data), "torchscript", Path(out_path), sample_images, started)


def _write_onnx(source: ExportSource, out_path: Path, sample_images: Any, opset: int | None, started: float) -> ExportReport:
    data, used_opset = _onnx_bytes(source, opset)
    return _verify_and_write(source, data, _onnx_runner(data), "onnx", out_path, sample_images, started, used_opset)


def verified_onnx(source: ExportSource, sample_images: Any, opset: int | None) -> tuple[bytes, ExportReport]:
    """The fp32 ONNX bytes, checked against PyTorch like ``export_onnx`` but not written (INT8 starts
    from them); the report's ``path`` is the checkpoint's."""
    started = time.perf_counter()
    data, used_opset = _onnx_bytes(source, opset)
    batch, where = _sample_batch(source, sample_images)
    diff = _check_parity(_onnx_runner(data), source, batch, "onnxruntime")
    return data, ExportReport(source.path, "onnx", diff, len(batch), where, len(data), time.perf_counter() - started, used_opset)


def _verify_and_write(source: ExportSource, data: bytes, run_exported: Any, fmt: str, out_path: Path, sample_images: Any,
                      started: float, opset: int | None = None) -> ExportReport:
    """Check parity on a sample batch, and only then write the file (atomically)."""
    batch, where = _sample_batch(source, sample_images)
    diff = _check_parity(run_exported, source, batch, "onnxruntime" if fmt == "onnx" else "TorchScript")
    atomic_write_bytes(out_path, data)
    return ExportReport(out_path, fmt, diff, len(batch), where, len(data), time.perf_counter() - started, opset)


def export_bundle(
    run_or_ckpt: str | os.PathLike[str],
    out_dir: str | os.PathLike[str],
    *,
    sample_images: Sequence[str | os.PathLike[str]] | None = None,
    opset: int | None = None,
) -> ExportReport:
    """A folder usable without imgcls: model.onnx, labels.json, README.md and a predict.py that needs
    only onnxruntime, numpy and Pillow."""
    started = time.perf_counter()
    source = open_source(run_or_ckpt)
    out_dir = make_bundle_folder(out_dir)
    report = _write_onnx(source, out_dir / "model.onnx", sample_images, opset, started)
    write_bundle_files(source.info, out_dir, report.max_abs_diff)
    return report


def make_bundle_folder(out_dir: str | os.PathLike[str]) -> Path:
    out_dir = Path(out_dir)
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ExportError(f"{out_dir}: cannot create the bundle folder ({exc.strerror or exc}).") from exc
    return out_dir


def write_bundle_files(info: ModelInfo, out_dir: Path, max_abs_diff: float, quantization: str = "") -> None:
    """Everything of a bundle but its model.onnx: labels.json, predict.py and README.md
    (``quantization``: a paragraph on the INT8 model's parity, for INT8 bundles)."""
    from importlib import resources

    labels = {"classes": list(info.classes), "task": info.task,
              "thresholds": list(info.thresholds) if info.thresholds is not None else None}
    atomic_write_text(out_dir / "labels.json", json.dumps(labels, indent=2, ensure_ascii=False) + "\n")
    templates = resources.files("imgcls_gui.engine.deploy.bundle")
    try:
        script = templates.joinpath("predict.py").read_text(encoding="utf-8")
        readme = Template(templates.joinpath("README.md.template").read_text(encoding="utf-8"))
    except OSError as exc:  # a packaged app that left the templates out
        raise ExportError(f"the bundle templates are missing from this installation ({exc}); reinstall imgcls.") from exc
    atomic_write_text(out_dir / "predict.py", script)
    fields = {**_readme_fields(info, max_abs_diff), "quantization": quantization}
    atomic_write_text(out_dir / "README.md", readme.substitute(fields))


def _readme_fields(info: ModelInfo, max_abs_diff: float) -> dict[str, str]:
    pre = info.preprocessing
    metrics = ", ".join(f"{k} {v:.4f}" for k, v in sorted(info.metrics.items())) or "not recorded"
    return {
        "backbone": info.backbone or "unknown",
        "task": "multi-label" if info.task == "multilabel" else "multi-class",
        "classes": ", ".join(info.classes),
        "num_classes": str(len(info.classes)),
        "image_size": str(pre.image_size),
        "resize_size": str(pre.resize_size),
        "mean": ", ".join(f"{m:.3f}" for m in pre.mean),
        "std": ", ".join(f"{s:.3f}" for s in pre.std),
        "metrics": metrics,
        "created": info.created or "unknown",
        "version": info.version,
        "max_abs_diff": f"{max_abs_diff:.1e}",
    }


# -- opening and sampling ------------------------------------------------------------------------

def open_source(run_or_ckpt: str | os.PathLike[str]) -> ExportSource:
    """A run folder or checkpoint opened for export: the model ending in probabilities, and its facts."""
    from ..models.build import model_from_checkpoint

    path = Path(run_or_ckpt)
    flush_denormals()  # tracing and the PyTorch reference run in this thread
    ckpt = load_checkpoint(path)
    info = ModelInfo.from_checkpoint(ckpt)
    return ExportSource(path, ckpt, info, probability_model(model_from_checkpoint(ckpt), info.task))


def _sample_batch(source: ExportSource, sample_images: Sequence[str | os.PathLike[str]] | None) -> tuple["torch.Tensor", str]:
    """Up to PARITY_SAMPLES preprocessed images: the run's validation images, else the given ones,
    else deterministic synthetic images (a moved dataset must not block an export)."""
    import torch

    from .predict_io import load_model_input
    from ..data.preprocess import eval_transform

    pre = source.info.preprocessing
    transform = eval_transform(pre)
    for paths, where in ((_validation_images(source), "validation images"), (sample_images or (), "given images")):
        tensors = []
        for path in paths:
            with contextlib.suppress(ImageReadError):
                tensors.append(load_model_input(path, pre, transform))
            if len(tensors) == PARITY_SAMPLES:
                break
        if tensors:
            return torch.stack(tensors), where
    return _synthetic_batch(pre.image_size, PARITY_SAMPLES, pre.mean, pre.std), "synthetic images"


def _validation_images(source: ExportSource) -> list[Path]:
    """The first validation images of the run's saved split, when the split and its dataset are reachable."""
    run_dir = source.path if source.path.is_dir() else source.path.parent
    split_file = run_dir / "split.json"
    if not split_file.is_file():
        return []
    from ..data.datasets import open_dataset
    from ..data.split import read_split_file

    try:
        data = source.ckpt["config"]["data"]
        ds = open_dataset(data["path"], data.get("format", "auto"), data.get("images_root"), source.info.task)
        split = read_split_file(split_file, ds)
    except (ImgclsError, OSError, KeyError, TypeError):
        return []
    return [ds.samples[i].path for i in split.val[: 2 * PARITY_SAMPLES]]  # spare ones for unreadable files


def _synthetic_batch(size: int, count: int, mean: Sequence[float], std: Sequence[float]) -> "torch.Tensor":
    """Smooth random images (blurred noise looks more like photos than raw noise), normalised."""
    import torch

    generator = torch.Generator().manual_seed(0)
    coarse = torch.rand(count, 3, max(2, size // 8), max(2, size // 8), generator=generator)
    images = torch.nn.functional.interpolate(coarse, size=(size, size), mode="bilinear", align_corners=False)
    return (images - torch.tensor(mean).view(1, 3, 1, 1)) / torch.tensor(std).view(1, 3, 1, 1)


def _example_input(source: ExportSource) -> "torch.Tensor":
    """What the exporters trace with: synthetic, so no user image is ever stored; batch 2 keeps N dynamic."""
    pre = source.info.preprocessing
    return _synthetic_batch(pre.image_size, 2, pre.mean, pre.std)


def _check_parity(run_exported: Any, source: ExportSource, batch: "torch.Tensor", engine: str) -> float:
    """Largest probability difference exported vs PyTorch, on the batch and on one image alone
    (which also proves the batch axis is dynamic); ExportError above the tolerance."""
    import torch

    expected = forward(source.model.eval(), batch, torch.device("cpu")).numpy()
    try:
        got = run_exported(batch)
        single = run_exported(batch[:1])
    except Exception as exc:  # the exported model failing to run at all is an export failure
        raise ExportError(f"{source.path}: the exported model does not run in {engine} ({str(exc).splitlines()[0][:200]}).") from exc
    diff = max(float(np.abs(expected - got).max()), float(np.abs(expected[:1] - single).max()))
    if not diff <= PARITY_TOLERANCE:  # also catches NaN
        raise ExportError(
            f"{source.path}: {engine} disagrees with PyTorch by up to {diff:.2e} in probability (limit "
            f"{PARITY_TOLERANCE:.0e}); nothing was written. Report this with the backbone name ({source.info.backbone})."
        )
    return diff


# -- ONNX ----------------------------------------------------------------------------------------

def _onnx_bytes(source: ExportSource, opset: int | None) -> tuple[bytes, int | None]:
    """Export with the torch.export-based exporter, in memory (so no side ``.data`` file exists),
    then strip per-node debug records and add the metadata."""
    import torch

    from ... import __version__

    batch = torch.export.Dim("batch", min=1)
    try:
        with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
            warnings.simplefilter("ignore")
            program = torch.onnx.export(
                source.model, (_example_input(source),), dynamo=True, external_data=False, verbose=False,
                input_names=[INPUT_NAME], output_names=[OUTPUT_NAME], dynamic_shapes=({0: batch},), opset_version=opset,
            )
    except Exception as exc:  # the exporter raises many kinds of errors; all mean the same to a user
        raise ExportError(f"{source.path}: ONNX export of {source.info.backbone} failed "
                          f"({str(exc).splitlines()[0][:300]}). Try --format torchscript.") from exc
    proto = program.model_proto
    _strip_debug_records(proto)
    proto.producer_name, proto.producer_version = "imgcls", __version__
    proto.doc_string = f"imgcls {source.info.backbone} classifier: input {INPUT_NAME} (N,3,H,W), output {OUTPUT_NAME}"
    del proto.metadata_props[:]
    for key, value in source.info.to_metadata_props().items():
        proto.metadata_props.add(key=key, value=value)
    if proto.ByteSize() > _PROTOBUF_LIMIT:
        raise ExportError(f"{source.path}: the model is over 2 GB, more than one ONNX file can hold.")
    opsets = [entry.version for entry in proto.opset_import if entry.domain in ("", "ai.onnx")]
    return proto.SerializeToString(), (opsets[0] if opsets else None)


def _strip_debug_records(proto: Any) -> None:
    """Drop doc strings and metadata of nodes and values: the exporter fills them with Python
    stack traces, i.e. absolute paths of this machine's source files."""
    graphs = [proto.graph]
    for function in proto.functions:
        function.doc_string = ""
        del function.metadata_props[:]
        _strip_nodes(function.node, graphs)
    while graphs:
        graph = graphs.pop()
        graph.doc_string = ""
        del graph.metadata_props[:]
        for value in (*graph.input, *graph.output, *graph.value_info, *graph.initializer):
            value.doc_string = ""
            del value.metadata_props[:]
        _strip_nodes(graph.node, graphs)


def _strip_nodes(nodes: Any, graphs: list[Any]) -> None:
    for node in nodes:
        node.doc_string = ""
        del node.metadata_props[:]
        for attribute in node.attribute:  # If/Loop bodies are graphs too
            graphs.extend([attribute.g] if attribute.HasField("g") else [])
            graphs.extend(attribute.graphs)


def _onnx_runner(data: bytes) -> Any:
    import onnxruntime as ort

    try:
        session = ort.InferenceSession(data, providers=["CPUExecutionProvider"])
    except Exception as exc:
        raise ExportError(f"onnxruntime cannot load the exported model ({str(exc).splitlines()[0][:300]}).") from exc
    return lambda batch: session.run([OUTPUT_NAME], {INPUT_NAME: batch.numpy()})[0]


# -- TorchScript ---------------------------------------------------------------------------------

def _torchscript_bytes(source: ExportSource) -> bytes:
    import torch

    try:
        with torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore")  # TorchScript is deprecated upstream (FutureWarning), tracer warnings
            traced = torch.jit.trace(source.model, _example_input(source), check_trace=False, _store_inputs=False)
            buffer = io.BytesIO()
            metadata = json.dumps(source.info.to_json_dict(), ensure_ascii=False)
            torch.jit.save(traced, buffer, _extra_files={TORCHSCRIPT_METADATA: metadata})
    except Exception as exc:
        raise ExportError(f"{source.path}: TorchScript export of {source.info.backbone} failed "
                          f"({str(exc).splitlines()[0][:300]}). Try --format onnx.") from exc
    return _without_debug_records(buffer.getvalue())


def _without_debug_records(data: bytes) -> bytes:
    """Rewrite the archive without ``*.debug_pkl`` (source ranges naming this machine's files);
    torch's own reader/writer keep the record alignment that ``torch.jit.load`` expects."""
    import torch

    reader = torch._C.PyTorchFileReader(io.BytesIO(data))
    out = io.BytesIO()
    writer = torch._C.PyTorchFileWriter(out)
    for name in reader.get_all_records():
        if not name.endswith(".debug_pkl"):
            record = reader.get_record(name)
            writer.write_record(name, record, len(record))
    writer.write_end_of_file()
    return out.getvalue()


def _torchscript_runner(data: bytes) -> Any:
    """Run the bytes ``_torchscript_bytes`` just traced (never a file): our own code, so no consent is asked."""
    import torch

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        module = torch.jit.load(io.BytesIO(data), map_location="cpu")

    module.eval()

    def run(batch: "torch.Tensor") -> np.ndarray:
        return forward(module, batch, torch.device("cpu")).numpy()

    return run
