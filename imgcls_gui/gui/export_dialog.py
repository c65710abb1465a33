"""File ▸ Export model…: a run's model as a verified ONNX file (fp32 or INT8) or TorchScript, and
optionally a bundle folder.

The dialog only gathers choices into an ``ExportPlan``; ``export_task`` (a plain function in
``export_tasks.py``, run in a worker) hands it to the app's warm child process, which calls the same engine
functions as ``imgcls export`` (so a crash there fails the export, not the app): ``export_onnx``,
``export_torchscript``, ``export_bundle`` and, for INT8, ``export_onnx_int8`` and
``export_bundle_int8``. Each of them checks the exported model before writing it (against PyTorch;
INT8 against the fp32 model on the run's validation images), and the report is shown here.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import qtawesome as qta
from PySide6.QtCore import Qt, QUrl, Signal, Slot
from PySide6.QtGui import QDesktopServices
from PySide6.QtWidgets import (
    QButtonGroup,
    QCheckBox,
    QComboBox,
    QDialog,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMessageBox,
    QDoubleSpinBox,
    QProgressBar,
    QPushButton,
    QRadioButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from ..engine import DEFAULT_CALIBRATION_IMAGES, DEFAULT_MIN_AGREEMENT, ExportResult, RunSummary, list_runs
from .export_tasks import ExportPlan, export_task, parity_text, replaced_files
from .worker import Worker, run_task

FORMATS = (("onnx", "ONNX (.onnx)", "One self-contained file for onnxruntime, the Inference panel and "
            "'imgcls predict'. Checked against PyTorch with onnxruntime before it is written."),
           ("onnx_int8", "ONNX INT8 (.onnx)", "A quarter of the size and faster on CPUs: 8-bit weights and "
            "activations, calibrated on the run's training images. Written only when it agrees with the fp32 "
            "model on enough of the run's validation images; the report is shown here and saved beside it."),
           ("torchscript", "TorchScript (.pt)", "A traced PyTorch module for C++/LibTorch or Python without imgcls. "
            "Checked against PyTorch before it is written."))
SUFFIXES = {"onnx": ".onnx", "onnx_int8": ".onnx", "torchscript": ".pt"}
NAME_ENDINGS = {"onnx": "", "onnx_int8": "-int8", "torchscript": ""}  # default file names: run-int8.onnx
EXPORTS_FOLDER = "exports"


def confirm_replace(parent: QWidget, files: list[str]) -> bool:
    """Ask before replacing files (a bundle folder may hold the user's own README.md or predict.py)."""
    return replace_question_box(parent, files).exec() == QMessageBox.StandardButton.Yes


def replace_question_box(parent: QWidget | None, files: list[str]) -> QMessageBox:
    """The question, defaulting to No, listing the files (at most six)."""
    shown = "\n".join(files[:6]) + (f"\n… and {len(files) - 6} more" if len(files) > 6 else "")
    box = QMessageBox(QMessageBox.Icon.Warning, "Replace files?", f"The export would replace:\n\n{shown}\n\n"
                      "Replace them?", QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No, parent)
    box.setDefaultButton(QMessageBox.StandardButton.No)
    return box


def free_path(path: Path) -> Path:
    """``path``, or ``name-2.ext``, ``name-3.ext``… when it exists (a default never replaces a file)."""
    candidate, number = path, 1
    while candidate.exists():
        number += 1
        candidate = path.with_name(f"{path.stem}-{number}{path.suffix}")
    return candidate


def open_folder(folder: Path) -> bool:
    """Show ``folder`` in the platform's file manager."""
    return QDesktopServices.openUrl(QUrl.fromLocalFile(str(folder)))


class ExportDialog(QDialog):
    """Choose a run, a format and where to write; Export runs the engine's export in a worker."""

    exported = Signal(object)  # tuple of ExportReport

    def __init__(self, runs_dir: Path, run_dir: Path | None = None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Export model")
        self.setObjectName("exportDialog")
        self.runs_dir = Path(runs_dir)
        self.exports_dir = self.runs_dir.parent / EXPORTS_FOLDER
        self.open_folder = open_folder  # tests replace it
        self.ask_save_path = self._ask_save_path  # (format, start) -> str; tests replace it
        self.confirm_replace = confirm_replace  # (parent, files) -> bool; tests answer it
        self.worker: Worker | None = None
        self.reports: tuple[Any, ...] = ()
        self.export_pid: int | None = None
        self.runs: list[RunSummary] = [run for run in list_runs(self.runs_dir) if run.has_checkpoint]
        self._build(run_dir)
        self._run_changed()

    # -- building ----------------------------------------------------------------------------

    def _build(self, run_dir: Path | None) -> None:
        self.run_box = QComboBox()
        self.run_box.setObjectName("exportRun")
        self.run_box.setToolTip("The run whose best.pt is exported (its best epoch)")
        for run in self.runs:
            best = "" if run.best_value != run.best_value else f", {run.monitor} {run.best_value:.3f}"
            self.run_box.addItem(f"{run.name}  ({run.backbone}{best})", str(run.path))
        wanted = next((i for i, run in enumerate(self.runs) if run_dir is not None and run.path == Path(run_dir)), 0)
        self.run_box.setCurrentIndex(wanted)
        self.run_box.currentIndexChanged.connect(self._run_changed)
        self.formats = QButtonGroup(self)
        format_row = QHBoxLayout()
        for number, (key, text, tip) in enumerate(FORMATS):
            radio = QRadioButton(text)
            radio.setObjectName(f"export_{key}")
            radio.setToolTip(tip)
            radio.setChecked(number == 0)
            self.formats.addButton(radio, number)
            format_row.addWidget(radio)
        format_row.addStretch(1)
        self.formats.idClicked.connect(self._format_changed)
        self.out_edit = QLineEdit()
        self.out_edit.setObjectName("exportPath")
        browse = QPushButton("Browse…")
        browse.clicked.connect(self._browse_out)
        out_row = QHBoxLayout()
        out_row.addWidget(self.out_edit, 1)
        out_row.addWidget(browse)
        self.bundle_check = QCheckBox("Also write a bundle folder")
        self.bundle_check.setToolTip("A folder usable without imgcls: model.onnx, labels.json, README.md and a "
                                     "predict.py that needs only onnxruntime, numpy and Pillow")
        self.bundle_check.toggled.connect(self._bundle_toggled)
        self.bundle_edit = QLineEdit()
        self.bundle_edit.setObjectName("exportBundlePath")
        self.bundle_browse = QPushButton("Browse…")
        self.bundle_browse.clicked.connect(self._browse_bundle)
        bundle_row = QHBoxLayout()
        bundle_row.addWidget(self.bundle_edit, 1)
        bundle_row.addWidget(self.bundle_browse)
        self.calibration_spin = QSpinBox()
        self.calibration_spin.setObjectName("exportCalibrationImages")
        self.calibration_spin.setRange(1, 100_000)
        self.calibration_spin.setValue(DEFAULT_CALIBRATION_IMAGES)
        self.calibration_spin.setToolTip("INT8: how many of the run's training images measure the value ranges "
                                         "the 8-bit numbers must cover (more: slower export, rarely better)")
        self.agreement_spin = QDoubleSpinBox()
        self.agreement_spin.setObjectName("exportMinAgreement")
        self.agreement_spin.setRange(0.0, 100.0)
        self.agreement_spin.setDecimals(1)
        self.agreement_spin.setSuffix(" %")
        self.agreement_spin.setValue(100 * DEFAULT_MIN_AGREEMENT)
        self.agreement_spin.setToolTip("INT8: the least share of validation images on which the INT8 model must "
                                       "pick the same class as the fp32 model; under it nothing is written")
        self.int8_row = QWidget()
        int8_layout = QHBoxLayout(self.int8_row)
        int8_layout.setContentsMargins(0, 0, 0, 0)
        int8_layout.addWidget(QLabel("Calibration images:"))
        int8_layout.addWidget(self.calibration_spin)
        int8_layout.addWidget(QLabel("Minimum agreement:"))
        int8_layout.addWidget(self.agreement_spin)
        int8_layout.addStretch(1)
        form = QFormLayout()
        form.addRow("Run:", self.run_box)
        form.addRow("Format:", format_row)
        form.addRow("INT8:", self.int8_row)
        form.addRow("Save to:", out_row)
        form.addRow(self.bundle_check, bundle_row)
        self.progress = QProgressBar()
        self.progress.setVisible(False)
        self.status = QLabel("Choose a run and where to save it, then Export.")
        self.status.setObjectName("exportStatus")
        self.status.setWordWrap(True)
        self.status.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.open_button = QPushButton(qta.icon("mdi6.folder-open-outline"), "Open folder")
        self.open_button.setToolTip("Show the exported files in the file manager")
        self.open_button.setEnabled(False)
        self.open_button.clicked.connect(self._open_clicked)
        self.export_button = QPushButton(qta.icon("mdi6.export"), "Export")
        self.export_button.setObjectName("exportButton")
        self.export_button.setDefault(True)
        self.export_button.clicked.connect(self.start)
        self.close_button = QPushButton("Close")
        self.close_button.clicked.connect(self.reject)
        buttons = QHBoxLayout()
        buttons.addWidget(self.open_button)
        buttons.addStretch(1)
        buttons.addWidget(self.export_button)
        buttons.addWidget(self.close_button)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.progress)
        layout.addWidget(self.status)
        layout.addStretch(1)
        layout.addLayout(buttons)
        self.resize(640, 300)
        if not self.runs:
            self.status.setText("No run of this project has a trained model yet: train one in the Training panel.")
        self._bundle_toggled(False)
        self.int8_row.setEnabled(False)

    # -- choices -----------------------------------------------------------------------------

    @property
    def format(self) -> str:
        return FORMATS[max(self.formats.checkedId(), 0)][0]

    def run_dir(self) -> Path | None:
        data = self.run_box.currentData()
        return Path(data) if data else None

    def plan(self) -> ExportPlan | None:
        run_dir = self.run_dir()
        if run_dir is None:
            return None
        out = self.out_edit.text().strip()
        bundle = self.bundle_edit.text().strip() if self.bundle_check.isChecked() else ""
        return ExportPlan(run_dir, self.format, Path(out).expanduser() if out else None,
                          Path(bundle).expanduser() if bundle else None, self.calibration_spin.value(),
                          self.agreement_spin.value() / 100)

    def set_format(self, fmt: str) -> None:
        self.formats.button([key for key, _, _ in FORMATS].index(fmt)).setChecked(True)
        self._format_changed()

    @Slot()
    def _run_changed(self) -> None:
        run_dir = self.run_dir()
        self.export_button.setEnabled(run_dir is not None and self.worker is None)
        if run_dir is None:
            return
        self.out_edit.setText(str(free_path(self.exports_dir / self._file_name(run_dir.name))))
        self.bundle_edit.setText(str(free_path(self.exports_dir / f"{run_dir.name}-bundle")))

    def _file_name(self, run_name: str) -> str:
        return f"{run_name}{NAME_ENDINGS[self.format]}{SUFFIXES[self.format]}"

    @Slot()
    def _format_changed(self, *_: object) -> None:
        self.int8_row.setEnabled(self.format == "onnx_int8")
        text = self.out_edit.text().strip()
        run_dir = self.run_dir()
        if not text:
            return
        path = Path(text)
        defaults = {self._default_stem(run_dir, fmt) for fmt in SUFFIXES} if run_dir is not None else set()
        if path.stem in defaults:  # a name the dialog chose follows the format; a user's own keeps its stem
            path = path.with_name(self._file_name(run_dir.name))
            self.out_edit.setText(str(free_path(path) if path.exists() else path))
        else:
            self.out_edit.setText(str(path.with_suffix(SUFFIXES[self.format])))

    @staticmethod
    def _default_stem(run_dir: Path, fmt: str) -> str:
        return f"{run_dir.name}{NAME_ENDINGS[fmt]}"

    @Slot(bool)
    def _bundle_toggled(self, checked: bool) -> None:
        self.bundle_edit.setEnabled(checked)
        self.bundle_browse.setEnabled(checked)

    def _ask_save_path(self, fmt: str, start: str) -> str:
        patterns = "TorchScript modules (*.pt)" if fmt == "torchscript" else "ONNX models (*.onnx)"
        path, _ = QFileDialog.getSaveFileName(self, "Export the model as", start, patterns)
        return path

    @Slot()
    def _browse_out(self) -> None:
        path = self.ask_save_path(self.format, self.out_edit.text())
        if path:
            if self.format != "torchscript" and not path.lower().endswith(".onnx"):
                path += ".onnx"
            self.out_edit.setText(path)

    @Slot()
    def _browse_bundle(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Bundle folder (created if needed)",
                                                  str(Path(self.bundle_edit.text()).parent))
        if folder:
            self.bundle_edit.setText(folder)

    # -- exporting ---------------------------------------------------------------------------

    @Slot()
    def start(self) -> bool:
        """Export in a worker; False when there is nothing to export or an export is running."""
        plan = self.plan()
        if plan is None or self.worker is not None:
            return False
        replaced = replaced_files(plan)
        if replaced and not self.confirm_replace(self, replaced):
            self.status.setText("Nothing exported: choose another file or folder, or agree to replace the files.")
            return False
        self.reports = ()
        self.progress.setVisible(True)
        self.progress.setRange(0, 0)  # the engine reports no progress inside one export
        check = ("quantizing it and comparing it with fp32 on the validation images" if plan.format == "onnx_int8"
                 else "checking it against PyTorch")
        self.status.setText(f"Exporting {plan.run_dir.name} and {check}…")
        self.export_button.setEnabled(False)
        self.open_button.setEnabled(False)
        self.worker = run_task(export_task, plan, parent=self, on_success=self._exported, on_failure=self._failed,
                               on_progress=self._progress)
        return True

    @Slot(int, int)
    def _progress(self, done: int, total: int) -> None:
        if done:
            self.progress.setRange(0, total)
            self.progress.setValue(done)

    @Slot(object)
    def _exported(self, result: ExportResult) -> None:
        self.worker = None
        self.reports = tuple(result.reports)
        self.export_pid = result.pid  # the child process that wrote the files
        self.progress.setRange(0, 1)
        self.progress.setValue(1)
        lines = [f"<b>{report.path}</b><br>{report.format}: {parity_text(report)}" for report in self.reports]
        self.status.setText("Exported.<br>" + "<br>".join(lines))
        self.export_button.setEnabled(True)
        self.open_button.setEnabled(True)
        self.exported.emit(self.reports)

    @Slot(str, str)
    def _failed(self, message: str, details: str) -> None:
        from .errors import show_error

        self.worker = None
        self.progress.setVisible(False)
        self.status.setText(f"<span style='color:#c92a2a'>Nothing was exported: {message}</span>")
        self.export_button.setEnabled(True)
        show_error(self, message, details)

    def destination_folder(self) -> Path | None:
        """Where the last export wrote (the model file's folder)."""
        return self.reports[0].path.parent if self.reports else None

    @Slot()
    def _open_clicked(self) -> None:
        folder = self.destination_folder()
        if folder is not None:
            self.open_folder(folder)

    def reject(self) -> None:
        if self.worker is not None:
            self.worker.cancel()  # the child stops between steps, or is ended; every file is written atomically
        super().reject()
