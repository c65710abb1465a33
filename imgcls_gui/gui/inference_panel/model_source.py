"""Choosing the model to predict with: a run of the open project, an exported ONNX file or a checkpoint.

Loading happens in the app's child process (a worker waits for it; torch or onnxruntime load there, never in the
app); ``predictorChanged`` carries the loaded model's ``ModelDescription`` (or None while nothing usable is loaded).
"""

from __future__ import annotations

import html
from pathlib import Path

import qtawesome as qta
from PySide6.QtCore import Signal, Slot
from PySide6.QtWidgets import QComboBox, QFileDialog, QGridLayout, QLabel, QMessageBox, QPushButton, QWidget

from ...engine import ModelDescription, list_runs
from .. import errors as gui_errors
from ..common.metric_names import task_name
from ..worker import LatestTask
from .tasks import CodeConsentNeeded, load_predictor_task

FILTERS = {"onnx": "ONNX models (*.onnx);;All files (*)",
           "checkpoint": "imgcls checkpoints and TorchScript exports (*.pt *.pth *.ts);;All files (*)"}


def ask_model_file(parent: QWidget, kind: str) -> str:
    title = "Open an exported ONNX model" if kind == "onnx" else "Open an imgcls checkpoint (best.pt) or TorchScript export"
    path, _ = QFileDialog.getOpenFileName(parent, title, str(Path.home()), FILTERS[kind])
    return path


def confirm_running_code(parent: QWidget | None, path: Path) -> bool:
    """Ask before loading TorchScript from elsewhere: it is a program that runs as the user."""
    return code_warning_box(parent, path).exec() == QMessageBox.StandardButton.Yes


def code_warning_box(parent: QWidget | None, path: Path) -> QMessageBox:
    """The question, defaulting to No; names the file and what its code could do."""
    text = (f"<b>{html.escape(path.name)}</b> is a TorchScript model, which is a program: loading it runs the code "
            "inside, and that code can read, change or delete your files.<br><br>It was not exported by imgcls on "
            "this computer. Load it only if you trust whoever made it. (ONNX models hold no code: ask for one "
            "instead.)<br><br>Load and run it?")
    box = QMessageBox(QMessageBox.Icon.Warning, "Run code from this model file?", text,
                      QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No, parent)
    box.setDefaultButton(QMessageBox.StandardButton.No)
    box.setDetailedText(str(path))
    return box


def describe_predictor(predictor: ModelDescription) -> str:
    classes = ", ".join(predictor.classes[:8]) + ("…" if len(predictor.classes) > 8 else "")
    thresholds = " with per-label thresholds" if predictor.info.thresholds else ""
    return (f"{predictor.kind}: {len(predictor.classes)} classes ({classes}), {task_name(predictor.task).lower()}{thresholds}, "
            f"{predictor.preprocessing.image_size} px")


