"""Work the app runs in its child process (``training/child.py``'s ``JOB_HANDLERS``): an export, a run's
results, a folder's predictions.

``ExportPlan`` is what the app's Export dialog asks for (which run, which format, where); ``run_export_plan``
carries it out with the same engine functions as ``imgcls export`` (one INT8 quantization shared by the
model file and the bundle, an fp32 file copied from the bundle's verified one). ``export_job`` runs a plan
in the child; ``export_in_child`` is the app's side: it sends the plan to a child and rebuilds the
reports from their fields (``wire.py``), so the app's process never imports torch for an export.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..checkpoint import atomic_write_bytes
from ..errors import ExportError
from .loaded_models import RecentlyLoaded
from .quantize import DEFAULT_CALIBRATION_IMAGES, DEFAULT_MIN_AGREEMENT

Progress = Callable[[int, int, str], None]


@dataclass(frozen=True)
class ExportPlan:
    """What the app asks of an export: which run, which format, where (``out`` and/or ``bundle``)."""

    run_dir: Path
    format: str  # "onnx" | "onnx_int8" | "torchscript"
    out: Path | None
    bundle: Path | None = None
    calibration_images: int = DEFAULT_CALIBRATION_IMAGES  # INT8 only
    min_agreement: float = DEFAULT_MIN_AGREEMENT  # INT8 only


@dataclass(frozen=True)
class ExportResult:
    """The reports of a plan's exports (``ExportReport``/``QuantizationReport``), and the process that made them."""

    reports: tuple[Any, ...]
    pid: int


def check_export_plan(plan: ExportPlan) -> None:
    """The plan's own mistakes, found before any work (and before a child process is asked)."""
    if plan.out is None and plan.bundle is None:
        raise ExportError("Nothing to write: choose where to save the model, or tick 'Also write a bundle folder'.")
    if plan.out is not None and plan.format != "torchscript" and plan.out.suffix.lower() != ".onnx":
        raise ExportError(f"{plan.out}: an ONNX file must end in .onnx (that is how the Inference panel and "
                          "'imgcls predict' recognise it).")


def run_export_plan(plan: ExportPlan, progress: Progress) -> tuple[Any, ...]:
    """Export as ``plan`` says; returns the reports, the model file's first. ``progress(done, total, what)``
    is called as steps end (and may raise to stop between them)."""
    from .export import export_bundle, export_onnx, export_torchscript

    check_export_plan(plan)
    if plan.format == "onnx_int8":
        return _quantize_plan(plan, progress)
    steps = int(plan.out is not None) + int(plan.bundle is not None)
    reports: list[Any] = []
    progress(0, steps, "")
    if plan.bundle is not None:
        reports.append(export_bundle(plan.run_dir, plan.bundle))
        progress(len(reports), steps, "bundle")
    if plan.out is not None:
        _make_folder(plan.out.parent)
        if plan.format == "onnx" and reports:  # the bundle's model.onnx is that very export: copy, not redo
            reports.insert(0, _copy_export(reports[0], plan.out))
        else:
            export = export_onnx if plan.format == "onnx" else export_torchscript
            reports.insert(0, export(plan.run_dir, plan.out))
        progress(len(reports), steps, "model")
    return tuple(reports)


def _quantize_plan(plan: ExportPlan, progress: Progress) -> tuple[Any, ...]:
    """INT8: quantize once (for the bundle when there is one) and copy the verified file to ``out``."""
    from .quantize import export_bundle_int8, export_onnx_int8, quantization_report_path

    def step(done: int, total: int, what: str) -> None:
        progress(done, total + 1, what)  # + 1: the bar is full only when the export returns

    options: dict[str, Any] = {"calibration_images": plan.calibration_images, "min_agreement": plan.min_agreement,
                               "progress": step}
    if plan.bundle is not None:
        report = export_bundle_int8(plan.run_dir, plan.bundle, **options)
        if plan.out is None:
            return (report,)
        _make_folder(plan.out.parent)
        _copy_file(quantization_report_path(report.path), quantization_report_path(plan.out))
        return (_copy_export(report, plan.out), report)
    assert plan.out is not None  # check_export_plan
    _make_folder(plan.out.parent)
    return (export_onnx_int8(plan.run_dir, plan.out, **options),)


def _copy_file(source: Path, out: Path) -> None:
    try:
        atomic_write_bytes(out, source.read_bytes())
    except OSError as exc:
        raise ExportError(f"{out}: cannot write ({exc.strerror or exc}).") from exc


def _copy_export(report: Any, out: Path) -> Any:
    """The verified file of ``report`` written again at ``out`` (atomically), with its report."""
    try:
        atomic_write_bytes(out, report.path.read_bytes())
    except OSError as exc:
        raise ExportError(f"{out}: cannot write the model ({exc.strerror or exc}).") from exc
    return dataclasses.replace(report, path=out)


def _make_folder(folder: Path) -> None:
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ExportError(f"{folder}: cannot create the folder ({exc.strerror or exc}).") from exc


def _report_to_plain(report: Any) -> dict[str, Any]:
    from ..training import wire

    return {"int8": report.format == "onnx-int8", "fields": wire.to_plain(report)}


