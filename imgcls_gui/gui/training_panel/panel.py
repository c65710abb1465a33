"""The Training panel: options and augmentation preview on the left; controls, live curves, log,
results and the project's runs on the right.

Runs go to ``<project>/runs/<timestamp>-<backbone>/`` with their ``config.yaml``, so any run replays
headless (``imgcls train --config``). The options edit ``AppState.run_config``, which the Model
& Freezing panel edits too; the panels never talk to each other directly.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

from PySide6.QtCore import QByteArray, QSettings, Qt, QTimer, Slot
from PySide6.QtGui import QShowEvent
from PySide6.QtWidgets import QGroupBox, QSplitter, QTabWidget, QVBoxLayout, QWidget

from ...engine import events as ev
from ...engine import ImgclsError, LabeledDataset, RunConfig, RunSummary, clear_failure, mark_failed, new_run_dir
from .. import errors as gui_errors
from ..common.missing_weights import MissingWeightsDialog
from ..common.scroll_column import scroll_column
from ..state import AppState
from .augment import AugmentationSection
from .charts import LiveCharts
from .controls import RunControls
from .form import TrainingForm
from .lr_finder import LrFinder
from .presets import Preset, apply_preset
from .results_view import ResultsView
from .runs_view import RunsView
from .search_link import SearchLink
from .search_view import SearchView
from .session import TrainingSession
from .weights_gate import WeightsGate

LIVE_TAB, RESULTS_TAB, RUNS_TAB, SEARCH_TAB = 0, 1, 2, 3
ADVANCED_KEY = "trainingPanel/advanced"


def project_run_config(config: RunConfig, project_folder: Path) -> RunConfig:
    """``config`` reading its images from the project folder, so ``imgcls train --config`` replays it."""
    data = dataclasses.replace(config.data, path=str(project_folder), format="auto", images_root=None, task="auto")
    return config.replace(data=data)


class TrainingPanel(QWidget):
    def __init__(self, state: AppState, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.state = state
        self.session = TrainingSession(self)
        self._run_config: RunConfig | None = None  # the config of the run started last
        self.weights_gate = WeightsGate(state, self)  # Start with ImageNet weights looks at the cache first
        self.lr_finder = LrFinder(state, self)
        self.form = TrainingForm()
        self.augmentation = AugmentationSection()
        self.controls = RunControls()
        self.charts = LiveCharts()
        self.results = ResultsView(state)
        self.runs = RunsView()
        self.search = SearchView()
        self._build_layout()
        self._connect()
        self.search_link = SearchLink(self)
        self._restore_settings()
        self._config_changed(state.run_config)
        self._device_found(state.device)
        self._project_changed(state.project)

    def _build_layout(self) -> None:
        options = QWidget()
        column = QVBoxLayout(options)
        column.addWidget(self.form)
        self.augment_box = QGroupBox("Augmentation")
        QVBoxLayout(self.augment_box).addWidget(self.augmentation)
        self.augment_box.setVisible(False)  # an advanced section: shown with the others (set_advanced)
        column.addWidget(self.augment_box)
        column.addStretch(1)
        scroll = scroll_column(options, 340)
        live = QSplitter(Qt.Orientation.Vertical)
        live.addWidget(self.charts)
        live.addWidget(self.controls.log_box)
        live.setSizes([520, 120])
        self.tabs = QTabWidget()
        self.tabs.addTab(live, "Live")
        self.tabs.addTab(self.results, "Results")
        self.tabs.addTab(self.runs, "Runs")
        self.tabs.addTab(self.search, "Search")
        right = QWidget()
        right_column = QVBoxLayout(right)
        right_column.setContentsMargins(4, 0, 0, 0)
        right_column.addWidget(self.controls)
        right_column.addWidget(self.tabs, 1)
        self.splitter = QSplitter(Qt.Orientation.Horizontal)
        self.splitter.addWidget(scroll)
        self.splitter.addWidget(right)
        self.splitter.setStretchFactor(1, 1)
        self.splitter.setSizes([390, 880])
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self.splitter)

    def _connect(self) -> None:
        self.state.projectChanged.connect(self._project_changed)
        self.state.runConfigChanged.connect(self._config_changed)
        self.state.runsChanged.connect(self._reload_runs)
        self.state.labelsChanged.connect(self._labels_changed)
        self.state.imagesChanged.connect(self._images_changed)
        self.state.deviceChanged.connect(self._device_found)
        self.form.changed.connect(self._options_edited)
        self.form.basics.presetChosen.connect(self._preset_chosen)
        self.form.basics.advancedToggled.connect(self.set_advanced)
        self.form.find_lr_button.clicked.connect(self.find_learning_rate)
        self.augmentation.changed.connect(self._options_edited)
        self.controls.startRequested.connect(self.start)
        self.controls.pauseToggled.connect(self.toggle_pause)
        self.controls.stopRequested.connect(self.stop)
        self.weights_gate.cached.connect(self._start_checked)
        self.weights_gate.chosen.connect(self.start)
        self.weights_gate.cancelled.connect(self._weights_cancelled)
        self.weights_gate.busyChanged.connect(self._weights_busy)
        self.session.event.connect(self._on_event)
        self.session.finished.connect(self._on_finished)
        self.session.failed.connect(self._on_failed)
        self.session.pausedChanged.connect(self._on_paused)
        self.runs.openRequested.connect(self.open_run)
        self.runs.compareRequested.connect(self.compare_runs)
        self.runs.reuseRequested.connect(self.reuse_config)
        self.runs.resumeRequested.connect(self.resume_run)
        self.runs.exportRequested.connect(self.export_run)
        self.runs.runsEdited.connect(self.state.notify_runs)
        self.results.exportRequested.connect(self._export_shown_run)
        self._preview_timer = QTimer(self, singleShot=True, interval=500)
        self._preview_timer.timeout.connect(self._update_preview_images)

    def showEvent(self, event: QShowEvent) -> None:  # noqa: N802 - Qt API
        super().showEvent(event)
        self.session.warm_up()  # while the user looks at the options, not in the middle of the first run

    # -- state -------------------------------------------------------------------------------

    @Slot(object)
    def _project_changed(self, project: object) -> None:
        running = self.session.running
        if running:  # its run folder keeps last.pt: the run resumes when the project is back
            self.session.stop()
        self.controls.clear()  # nothing of the previous project stays: log, bars, captions, results
        if running:
            self.controls.append_log("stopping: the project was closed")
        else:
            self.controls.set_planned_epochs(self.state.run_config.train.epochs)
        self.results.clear()
        self.charts.clear()
        self._reload_runs()
        self._update_preview_images()

    @Slot(str)
    def _device_found(self, description: str) -> None:
        self.form.offer_all_gpus(self.state.cuda_devices, self.state.run_config)  # "All N GPUs" when N > 1

    @Slot(object)
    def _config_changed(self, config: RunConfig) -> None:
        self.form.set_config(config)
        self.augmentation.set_config(config)
        if not self.session.running:
            self.controls.set_planned_epochs(config.train.epochs)

    @Slot()
    def _options_edited(self) -> None:
        self.state.set_run_config(self.augmentation.apply(self.form.apply(self.state.run_config)))

    @Slot(object)
    def _preset_chosen(self, preset: Preset) -> None:
        self.state.set_run_config(apply_preset(self.state.run_config, preset))
        self.state.show_status(f"Preset {preset.name}: {preset.purpose}")

    @Slot(bool)
    def set_advanced(self, shown: bool) -> None:
        """Show every option (True) or the simple mode; the choice is a view preference kept in QSettings."""
        self.form.set_advanced(shown)
        self.augment_box.setVisible(shown)
        QSettings().setValue(ADVANCED_KEY, shown)

    @Slot(list)
    def _labels_changed(self, image_ids: list) -> None:
        self._preview_timer.start()

    @Slot()
    def _images_changed(self) -> None:
        self._preview_timer.start()

    @Slot()
    def _update_preview_images(self) -> None:
        project = self.state.project
        if project is None or project.closed:
            self.augmentation.set_images([])
            return
        self.augmentation.set_images([record.file for record in project.images() if record.labels])

    @Slot()
    def _reload_runs(self) -> None:
        project = self.state.project
        runs_dir = project.runs_dir if project is not None and not project.closed else None
        self.runs.reload(runs_dir, self.session.run_dir if self.session.running else None)

    # -- running -----------------------------------------------------------------------------

    def _training_dataset(self) -> LabeledDataset | None:
        """The project's images for a run, or None after telling the user why there are none."""
        project = self.state.project
        if project is None or project.closed:
            gui_errors.show_error(self, "Open or create a project first (File ▸ Open Project), then train on its "
                                        "labeled images.")
            return None
        from ...engine import require_trainable

        dataset = project.to_labeled_dataset()
        try:
            require_trainable(dataset)
        except ImgclsError as exc:
            gui_errors.show_error(self, *gui_errors.describe_exception(exc))
            return None
        return dataset

    @Slot()
    def start(self) -> bool:
        """Start a new run with the current options; False (and a dialog) when it cannot start, or when it
        waits for the look at the weights cache (ImageNet weights) and starts after it."""
        return self._start(check_weights=True)

    def _start(self, check_weights: bool) -> bool:
        if self.session.running or self.search.running or self.weights_gate.busy:
            return False
        dataset = self._training_dataset()
        if dataset is None:
            return False
        project = self.state.project
        config = project_run_config(self.state.run_config, project.folder)
        from ...engine import preprocessing_for

        try:
            preprocessing_for(config.model)  # a bad image size fails here, not after the data has loaded
            if check_weights and config.model.weights == "imagenet":
                self.weights_gate.check(config.model, len(dataset.classes))
                return False  # starts once the cache has been looked at (or the user has chosen)
            run_dir = new_run_dir(project.runs_dir, config.model.name)
        except ImgclsError as exc:
            gui_errors.show_error(self, *gui_errors.describe_exception(exc))
            return False
        self._begin(config, run_dir, dataset, resume=False)
        return True

    @Slot()
    def find_learning_rate(self) -> bool:
        """Sweep the learning rate with the current options in a dialog; False (and a dialog) when it cannot start."""
        if self.session.running:
            self.state.show_status("A run is training: find the learning rate once it has finished or stopped.")
            return False
        dataset = self._training_dataset()
        if dataset is None:
            return False
        return self.lr_finder.open(project_run_config(self.state.run_config, self.state.project.folder), dataset)

    @property
    def weights_dialog(self) -> MissingWeightsDialog | None:
        """The missing-weights dialog while Start waits for the user's choice."""
        return self.weights_gate.dialog

    @Slot()
    def _start_checked(self) -> None:
        self._start(check_weights=False)

    @Slot(bool)
    def _weights_busy(self, busy: bool) -> None:
        self.controls.start_button.setEnabled(not busy and not self.session.running)

    @Slot()
    def _weights_cancelled(self) -> None:
        self.controls.append_log("not started: the ImageNet weights are missing")

    @Slot(object)
    def resume_run(self, summary: RunSummary) -> bool:
        """Continue a stopped run from its last.pt, with its own saved config."""
        if self.session.running or summary.config is None:
            return False
        dataset = self._training_dataset()
        if dataset is None:
            return False
        self._begin(summary.config, summary.path, dataset, resume=True)
        return True

    def _begin(self, config: RunConfig, run_dir: Path, dataset: LabeledDataset, resume: bool) -> None:
        self.charts.clear()
        if resume:
            from ...engine import read_run

            self.charts.show_history(read_run(run_dir).history)
        self.charts.set_epochs(config.train.epochs)
        self.controls.reset()
        self.controls.set_planned_epochs(config.train.epochs)
        if resume:
            clear_failure(run_dir)
        self.controls.append_log(f"{'resuming' if resume else 'new run'}: {run_dir}")
        self.augmentation.set_training(True)
        self._run_config = config
        self.session.start(config, run_dir, dataset, resume=resume)
        self.controls.set_running(True)
        self.tabs.setCurrentIndex(LIVE_TAB)
        self.state.notify_runs()

    @Slot()
    def toggle_pause(self) -> None:
        if self.session.paused:
            self.session.resume()
        else:
            self.session.pause()

    @Slot()
    def stop(self) -> None:
        self.session.stop()
        self.controls.status_label.setText("Stopping after this batch…")

    @Slot(bool)
    def _on_paused(self, paused: bool) -> None:
        self.controls.set_running(self.session.running, paused)

    @Slot(object)
    def _on_event(self, event: object) -> None:
        self.controls.show_event(event)
        if isinstance(event, ev.FitStart):
            self.charts.set_epochs(event.epochs)
        elif isinstance(event, ev.BatchEnd):
            self.charts.add_batch(event)
        elif isinstance(event, ev.EpochEnd):
            self.charts.add_epoch(event.epoch, event.metrics)

    @Slot(object)
    def _on_finished(self, result: object) -> None:
        self._after_run()
        run_dir = Path(result.run_dir)  # type: ignore[attr-defined]
        if (run_dir / "best.pt").is_file():
            self.results.load(run_dir)
            self.tabs.setCurrentIndex(RESULTS_TAB)

    @Slot(str, str)
    def _on_failed(self, message: str, details: str) -> None:
        self._record_failure(message)
        self._after_run()
        self.controls.status_label.setText("Training failed.")
        self.controls.append_log(f"error: {message}")
        gui_errors.show_error(self, message, details)

    def _record_failure(self, message: str) -> None:
        """Mark the run folder "failed" with the reason, so the Runs list says so (not "not started")."""
        run_dir, config = self.session.run_dir, self._run_config
        if run_dir is None:
            return
        try:
            mark_failed(run_dir, message, config)
        except (OSError, ImgclsError) as exc:  # a full or read-only disk: the dialog still tells the user
            self.controls.append_log(f"could not record the failure in {run_dir}: {exc}")

    def _after_run(self) -> None:
        self.controls.set_running(False)
        self.augmentation.set_training(False)
        self.state.notify_runs()

    # -- runs list ---------------------------------------------------------------------------

    @Slot(object)
    def open_run(self, summary: RunSummary) -> None:
        self.charts.show_history(summary.history)
        self.results.load(summary.path)
        self.tabs.setCurrentIndex(RESULTS_TAB)

    @Slot(object, object)
    def compare_runs(self, first: RunSummary, second: RunSummary) -> None:
        self.charts.show_history(first.history)
        self.charts.add_overlay(second.display_name, second.history)
        self.controls.show_comparison(first.display_name, second.display_name)
        self.tabs.setCurrentIndex(LIVE_TAB)

    @Slot(object)
    def export_run(self, summary: RunSummary) -> None:
        self.state.request_export(summary.path)

    @Slot(object)
    def _export_shown_run(self, run_dir: object) -> None:
        self.state.request_export(Path(run_dir))  # type: ignore[arg-type]

    @Slot(object)
    def reuse_config(self, summary: RunSummary) -> None:
        if summary.config is None:
            return
        self.state.set_run_config(summary.config)
        self.state.show_status(f"Options of {summary.display_name} loaded into the Model and Training panels.")

    # -- settings ----------------------------------------------------------------------------

    def _restore_settings(self) -> None:
        self.set_advanced(QSettings().value(ADVANCED_KEY, False, type=bool))
        value = QSettings().value("trainingPanel/splitter")
        if isinstance(value, QByteArray) and not value.isEmpty():
            self.splitter.restoreState(value)

    def save_settings(self, settings: QSettings) -> None:
        settings.setValue("trainingPanel/splitter", self.splitter.saveState())