class ModelSource(QWidget):
    predictorChanged = Signal(object)  # ModelDescription or None

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.ask_file = ask_model_file  # (parent, "onnx" | "checkpoint") -> path; tests answer it
        self.confirm_code = confirm_running_code  # (parent, path) -> bool; tests answer it
        self.predictor: ModelDescription | None = None
        self.loading = LatestTask(self)  # choosing another model drops the load of the previous one
        self._extra: list[Path] = []  # files opened by hand, kept in the list across project reloads
        self._runs_dir: Path | None = None
        self.combo = QComboBox()
        self.combo.setObjectName("modelChooser")
        self.combo.setMinimumContentsLength(40)
        self.combo.activated.connect(self._chosen)
        self.onnx_button = QPushButton(qta.icon("mdi6.file-cog-outline"), "ONNX…")
        self.onnx_button.setToolTip("Use an exported .onnx model (File ▸ Export Model…)")
        self.onnx_button.clicked.connect(self._open_onnx)
        self.checkpoint_button = QPushButton(qta.icon("mdi6.file-outline"), "Checkpoint…")
        self.checkpoint_button.setToolTip("Use a best.pt / last.pt of any imgcls run, or a TorchScript export")
        self.checkpoint_button.clicked.connect(self._open_checkpoint)
        self.info = QLabel("No model loaded.")
        self.info.setWordWrap(True)
        grid = QGridLayout(self)
        grid.setContentsMargins(0, 0, 0, 0)
        grid.addWidget(QLabel("Model:"), 0, 0)
        grid.addWidget(self.combo, 0, 1)
        grid.addWidget(self.onnx_button, 0, 2)
        grid.addWidget(self.checkpoint_button, 0, 3)
        grid.addWidget(self.info, 1, 1, 1, 3)
        grid.setColumnStretch(1, 1)

    def reload(self, runs_dir: Path | None) -> None:
        """List the project's runs that have a best.pt, then the files opened by hand."""
        self._runs_dir = runs_dir
        current = self.current_path()
        self.combo.clear()
        for run in list_runs(runs_dir) if runs_dir is not None else []:
            if run.has_checkpoint:
                best = f"{run.monitor} {run.best_value:.3f}" if run.monitor in run.final else run.status
                self.combo.addItem(qta.icon("mdi6.chart-line"), f"run {run.display_name} ({run.backbone}, {best})", str(run.path))
        for path in self._extra:
            self.combo.addItem(qta.icon("mdi6.file-outline"), str(path), str(path))
        if self.combo.count() == 0:
            self.combo.addItem("No trained model: train one, or open an ONNX file or checkpoint", "")
        index = self.combo.findData(str(current)) if current else -1
        self.combo.setCurrentIndex(max(index, 0))
        if self.current_path() != current or self.predictor is None:
            self.load_current()

    def current_path(self) -> Path | None:
        data = self.combo.currentData()
        return Path(data) if data else None

    def choose(self, path: Path) -> None:
        """Select ``path`` (adding it to the list) and load it."""
        path = Path(path)
        if self.combo.findData(str(path)) < 0:
            self._extra.append(path)
            self.combo.addItem(qta.icon("mdi6.file-outline"), str(path), str(path))
        self.combo.setCurrentIndex(self.combo.findData(str(path)))
        self.load_current()

    def load_current(self, trust_code: bool = False) -> None:
        path = self.current_path()
        self._set_predictor(None)
        self.loading.discard()
        if path is None:
            self.info.setText("No model loaded.")
            return
        self.info.setText(f"Loading {path.name}…")
        self.loading.start(load_predictor_task, path, trust_code, on_success=self._loaded, on_failure=self._failed)

    @Slot(int)
    def _chosen(self, index: int) -> None:
        self.load_current()

    @Slot()
    def _open_onnx(self) -> None:
        path = self.ask_file(self, "onnx")
        if path:
            self.choose(Path(path))

    @Slot()
    def _open_checkpoint(self) -> None:
        path = self.ask_file(self, "checkpoint")
        if path:
            self.choose(Path(path))

    @Slot(object)
    def _loaded(self, predictor: ModelDescription | CodeConsentNeeded) -> None:
        if isinstance(predictor, CodeConsentNeeded):
            if self.current_path() == predictor.path and self.confirm_code(self, predictor.path):
                self.load_current(trust_code=True)
            else:
                self.info.setText(f"<span style='color:#c92a2a'>Not loaded: {html.escape(predictor.path.name)} is "
                                  "TorchScript (code) from elsewhere. Use its ONNX export, or choose it again "
                                  "and agree to run its code.</span>")
            return
        self.info.setText(describe_predictor(predictor))
        self._set_predictor(predictor)

    @Slot(str, str)
    def _failed(self, message: str, details: str) -> None:
        self.info.setText(f"<span style='color:#c92a2a'>Could not load: {message}</span>")
        gui_errors.show_error(self, message, details)

    def _set_predictor(self, predictor: ModelDescription | None) -> None:
        self.predictor = predictor
        self.predictorChanged.emit(predictor)
