"""The Export dialog's work, apart from its widgets: the ``ExportPlan`` it gathers, the files an export
would replace, ``export_task`` (run in a worker; it calls the same engine functions as ``imgcls export``)
and ``parity_text``, the verification/INT8 parity report worded for the dialog."""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..engine import DEFAULT_CALIBRATION_IMAGES, DEFAULT_MIN_AGREEMENT, ExportError
from .background import import_torch, lower_thread_priority
from .worker import TaskState


@dataclass(frozen=True)
class ExportPlan:
    """What the dialog asks of the engine: which run, which format, where (``out`` and/or ``bundle``)."""

    run_dir: Path
    format: str  # "onnx" | "onnx_int8" | "torchscript"
    out: Path | None
    bundle: Path | None = None
    calibration_images: int = DEFAULT_CALIBRATION_IMAGES  # INT8 only
    min_agreement: float = DEFAULT_MIN_AGREEMENT  # INT8 only


def replaced_files(plan: ExportPlan) -> list[str]:
    """The files the export would replace, for the question asked first (the run's own checkpoint named so)."""
    from ..engine import BUNDLE_FILES, OutputExistsError, refuse_to_replace_source

    from ..engine import quantization_report_path

    found: list[str] = []
    int8 = plan.format == "onnx_int8"
    if plan.out is not None and os.path.lexists(plan.out):
        sources = [plan.run_dir / "best.pt", plan.run_dir / "last.pt"] if plan.run_dir.is_dir() else [plan.run_dir]
        try:
            refuse_to_replace_source(plan.out, sources, force=False)
            found.append(str(plan.out))
        except OutputExistsError:
            found.append(f"{plan.out} (the run's own checkpoint: the trained model would be lost)")
    if plan.out is not None and int8 and os.path.lexists(quantization_report_path(plan.out)):
        found.append(str(quantization_report_path(plan.out)))
    if plan.bundle is not None:
        names = [*BUNDLE_FILES, quantization_report_path("model.onnx").name] if int8 else list(BUNDLE_FILES)
        found += [str(plan.bundle / name) for name in names if os.path.lexists(plan.bundle / name)]
    return found


def export_task(task: TaskState, plan: ExportPlan) -> tuple[Any, ...]:
    """Worker task: run the engine's exports of ``plan``; returns their ``ExportReport``s."""
    lower_thread_priority()
    import_torch()
    from ..engine import export_bundle, export_onnx, export_torchscript

    steps = int(plan.out is not None) + int(plan.bundle is not None)
    if steps == 0:
        raise ExportError("Nothing to write: choose where to save the model, or tick 'Also write a bundle folder'.")
    if plan.out is not None and plan.format != "torchscript" and plan.out.suffix.lower() != ".onnx":
        raise ExportError(f"{plan.out}: an ONNX file must end in .onnx (that is how the Inference panel and "
                          "'imgcls predict' recognise it).")
    if plan.format == "onnx_int8":
        return _export_int8(task, plan)
    reports = []
    task.set_progress(0, steps)
    if plan.bundle is not None:
        reports.append(export_bundle(plan.run_dir, plan.bundle))
        task.set_progress(len(reports), steps)
        task.raise_if_interrupted()
    if plan.out is not None:
        _make_folder(plan.out.parent)
        if plan.format == "onnx" and reports:  # the bundle's model.onnx is that very export: copy, not redo
            reports.insert(0, _copy_export(reports[0], plan.out))
        else:
            export = export_onnx if plan.format == "onnx" else export_torchscript
            reports.insert(0, export(plan.run_dir, plan.out))
        task.set_progress(len(reports), steps)
    return tuple(reports)


def _export_int8(task: TaskState, plan: ExportPlan) -> tuple[Any, ...]:
    """INT8: quantize once (for the bundle when there is one) and copy the verified file to ``out``."""
    from ..engine import QuantizationRefusedError

    try:
        return _quantize_plan(task, plan)
    except QuantizationRefusedError as exc:  # the engine's message names the CLI's flags; these are the dialog's
        report = exc.report
        raise ExportError(
            f"the INT8 model picks the same class as the fp32 model on only {report.agreement:.1%} of "
            f"{report.parity_images} validation images (Minimum agreement {report.min_agreement:.0%}), so nothing "
            "was written. Raise Calibration images, choose ONNX fp32, or lower Minimum agreement.") from exc


def _quantize_plan(task: TaskState, plan: ExportPlan) -> tuple[Any, ...]:
    from ..engine import export_bundle_int8, export_onnx_int8, quantization_report_path

    def progress(done: int, total: int, _what: str) -> None:
        task.set_progress(done, total + 1)  # + 1: the bar is full only when the export returns
        task.raise_if_interrupted()

    options = {"calibration_images": plan.calibration_images, "min_agreement": plan.min_agreement,
               "progress": progress}
    if plan.bundle is not None:
        report = export_bundle_int8(plan.run_dir, plan.bundle, **options)
        if plan.out is None:
            return (report,)
        _make_folder(plan.out.parent)
        _copy_file(quantization_report_path(report.path), quantization_report_path(plan.out))
        return (_copy_export(report, plan.out), report)
    _make_folder(plan.out.parent)
    return (export_onnx_int8(plan.run_dir, plan.out, **options),)


def _copy_file(source: Path, out: Path) -> None:
    from ..engine import atomic_write_bytes

    try:
        atomic_write_bytes(out, source.read_bytes())
    except OSError as exc:
        raise ExportError(f"{out}: cannot write ({exc.strerror or exc}).") from exc


def _copy_export(report: Any, out: Path) -> Any:
    """The verified file of ``report`` written again at ``out`` (atomically), with its report."""
    from ..engine import atomic_write_bytes

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


def parity_text(report: Any) -> str:
    """What the check found, for a user: the INT8 parity report's lines, or one line for fp32 and TorchScript."""
    if report.format == "onnx-int8":
        return "INT8 parity report:<br>" + "<br>".join(report.lines())
    return (f"verified: largest probability difference vs PyTorch {report.max_abs_diff:.1e} on {report.samples} "
            f"{report.sample_source} (limit 1e-04); {report.size_bytes / 1e6:.1f} MB in {report.seconds:.1f} s")
