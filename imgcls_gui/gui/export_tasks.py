"""The Export dialog's work, apart from its widgets: the files the engine's ``ExportPlan`` would replace,
``export_task`` (run in a worker; it hands the plan to the warm child process, which runs the same engine
functions as ``imgcls export``) and ``parity_text``, the verification/INT8 parity report worded for the dialog."""

from __future__ import annotations

import os
from typing import Any

from ..engine import ExportError, ExportPlan, ExportResult
from .common.child_jobs import in_child
from .worker import TaskState

__all__ = ["ExportPlan", "export_task", "parity_text", "replaced_files"]


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


def export_task(task: TaskState, plan: ExportPlan) -> ExportResult:
    """Worker task: run the engine's exports of ``plan`` in the warm child process; returns their reports."""
    from ..engine import QuantizationRefusedError, check_export_plan, export_in_child

    check_export_plan(plan)  # a plan's own mistake is told at once, without asking the child
    try:
        return in_child(task, export_in_child, plan)
    except QuantizationRefusedError as exc:  # the engine's message names the CLI's flags; these are the dialog's
        report = exc.report
        raise ExportError(
            f"the INT8 model picks the same class as the fp32 model on only {report.agreement:.1%} of "
            f"{report.parity_images} validation images (Minimum agreement {report.min_agreement:.0%}), so nothing "
            "was written. Raise Calibration images, choose ONNX fp32, or lower Minimum agreement.") from exc


def parity_text(report: Any) -> str:
    """What the check found, for a user: the INT8 parity report's lines, or one line for fp32 and TorchScript."""
    if report.format == "onnx-int8":
        return "INT8 parity report:<br>" + "<br>".join(report.lines())
    return (f"verified: largest probability difference vs PyTorch {report.max_abs_diff:.1e} on {report.samples} "
            f"{report.sample_source} (limit 1e-04); {report.size_bytes / 1e6:.1f} MB in {report.seconds:.1f} s")
