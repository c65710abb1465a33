"""The Inference panel: run a trained model over images or folders, look at the results, export them,
sort the files into per-class folders, or accept predictions as labels of unlabeled project images.

Prediction runs in a worker and streams its results batch by batch into the table; Cancel keeps
what was predicted. File and folder dialogs are attributes (``ask_*``) so tests can answer them.
Watching a folder is ``watching.FolderWatch``; export, sorting (asked through ``SortDialog``) and
accepting labels are ``result_actions.ResultActions``. A wrong prediction is corrected (keys 1-9, a menu)
before accepting.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QSize, Qt, Slot
from PySide6.QtGui import QDragEnterEvent, QDropEvent
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QProgressBar,
    QSlider,
    QSpinBox,
    QSplitter,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from ...engine import ModelDescription
from .. import errors as gui_errors
from ..common.thumbnails import ThumbnailLoader
from ..state import AppState
from ..worker import LatestTask, Worker
from .corrections import LabelCorrector
from .dialogs import SortDialog, ask_folder, ask_image_files, ask_save_path
from .explain_row import RowExplainer
from .labeling import unlabeled_images
from .live import LiveView
from .model_source import ModelSource
from .result_actions import ResultActions, action_button
from .table import SCORE_COLUMN, PredictionModel
from .tasks import list_images_task, predict_task
from .watching import FolderWatch

THUMB = 56
BATCH_SIZE = 16  # small batches: the table fills soon and Cancel answers quickly


class InferencePanel(QWidget):
    def __init__(self, state: AppState, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.state = state
        self.ask_files, self.ask_save_path, self.ask_folder = ask_image_files, ask_save_path, ask_folder
        self.predictor: ModelDescription | None = None
        self.inputs: list[Path] = []
        self.image_ids: dict[str, int] = {}  # path → project image id while labeling with the model
        self.task = LatestTask(self)  # finding, predicting or sorting images; closing the project drops it
        self.setAcceptDrops(True)
        self.source = ModelSource()
        self.source.predictorChanged.connect(self._predictor_changed)
        self.thumbnails = ThumbnailLoader(size=THUMB, parent=self)
        self.results = PredictionModel(self.thumbnails, self)
        self._build_widgets()
        self.watch = FolderWatch(self.task, self.results, self.table, self.top_k, self.progress, self.status,
                                 BATCH_SIZE, self)
        self.actions = ResultActions(state, self.task, self.results, self.table, self.top_k, self.status,
                                     lambda: self.ask_save_path(self), self)  # the buttons below act on the rows
        self.export_button, self.sort_button, self.move_check = self.actions.buttons[:3]
        self.accept_selected_button, self.accept_all_button = self.actions.buttons[3:]
        self.watch.changed.connect(self._update_buttons)
        self.actions.changed.connect(self._update_buttons)
        self.corrector = LabelCorrector(self.table, self.results, state, self)
        self.explainer = RowExplainer(self.table, self.results, state, self)
        self._build_layout()
        state.projectChanged.connect(self._project_changed)
        state.runsChanged.connect(self._runs_changed)
        self._project_changed(state.project)
        self._update_buttons()

    def _build_widgets(self) -> None:
        self.add_files_button = action_button("mdi6.image-plus", "Images…", "Choose image files to predict", self.add_files)
        self.add_folder_button = action_button("mdi6.folder-image", "Folder…", "Predict every image in a folder "
                                               "and its subfolders", self.add_folder)
        self.watch_button = action_button("mdi6.folder-eye-outline", "Watch folder…", "Predict a folder's images, "
                                          "then each new one as it arrives (once completely written), until Stop",
                                          self.ask_watch_folder)
        self.live_button = action_button("mdi6.webcam", "Live camera", "Classify a camera's (or a video file's) frames "
                                         "as they come, with the top classes over the picture", self._live_toggled)
        self.live_button.setCheckable(True)
        self.live = LiveView()
        self.live.setVisible(False)
        self.unlabeled_button = action_button("mdi6.tag-search-outline", "Unlabeled project images", "Predict the open "
                                              "project's unlabeled images, least confident first, to accept as labels",
                                              self.predict_unlabeled)
        self.top_k = QSpinBox()
        self.top_k.setRange(1, 20)
        self.top_k.setValue(3)
        self.top_k.setPrefix("top ")
        self.top_k.setToolTip("How many of the most likely classes to show and export")
        self.top_k.valueChanged.connect(self._top_k_changed)
        self.predict_button = action_button("mdi6.play", "Predict", "Predict the chosen images again", self.predict)
        self.cancel_button = action_button("mdi6.stop", "Cancel", "Stop predicting (the results so far stay)", self.cancel)
        self.progress = QProgressBar()
        self.model_thresholds = QCheckBox("Per-label thresholds from training")
        self.model_thresholds.setToolTip("Use the thresholds tuned on the validation images for each label")
        self.model_thresholds.toggled.connect(self._threshold_changed)
        self.threshold = QSlider(Qt.Orientation.Horizontal)
        self.threshold.setObjectName("thresholdSlider")
        self.threshold.setRange(1, 99)
        self.threshold.setValue(50)
        self.threshold.setToolTip("Multi-label: a label is given when its probability reaches this threshold")
        self.threshold.valueChanged.connect(self._threshold_changed)
        self.threshold_label = QLabel("0.50")
        self.table = QTableView()
        self.table.setObjectName("predictionTable")
        self.table.setModel(self.results)
        self.table.setIconSize(QSize(THUMB, THUMB))
        self.table.verticalHeader().setDefaultSectionSize(THUMB + 6)
        self.table.verticalHeader().setVisible(False)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.horizontalHeader().setSortIndicator(-1, Qt.SortOrder.AscendingOrder)  # rows come in input order
        self.table.setSortingEnabled(True)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        self.table.horizontalHeader().setStretchLastSection(True)
        for column, width in enumerate((260, 160, 70, 300)):
            self.table.setColumnWidth(column, width)
        self.status = QLabel("Drop images or folders here, or choose them above.")
        self.status.setObjectName("inferenceStatus")

    def _build_layout(self) -> None:
        inputs = QHBoxLayout()
        for widget in (self.add_files_button, self.add_folder_button, self.watch_button, self.live_button,
                       self.unlabeled_button):
            inputs.addWidget(widget)
        inputs.addStretch(1)
        for widget in (self.top_k, self.predict_button, self.cancel_button, self.progress):
            inputs.addWidget(widget)
        self.threshold_row = QWidget()
        thresholds = QHBoxLayout(self.threshold_row)
        thresholds.setContentsMargins(0, 0, 0, 0)
        thresholds.addWidget(self.model_thresholds)
        thresholds.addWidget(QLabel("or one threshold:"))
        thresholds.addWidget(self.threshold, 1)
        thresholds.addWidget(self.threshold_label)
        actions = QHBoxLayout()
        for widget in (self.export_button, self.sort_button, self.move_check):
            actions.addWidget(widget)
        actions.addWidget(self.explainer.toggle)
        actions.addStretch(1)
        actions.addWidget(self.accept_selected_button)
        actions.addWidget(self.accept_all_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.addWidget(self.source)
        layout.addLayout(inputs)
        layout.addWidget(self.threshold_row)
        layout.addWidget(self.live, 1)
        rows = QSplitter(Qt.Orientation.Horizontal)
        rows.addWidget(self.table)
        rows.addWidget(self.explainer.pane)
        rows.setSizes([700, 360])
        layout.addWidget(rows, 1)
        layout.addLayout(actions)
        layout.addWidget(self.status)

    @property
    def sort_dialog(self) -> SortDialog | None:  # the open "Sort into folders" question
        return self.actions.sort_dialog

    @property
    def worker(self) -> Worker | None:
        """The running task's worker; None when the panel is idle."""
        return self.task.worker

    @Slot()
    def _update_buttons(self) -> None:
        busy = self.task.busy
        has_rows = bool(self.results.rows)
        labeling = any(row.image_id is not None for row in self.results.rows)
        self.predict_button.setEnabled(not busy and self.predictor is not None and bool(self.inputs))
        self.watch_button.setEnabled(not busy and self.predictor is not None)
        self.cancel_button.setEnabled(busy)
        self.cancel_button.setText("Stop watching" if busy and self.watch.watched is not None else "Cancel")
        self.unlabeled_button.setEnabled(not busy and self.predictor is not None and self.state.writable)
        for button in (self.export_button, self.sort_button):
            button.setEnabled(not busy and has_rows)
        for button in (self.accept_selected_button, self.accept_all_button):
            button.setEnabled(not busy and labeling and self.state.writable)
        multilabel = self.predictor is not None and self.predictor.task == "multilabel"
        self.threshold_row.setVisible(multilabel)
        self.threshold.setEnabled(not self.model_thresholds.isChecked())

    # -- state -------------------------------------------------------------------------------

    @Slot(object)
    def _project_changed(self, project: object) -> None:
        if self.task.busy:
            self.task.discard()  # its rows would be the closed project's images
            self.status.clear()
        self.image_ids, self.watch.watched = {}, None
        self.live.set_project(project)
        self.results.clear()
        self._runs_changed()
        self._update_buttons()

    @Slot()
    def _runs_changed(self) -> None:
        project = self.state.project
        self.source.reload(project.runs_dir if project is not None and not project.closed else None)

    @Slot(object)
    def _predictor_changed(self, predictor: ModelDescription | None) -> None:
        self.predictor = predictor
        self.live.set_predictor(predictor)
        self.explainer.set_predictor(predictor)
        self.actions.predictor = predictor
        has_thresholds = predictor is not None and predictor.info.thresholds is not None
        self.model_thresholds.blockSignals(True)
        self.model_thresholds.setEnabled(has_thresholds)
        self.model_thresholds.setChecked(has_thresholds)
        self.model_thresholds.blockSignals(False)
        self._update_buttons()

    # -- inputs and predicting ---------------------------------------------------------------

    @Slot()
    def add_files(self) -> None:
        files = self.ask_files(self)
        if files:
            self.add_inputs([Path(f) for f in files])

    @Slot()
    def add_folder(self) -> None:
        folder = self.ask_folder(self, "Predict every image in this folder (and its subfolders)")
        if folder:
            self.add_inputs([Path(folder)])

    def add_inputs(self, paths: list[Path]) -> None:
        """Find the images in ``paths`` (a worker walks folders), then predict them."""
        if self.task.busy:
            return
        self.image_ids = {}
        self.status.setText("Looking for images…")
        self.task.start(list_images_task, paths, on_success=self._inputs_found, on_failure=self._task_failed)
        self._update_buttons()

    @Slot(object)
    def _inputs_found(self, paths: list[Path]) -> None:
        self.inputs = list(paths)
        self.status.setText(f"{len(paths)} image(s) to predict.")
        self.predict()

    @Slot()
    def predict_unlabeled(self) -> None:
        project = self.state.project
        if project is None or project.closed:
            return
        self.image_ids = unlabeled_images(project)
        if not self.image_ids:
            gui_errors.show_error(self, "Every image of this project has a label already; nothing to predict.")
            return
        self.inputs = [Path(p) for p in self.image_ids]
        self.predict()

    @Slot()
    def predict(self) -> None:
        if self.task.busy:
            return
        if self.predictor is None:
            gui_errors.show_error(self, "Choose a model first: a run of this project, an ONNX file or a checkpoint.")
            self._update_buttons()
            return
        if not self.inputs:
            self.status.setText("No images found to predict.")
            self._update_buttons()
            return
        self.results.clear()
        self.table.horizontalHeader().setSortIndicator(-1, Qt.SortOrder.AscendingOrder)
        self.results.set_shown_top_k(self.top_k.value())
        self.progress.setRange(0, len(self.inputs))
        self.progress.setValue(0)
        self.status.setText(f"Predicting {len(self.inputs)} image(s)…")
        top_k = len(self.predictor.classes)  # all probabilities: thresholds and top-k change without re-running
        self.task.start(predict_task, self.predictor, self.inputs, top_k, BATCH_SIZE, on_event=self._batch_predicted,
                        on_progress=self._progress, on_success=self._predicted, on_failure=self._task_failed,
                        on_cancel=self._cancelled)
        self._update_buttons()

    @Slot()
    def ask_watch_folder(self) -> None:
        folder = self.ask_folder(self, "Watch this folder: predict its images and each new one as it arrives")
        if folder:
            self.watch_folder(Path(folder))

    def watch_folder(self, folder: Path) -> None:
        """Predict ``folder``'s images, then every image that arrives in it, until Stop."""
        if self.task.busy or self.predictor is None:
            return
        self.image_ids, self.inputs = {}, []
        self.watch.start(Path(folder), self.predictor)

    @Slot()
    def cancel(self) -> None:
        self.task.cancel()

    @Slot(object)
    def _batch_predicted(self, batch: object) -> None:
        self.results.append(batch, self.image_ids)  # type: ignore[arg-type]
        self._update_buttons()

    @Slot(int, int)
    def _progress(self, done: int, total: int) -> None:
        self.progress.setRange(0, max(total, 1))
        self.progress.setValue(done)

    @Slot(object)
    def _predicted(self, count: object) -> None:
        self._threshold_changed()
        errors = sum(1 for p in self.results.predictions() if p.error)
        text = f"Predicted {count} image(s)" + (f"; {errors} could not be read." if errors else ".")
        if self.image_ids:
            self.table.sortByColumn(SCORE_COLUMN, Qt.SortOrder.AscendingOrder)
            text += " Least confident first: check them, then accept the labels."
        self.status.setText(text)
        self._update_buttons()

    @Slot()
    def _cancelled(self) -> None:
        self.status.setText(f"Cancelled after {len(self.results.rows)} image(s).")
        self._update_buttons()

    @Slot(str, str)
    def _task_failed(self, message: str, details: str) -> None:
        self.status.setText(message)
        gui_errors.show_error(self, message, details)
        self._update_buttons()

    @Slot(int)
    def _top_k_changed(self, value: int) -> None:
        self.results.set_shown_top_k(value)
        self.live.top_k = value

    @Slot(bool)
    def _live_toggled(self, on: bool) -> None:
        """Show the live picture (the camera runs only while it is shown)."""
        self.live.top_k = self.top_k.value()
        self.live.setVisible(on)

    @Slot()
    def _threshold_changed(self, *_: object) -> None:
        value = self.threshold.value() / 100
        self.threshold_label.setText(f"{value:.2f}")
        self._update_buttons()
        if self.predictor is None or self.predictor.task != "multilabel":
            self.results.set_thresholds(None)
        elif self.model_thresholds.isChecked():
            self.results.set_thresholds(dict(zip(self.predictor.classes, self.predictor.info.thresholds or ())))
        else:
            self.results.set_thresholds({name: value for name in self.predictor.classes})

    # -- drops -------------------------------------------------------------------------------

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:  # noqa: N802 - Qt API
        if event.mimeData().hasUrls():
            event.acceptProposedAction()

    def dropEvent(self, event: QDropEvent) -> None:  # noqa: N802 - Qt API
        paths = [Path(url.toLocalFile()) for url in event.mimeData().urls() if url.isLocalFile()]
        if paths:
            event.acceptProposedAction()
            self.add_inputs(paths)