def _report_from_plain(value: dict[str, Any]) -> Any:
    from ..training import wire
    from .export import ExportReport
    from .quantize import QuantizationReport

    return wire.from_plain(QuantizationReport if value["int8"] else ExportReport, value["fields"])


def export_job(job: Any) -> dict[str, Any]:
    """Child-process handler of kind "export" (payload: an ``ExportPlan``'s fields); progress and the app's
    Stop go through ``job`` (a ``JobContext``)."""
    from ..training import wire

    plan = wire.from_plain(ExportPlan, job.payload)
    reports = run_export_plan(plan, job.progress)
    return {"reports": [_report_to_plain(report) for report in reports], "pid": os.getpid()}


def export_in_child(child: Any, plan: ExportPlan, on_event: Callable[[object], None], control: Any,
                    interrupted: Callable[[], bool] = lambda: False) -> ExportResult:
    """Run ``plan`` in ``child`` (a ``TrainingChild``) and return its reports; events (``JobProgress``) go to
    ``on_event``; an engine error comes back as itself (``QuantizationRefusedError`` with its ``report``)."""
    from ..training import wire

    check_export_plan(plan)
    value = child.run_job("export", wire.to_plain(plan), on_event, control, interrupted)
    return ExportResult(tuple(_report_from_plain(report) for report in value["reports"]), int(value["pid"]))


def results_job(job: Any) -> dict[str, Any]:
    """Child-process handler of kind "results" (payload: run folder, split): ``run_results``'s fields; the
    app's Stop is honoured between batches."""
    from ..evaluation.results import run_results
    from ..training import wire

    job.progress(0, 0, "evaluating")  # a Stop sent before the start is honoured here
    results = run_results(job.payload["run_dir"], job.payload["split"], should_stop=job.raise_if_stopped)
    return wire.to_plain(results)  # type: ignore[no-any-return]


def results_in_child(child: Any, run_dir: str | os.PathLike[str], split: str, on_event: Callable[[object], None],
                     control: Any, interrupted: Callable[[], bool] = lambda: False) -> Any:
    """``run_results`` of ``run_dir`` on ``split``, computed in ``child`` (a ``TrainingChild``): a ``RunResults``."""
    from ..evaluation.results import RunResults
    from ..training import wire

    value = child.run_job("results", {"run_dir": str(run_dir), "split": split}, on_event, control, interrupted)
    return wire.from_plain(RunResults, value)


_predictors = RecentlyLoaded(keep=1)  # the child's loaded model, kept for the next folder, watch or frame


def cached_predictor(model: Path, trust_code: bool) -> Any:
    """The child's ``Predictor`` of ``model`` (device "auto"), loaded once while the file stays the same."""
    from .predict import Predictor

    return _predictors.get(model, lambda: Predictor.load(model, device="auto", trust_code=trust_code), trust_code)


def predict_job(job: Any) -> dict[str, Any]:
    """Child-process handler of kind "predict" (payload: model path, trust_code, image paths, top_k, batch size):
    each batch goes to the app as it comes (``JobItems`` of ``Prediction`` fields); the app's Stop between batches."""
    from ..events import JobProgress

    payload = job.payload
    predictor = cached_predictor(Path(payload["model"]), bool(payload["trust_code"]))

    paths, done = [Path(p) for p in payload["paths"]], 0
    job.emit(JobProgress(0, len(paths)))  # the first batch always comes: a Stop is looked at between batches
    for batch in predictor.iter_predict(paths, batch_size=payload["batch_size"], top_k=payload["top_k"]):
        job.items(batch)
        done += len(batch)
        job.progress(done, len(paths), "")
    return {"predicted": done}


def predict_in_child(child: Any, predictor: Any, paths: Sequence[Path], top_k: int, batch_size: int,
                     on_event: Callable[[object], None], control: Any,
                     interrupted: Callable[[], bool] = lambda: False) -> int:
    """Predict ``paths`` with ``predictor``'s model file (a ``Predictor`` or ``ModelDescription``) loaded in ``child``;
    each batch goes to ``on_event`` as a tuple of ``Prediction``s (other events as they are). Returns the files
    predicted."""
    payload = {**model_payload(predictor), "paths": [str(p) for p in paths], "top_k": top_k, "batch_size": batch_size}
    return int(child.run_job("predict", payload, predictions_relay(on_event), control, interrupted)["predicted"])


def model_payload(model: Any) -> dict[str, Any]:
    """Which model file a job loads (a ``Predictor``'s or ``ModelDescription``'s ``source``), and whether it may run
    its code: a TorchScript file reached the app only with the user's consent, so the child loads it trusted."""
    return {"model": str(model.source), "trust_code": model.kind == "torchscript"}


def predictions_relay(on_event: Callable[[object], None]) -> Callable[[object], None]:
    """``on_event`` given each ``JobItems`` of ``Prediction`` fields as a tuple of ``Prediction``s, other events as
    they are."""
    from ..events import JobItems
    from ..training import wire
    from .predict import Prediction

    def relay(event: object) -> None:
        if isinstance(event, JobItems):
            on_event(tuple(wire.from_plain(Prediction, item) for item in event.items))
        else:
            on_event(event)

    return relay
