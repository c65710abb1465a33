"""The Training panel's Search tab: a hyper-parameter search over the options the form ticks, live.

The search is the engine's (``engine.Search``: Optuna's TPE sampler and pruner, one run folder per
trial under ``<project>/searches/<time>/``) running in the warm child process (``search_in_child``, from a
worker: a crash or a kill there fails the search, never the window, and leaves study.sqlite to resume
from; Cancel is the job's Stop, after the running trial's batch); this view shows its trials as they
end (state, parameters, metric, duration), the best metric so far per trial, and which parameters
mattered (Optuna's fANOVA importance). "Continue this search" resumes the newest search from its
study.sqlite, as ``imgcls tune --resume`` does: finished trials are kept and shown, an interrupted
one is tried again, then the search goes on to its planned number of trials. The panel builds the base config and the dataset
(``startRequested``) and starts a normal run from the best trial (``trainBestRequested``).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from PySide6.QtCore import QModelIndex, QObject, Qt, Signal, Slot
from PySide6.QtGui import QPalette
from PySide6.QtWidgets import (QHBoxLayout, QHeaderView, QLabel, QProgressBar, QPushButton, QSplitter,
                               QTableView, QVBoxLayout, QWidget)

from ...engine import (STUDY_FILE, JobControl, LabeledDataset, RunConfig, SearchResult, SearchRun, SearchSettings,
                       parse_space)
from ...engine import events as ev
from ..common.child_jobs import in_child
from ..common.metric_names import metric_name
from ..common.table_model import RowTableModel
from ..common.scroll_column import scroll_column
from ..worker import TaskState, Worker, run_task
from .search_form import SearchForm

STATE_COLOURS = {"complete": "#2b8a3e", "pruned": "#868e96", "failed": "#c92a2a", "stopped": "#e67700"}


def search_task(task: TaskState, control: JobControl, folder: Path, dataset: LabeledDataset | None, base: RunConfig,
                space: dict[str, Any], settings: SearchSettings) -> SearchRun:
    """Worker task: run a new search in the warm child; its events (trials, and each trial's epochs) become the
    worker's ``event`` signal, ``control`` is the Cancel button's Stop."""
    from ...engine import search_in_child

    return in_child(task, search_in_child, folder, dataset, base, space, settings, control=control)


def resume_task(task: TaskState, control: JobControl, folder: Path, dataset: LabeledDataset | None) -> SearchRun:
    """Worker task: continue the search in ``folder`` with its own settings in the warm child (as ``search_task``)."""
    from ...engine import resume_search_in_child

    return in_child(task, resume_search_in_child, folder, dataset, control=control)


def _value(value: float | None) -> str:
    return "" if value is None or not math.isfinite(value) else f"{value:.4f}"


def _param(value: Any) -> str:
    return f"{value:.3g}" if isinstance(value, float) else str(value)


class TrialsModel(RowTableModel[ev.TrialEnd]):
    """One row per trial: number, state, metric, duration, epochs, then each searched parameter."""

    BASE = ("Trial", "State", "Metric", "Time", "Epochs")

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.parameters: tuple[str, ...] = ()
        self.COLUMNS = self.BASE

    def set_parameters(self, names: tuple[str, ...], metric: str) -> None:
        self.beginResetModel()
        self.parameters = names
        self.COLUMNS = ("Trial", "State", metric_name(metric), "Time", "Epochs", *names)
        self.rows = []
        self.endResetModel()

    def add(self, trial: ev.TrialEnd) -> None:
        self.beginInsertRows(QModelIndex(), len(self.rows), len(self.rows))
        self.rows.append(trial)
        self.endInsertRows()

    def cell(self, row: ev.TrialEnd, column: int, role: int) -> Any:
        if role == Qt.ItemDataRole.DisplayRole:
            base = (row.number, row.state, _value(row.value), f"{row.seconds:.1f} s", row.epochs_run)
            if column < len(base):
                return str(base[column])
            return _param(row.params.get(self.parameters[column - len(base)], ""))
        if role == Qt.ItemDataRole.ForegroundRole and column == 1:
            from PySide6.QtGui import QColor

            return QColor(STATE_COLOURS.get(row.state, "#333"))
        if role == Qt.ItemDataRole.ToolTipRole:
            return row.run_dir
        return None


class SearchView(QWidget):
    """Search settings on the left; trials, the best-so-far curve and parameter importance on the right."""

    startRequested = Signal()  # the panel answers with ``start(base, dataset, folder)``
    continueRequested = Signal()  # the panel answers with ``resume(dataset, folder)`` on ``resumable``
    trainBestRequested = Signal(object)  # the best trial's RunConfig
    changed = Signal()  # the form was edited (the panel keeps it in the project)
    finished = Signal(object)  # SearchResult, or None when the search failed

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        import pyqtgraph as pg

        self._pg = pg
        self.form = SearchForm()
        self.worker: Worker | None = None
        self.control: JobControl | None = None  # the running search's Stop
        self.search_pid: int | None = None  # the process that ran the last search (the child's)
        self.result: SearchResult | None = None
        self.resumable: Path | None = None  # the search "Continue this search" resumes (the newest one)
        self.best_config: RunConfig | None = None
        self.metric = ""
        self.best_x: list[float] = []
        self.best_y: list[float] = []
        self.start_button = QPushButton("Start search")
        self.cancel_button = QPushButton("Cancel")
        self.continue_button = QPushButton("Continue this search")
        self.best_button = QPushButton("Train the best settings fully")
        self.start_button.setToolTip("Run the trials in a new folder under the project's searches/.")
        self.cancel_button.setToolTip("Stop the running trial after its current batch; finished trials are kept.")
        self.continue_button.setToolTip("Resume the newest search of the project (cancelled, or cut off when the app "
                                        "closed): finished trials are kept, an interrupted one is tried again.")
        self.best_button.setToolTip("Put the best trial's settings into the form (keeping the form's epochs) and "
                                    "start a normal run with them.")
        self.status = QLabel("Tick the options to search, then Start search.")
        self.status.setWordWrap(True)
        self.progress = QProgressBar()
        self.model = TrialsModel(self)
        self.table = QTableView()
        self.table.setModel(self.model)
        self.table.verticalHeader().setVisible(False)
        self.table.setWordWrap(False)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        self.best_plot = self._plot("Best so far", "trial")
        self.best_curve = self.best_plot.plot([], [], pen=pg.mkPen("#2f5d9e", width=2), symbol="o", symbolSize=5,
                                              symbolBrush="#2f5d9e")
        self.trial_points = pg.ScatterPlotItem(size=6, brush=pg.mkBrush("#e07b0080"), pen=None)
        self.best_plot.addItem(self.trial_points)
        self.importance_plot = self._plot("Importance", "")
        self.importance: dict[str, float] = {}
        self._build_layout()
        self.cancel_button.clicked.connect(self.cancel)
        self.start_button.clicked.connect(self.startRequested)
        self.continue_button.clicked.connect(self.continueRequested)
        self.best_button.clicked.connect(self._train_best)
        self.form.changed.connect(self.changed)
        self._set_running(False)

    def _plot(self, title: str, bottom: str) -> Any:
        plot = self._pg.PlotWidget()
        plot.setBackground(self.palette().color(QPalette.ColorRole.Base))
        plot.setMenuEnabled(False)
        plot.showGrid(x=True, y=True, alpha=0.2)
        plot.setTitle(title, size="9pt")
        plot.getAxis("left").enableAutoSIPrefix(False)  # 0.25 accuracy, not "250 (x0.001)"
        if bottom:
            plot.setLabel("bottom", bottom)
        plot.setMinimumHeight(120)
        return plot

    def _build_layout(self) -> None:
        left = QWidget()
        column = QVBoxLayout(left)
        column.addWidget(self.form)
        buttons = QHBoxLayout()
        for button in (self.start_button, self.cancel_button):
            buttons.addWidget(button)
        column.addLayout(buttons)
        column.addWidget(self.continue_button)
        column.addWidget(self.best_button)
        column.addStretch(1)
        scroll = scroll_column(left, 300)
        charts = QSplitter(Qt.Orientation.Horizontal)
        charts.addWidget(self.best_plot)
        charts.addWidget(self.importance_plot)
        right = QSplitter(Qt.Orientation.Vertical)
        top = QWidget()
        top_column = QVBoxLayout(top)
        top_column.setContentsMargins(0, 0, 0, 0)
        top_column.addWidget(self.status)
        top_column.addWidget(self.progress)
        top_column.addWidget(self.table, 1)
        right.addWidget(top)
        right.addWidget(charts)
        right.setSizes([330, 230])
        splitter = QSplitter(Qt.Orientation.Horizontal)
        splitter.addWidget(scroll)
        splitter.addWidget(right)
        splitter.setStretchFactor(1, 1)
        splitter.setSizes([330, 600])
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 4, 0, 0)
        layout.addWidget(splitter)

    @property
    def running(self) -> bool:
        return self.worker is not None

    # -- running ---------------------------------------------------------------------------------

    def start(self, base: RunConfig, dataset: LabeledDataset | None, folder: Path) -> bool:
        """Search from ``base`` (epochs per trial from the form) into ``folder``; False when the form is not valid."""
        import dataclasses

        from ...engine import ImgclsError
        from .. import errors as gui_errors

        base = base.replace(train=dataclasses.replace(base.train, epochs=self.form.epochs.value()))
        try:
            space = parse_space(self.form.space(), "Search space")
            settings = SearchSettings(**self.form.settings())
            settings.check()
            space.apply(base, space.lowest())
        except ImgclsError as exc:
            gui_errors.show_error(self, *gui_errors.describe_exception(exc))
            return False
        self._run(search_task, folder, dataset, base, space.source, settings)
        self.status.setText(f"Starting the search in {folder}…")
        return True

    def resume(self, dataset: LabeledDataset | None, folder: Path) -> None:
        """Continue the search in ``folder`` (its own space and settings) on ``dataset``."""
        self._run(resume_task, folder, dataset)
        self.status.setText(f"Continuing the search in {folder}…")

    def _run(self, task: Any, folder: Path, *args: Any) -> None:
        self.clear()
        self.control = JobControl()
        self.resumable = folder
        self.worker = run_task(task, self.control, folder, *args, parent=self, on_event=self._on_event,
                               on_success=self._on_success, on_failure=self._on_failure,
                               on_cancel=self._on_cancelled)
        self._set_running(True)

    def set_resumable(self, folder: Path | None) -> None:
        self.resumable = folder
        self._set_running(self.running)

    @Slot()
    def cancel(self) -> None:
        if self.control is not None:
            self.control.request_stop()  # the trial stops after its batch (and a checkpoint write), as a run's Stop
            self.status.setText("Stopping after the current batch…")

    def clear(self) -> None:
        self.result, self.best_config = None, None
        self.best_x, self.best_y = [], []
        self.model.set_parameters((), "accuracy")
        self.best_curve.setData([], [])
        self.trial_points.setData([], [])
        self.show_importance({})
        self.progress.setValue(0)
        self.best_button.setEnabled(False)

    def _set_running(self, running: bool) -> None:
        self.start_button.setEnabled(not running)
        self.continue_button.setEnabled(not running and self.resumable is not None)
        self.cancel_button.setEnabled(running)
        self.form.set_running(running)
        if running:
            self.best_button.setEnabled(False)

    @Slot(object)
    def _on_event(self, event: object) -> None:
        if isinstance(event, ev.SearchStart):
            self.metric = event.metric
            self.model.set_parameters(event.parameters, event.metric)
            self.progress.setRange(0, event.trials)
            self.progress.setValue(0)
            self.best_plot.setLabel("left", metric_name(event.metric))
            for trial in event.previous:  # a resumed search: what it had done before (counts up to event.done)
                self.add_trial(trial)
        elif isinstance(event, ev.TrialStart):
            self.status.setText(f"Trial {event.number + 1} of {event.trials}: "
                                + ", ".join(f"{k} {_param(v)}" for k, v in event.params.items()))
        elif isinstance(event, ev.EpochEnd):
            self.progress.setFormat(f"%v of %m trials (epoch {event.epoch + 1}/{event.epochs})")
        elif isinstance(event, ev.TrialEnd):
            self.add_trial(event)
        elif isinstance(event, ev.SearchEnd) and event.importance:
            self.show_importance(event.importance)

    def add_trial(self, trial: ev.TrialEnd) -> None:
        """A finished trial: a table row, a point, and the best-so-far curve."""
        self.model.add(trial)
        self.table.resizeColumnsToContents()
        self.table.scrollToBottom()
        if trial.state in ("complete", "pruned"):
            self.progress.setValue(self.progress.value() + 1)
        if trial.value is not None and math.isfinite(trial.value) and trial.state == "complete":
            x, y = self.trial_points.getData()
            self.trial_points.setData([*x, trial.number + 1], [*y, trial.value])
        if trial.best_value is not None:
            self.best_x.append(trial.number + 1)
            self.best_y.append(trial.best_value)
            self.best_curve.setData(self.best_x, self.best_y)
        if trial.importance:
            self.show_importance(trial.importance)

    def show_importance(self, importance: dict[str, float]) -> None:
        """Horizontal bars, most important on top."""
        pg = self._pg
        self.importance = dict(importance)
        plot = self.importance_plot
        plot.clear()
        names = list(importance)[::-1]
        if names:
            plot.addItem(pg.BarGraphItem(x0=0, y=list(range(len(names))), height=0.6,
                                         width=[importance[n] for n in names], brush="#7b4fa0"))
        plot.getAxis("left").setTicks([[(i, name) for i, name in enumerate(names)]])
        plot.setXRange(0, 1, padding=0.02)

    @Slot(object)
    def _on_success(self, run: object) -> None:
        self._done()
        assert isinstance(run, SearchRun)
        result = self.result = run.result
        self.search_pid = run.pid
        if result.importance:
            self.show_importance(result.importance)
        best = result.best
        finished = sum(t.state in ("complete", "pruned") for t in result.trials)
        if best is not None:
            self.best_config = RunConfig.from_file(result.folder / "best" / "config.yaml")
            self.best_button.setEnabled(True)
            params = ", ".join(f"{k} {_param(v)}" for k, v in best.params.items())
            self.status.setText(f"{'Stopped' if result.stopped else 'Done'}: {finished} trials. Best: trial "
                                f"{best.number}, {metric_name(result.metric)} {best.value:.4f} ({params}).")
        else:
            self.status.setText(f"{'Stopped' if result.stopped else 'Done'}: no trial completed.")
        self.finished.emit(result)

    @Slot(str, str)
    def _on_failure(self, message: str, details: str) -> None:
        from .. import errors as gui_errors

        self._done()
        resumable = self.resumable is not None and (self.resumable / STUDY_FILE).is_file()
        self.status.setText(f"The search failed: {message}" + (" Continue this search resumes it: finished trials "
                                                                "are kept." if resumable else ""))
        gui_errors.show_error(self, message, details)
        self.finished.emit(None)

    @Slot()
    def _on_cancelled(self) -> None:  # the window closing ended the child before the search stopped
        self._done()
        self.finished.emit(None)

    def _done(self) -> None:
        self.worker, self.control = None, None
        self._set_running(False)
        self.progress.setFormat("%v of %m trials")

    @Slot()
    def _train_best(self) -> None:
        if self.best_config is not None:
            self.trainBestRequested.emit(self.best_config)

    def wait(self, timeout_ms: int = 30_000) -> bool:
        return self.worker is None or self.worker.wait(timeout_ms)
