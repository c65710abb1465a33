"""Find learning rate: the engine's range test in the warm child process, its curve live in a dialog, one click
to use a rate.

The dialog's worker runs ``engine.find_lr`` on the project with the panel's options in the child process
(``lr_find_in_child``; results saved in ``<project>/lr-find/<time>-<backbone>/``: lr_find.json, lr_find.png,
config.yaml), draws loss against rate on a log axis as the steps arrive (``LrFindStep`` events from the
child), then marks each suggested rate with a button that writes it into the form. Cancel (or closing the
dialog) is the job's Stop: the sweep ends between steps and nothing is saved; a crash in the child fails the
sweep, never the window.
"""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path

from PySide6.QtCore import QObject, Qt, QTimer, Signal, Slot
from PySide6.QtGui import QPalette
from PySide6.QtWidgets import (QDialog, QDialogButtonBox, QHBoxLayout, QLabel, QProgressBar, QPushButton,
                               QVBoxLayout, QWidget)

from ...engine import events as ev
from ...engine import ImgclsError, LabeledDataset, LrFindRun, RunConfig, new_run_dir
from .. import errors as gui_errors
from ..common.child_jobs import in_child
from ..state import AppState
from ..worker import TaskState, Worker, run_task

REDRAW_MS = 200
LR_FIND_FOLDER = "lr-find"  # in the project folder, beside runs/
RULE_COLOURS = {"valley": "#228b22", "steepest": "#e67800", "minimum/10": "#c81e1e"}
RULE_TIPS = {
    "valley": "Half way down the longest stretch over which the loss keeps falling: the most robust choice.",
    "steepest": "Where the loss falls fastest per decade of learning rate.",
    "minimum/10": "A tenth of the rate at which the loss was lowest.",
}


def rounded(lr: float) -> float:
    """A rate as the form shows it: two significant digits (3.2e-03, not 0.0031622776)."""
    return float(f"{lr:.2g}")


class _Forward:
    """The child's events (worker thread): sweep steps become progress, every event goes on to the dialog."""

    def __init__(self, state: TaskState) -> None:
        self.state = state

    def __call__(self, event: object) -> None:
        if isinstance(event, ev.LrFindStep):
            self.state.set_progress(event.step + 1, event.steps)
        self.state.emit_event(event)


def lr_find_task(state: TaskState, config: RunConfig, out_dir: Path, dataset: LabeledDataset,
                 hooks: dict[str, object]) -> LrFindRun:
    """Worker body: the engine's sweep in the warm child, stopped when the dialog asks (the task then ends
    cancelled); returns its ``LrFindRun`` (the ``LrFindResult`` and the child's pid)."""
    from ...engine import lr_find_in_child

    return in_child(state, lr_find_in_child, config, out_dir, dataset, on_event=_Forward(state), hooks=hooks)


class LrFinderDialog(QDialog):
    """The sweep's progress and curve; ``lrChosen(rate)`` when a suggestion's button is clicked."""

    lrChosen = Signal(float)

    def __init__(self, config: RunConfig, out_dir: Path, dataset: LabeledDataset, parent: QWidget | None = None,
                 test_hooks: dict[str, object] | None = None) -> None:
        super().__init__(parent)
        import pyqtgraph as pg

        self.setWindowTitle("Find learning rate")
        self.setObjectName("lrFinderDialog")
        self.config, self.out_dir, self.dataset = config, out_dir, dataset
        self.test_hooks = dict(test_hooks or {})  # the child honours them only under the test suite (child.py)
        self.worker: Worker | None = None
        self.result: object = None  # the LrFindResult once the sweep has finished
        self.sweep_pid: int | None = None  # the process that ran it (the child's)
        self.lrs: list[float] = []
        self.losses: list[float] = []
        self.smoothed: list[float] = []
        self._pg = pg
        self.status = QLabel(f"Setting up {config.model.name} (freezing: {config.freeze.mode}) on the project's images…")
        self.status.setWordWrap(True)
        self.progress = QProgressBar()
        self.progress.setRange(0, 0)  # busy until the first step: data, model, cached features
        self.plot = pg.PlotWidget()
        self.plot.setBackground(self.palette().color(QPalette.ColorRole.Base))
        self.plot.setMenuEnabled(False)
        self.plot.setLogMode(x=True, y=False)
        self.plot.showGrid(x=True, y=True, alpha=0.2)
        self.plot.setLabel("bottom", "learning rate")
        self.plot.setLabel("left", "training loss")
        self.plot.getAxis("left").enableAutoSIPrefix(False)
        self.plot.addLegend(offset=(8, 8), labelTextSize="9pt")  # top left: the flat start of a sweep
        self.plot.setMinimumSize(560, 320)
        self.raw_curve = self.plot.plot([], [], pen=None, symbol="o", symbolSize=3, symbolPen=None,
                                        symbolBrush="#9ab4d6", name="loss")
        self.smooth_curve = self.plot.plot([], [], pen=pg.mkPen("#2f5d9e", width=2.5), name="smoothed loss")
        self.marks: list[object] = []
        self.choices = QHBoxLayout()
        self.choice_buttons: dict[str, QPushButton] = {}
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Cancel)
        self.buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(self.status)
        layout.addWidget(self.progress)
        layout.addWidget(self.plot, 1)
        layout.addLayout(self.choices)
        layout.addWidget(self.buttons)
        self._timer = QTimer(self, singleShot=True, interval=REDRAW_MS)
        self._timer.timeout.connect(self.redraw)

    @property
    def running(self) -> bool:
        return self.worker is not None

    def start(self) -> None:
        """Run the sweep in the child process, from a worker."""
        # No Qt parent: closing the dialog must not destroy a thread still finishing its step (run_task keeps it).
        self.worker = run_task(lr_find_task, self.config, self.out_dir, self.dataset, self.test_hooks,
                               on_success=self._finished, on_failure=self._failed, on_event=self._event,
                               on_progress=self._progressed, on_cancel=self._cancelled)

    def done(self, result: int) -> None:  # noqa: D401 - Qt API: Cancel, Escape and the close button end here
        if self.worker is not None:
            self.worker.cancel()  # the job's Stop: the child ends the sweep between steps; the dialog goes now
            self.worker = None
        super().done(result)

    def _current(self) -> bool:
        """Whether a report comes from the sweep still shown (not one cancelled by closing the dialog)."""
        return self.worker is not None and self.sender() is self.worker

    # -- worker reports ------------------------------------------------------------------------

    @Slot(object)
    def _event(self, event: object) -> None:
        if not self._current():
            return
        if isinstance(event, ev.LrFindStep):
            self.lrs.append(event.lr)
            self.losses.append(event.loss)
            self.smoothed.append(event.smoothed)
            if not self._timer.isActive():
                self._timer.start()
        elif isinstance(event, ev.LogLine) and event.level != "debug":
            self.status.setText(event.message)

    @Slot(int, int)
    def _progressed(self, done: int, total: int) -> None:
        if not self._current():
            return
        self.progress.setRange(0, total)
        self.progress.setValue(done)
        self.status.setText(f"Step {done} of at most {total}: learning rate {self.lrs[-1]:.2g}" if self.lrs
                            else f"Step {done} of at most {total}")

    @Slot(object)
    def _finished(self, run: object) -> None:
        if not self._current():
            return
        assert isinstance(run, LrFindRun)
        self.worker = None
        self.result, self.sweep_pid = run.result, run.pid
        result = run.result
        self.lrs, self.losses, self.smoothed = list(result.lrs), list(result.losses), list(result.smoothed)
        self.redraw()
        self.progress.setRange(0, 1)
        self.progress.setValue(1)
        self._show_suggestions(result)
        self.buttons.setStandardButtons(QDialogButtonBox.StandardButton.Close)

    @Slot(str, str)
    def _failed(self, message: str, details: str) -> None:
        if not self._current():
            return
        self.worker = None
        self.progress.setRange(0, 1)
        self.status.setText(f"The sweep failed: {message}")
        self.buttons.setStandardButtons(QDialogButtonBox.StandardButton.Close)
        gui_errors.show_error(self, message, details)

    @Slot()
    def _cancelled(self) -> None:
        if not self._current():
            return
        self.worker = None
        self.progress.setRange(0, 1)
        self.status.setText("Cancelled: the learning rate was left as it was.")
        self.buttons.setStandardButtons(QDialogButtonBox.StandardButton.Close)

    # -- drawing and choosing ------------------------------------------------------------------

    @Slot()
    def redraw(self) -> None:
        self.raw_curve.setData(self.lrs, self.losses)
        self.smooth_curve.setData(self.lrs, self.smoothed)
        finite = [v for v in self.smoothed if math.isfinite(v)]
        if finite:  # the smoothed range: a raw spike or the diverging tail must not flatten the curve
            low, high = min(finite), max(finite)
            margin = (high - low) * 0.08 or max(abs(high), 1.0) * 0.05
            self.plot.setYRange(low - margin, high + margin, padding=0)

    def _show_suggestions(self, result: object) -> None:
        pg = self._pg
        where = "cached features of the frozen backbone" if result.on_features else "the whole model"
        ran = f"{len(result.lrs)} steps on {where} in {result.seconds:.0f} s"
        notes = "".join(f" Note: {note}." for note in result.notes)
        if result.suggestions:
            self.status.setText(f"{ran}. Choose a learning rate for the form (now {result.current_lr:.2g}).{notes} "
                                f"Saved in {self.out_dir}.")
        else:
            self.status.setText(f"{ran}; no rate could be suggested.{notes}")
        current = pg.InfiniteLine(math.log10(result.current_lr), angle=90,
                                  pen=pg.mkPen("#868e96", width=1.5, style=Qt.PenStyle.DashLine))
        self.plot.addItem(current)
        self.marks.append(current)
        for index, (rule, lr) in enumerate(result.suggestions.items()):
            colour = RULE_COLOURS.get(rule, "#333333")
            line = pg.InfiniteLine(math.log10(lr), angle=90, pen=pg.mkPen(colour, width=2), label=f"{rule}",
                                   labelOpts={"position": 0.92 - 0.08 * index, "color": colour})
            self.plot.addItem(line)
            self.marks.append(line)
            text = f"Use {rounded(lr):.2g} ({rule}{', recommended' if index == 0 else ''})"
            button = QPushButton(text)
            button.setObjectName(f"use_{rule}")
            button.setToolTip(RULE_TIPS.get(rule, ""))
            button.setStyleSheet(f"QPushButton {{ color: {colour}; }}")
            button.clicked.connect(self._choose)
            self.choices.addWidget(button)
            self.choice_buttons[rule] = button
        if self.choice_buttons:
            next(iter(self.choice_buttons.values())).setDefault(True)

    @Slot()
    def _choose(self) -> None:
        rule = next(r for r, b in self.choice_buttons.items() if b is self.sender())
        self.lrChosen.emit(rounded(self.result.suggestions[rule]))
        self.accept()


class LrFinder(QObject):
    """Opens the dialog for the panel's options and writes the chosen rate into the shared config."""

    def __init__(self, state: AppState, parent: QWidget) -> None:
        super().__init__(parent)
        self.state = state
        self.dialog: LrFinderDialog | None = None
        self.test_hooks: dict[str, object] = {}  # passed to the sweep's child job (honoured only under the test suite)

    def open(self, config: RunConfig, dataset: LabeledDataset) -> bool:
        """Start a sweep of ``config`` (reading the project) in a new dialog; False after a dialog saying why not."""
        parent = self.parent()
        if self.dialog is not None:
            self.dialog.raise_()
            return False
        from ...engine import preprocessing_for

        project = self.state.project
        try:
            preprocessing_for(config.model)  # a bad image size fails here, not after the data has loaded
            out_dir = new_run_dir(project.folder / LR_FIND_FOLDER, config.model.name)
        except ImgclsError as exc:
            gui_errors.show_error(parent, *gui_errors.describe_exception(exc))
            return False
        self.dialog = LrFinderDialog(config, out_dir, dataset, parent, self.test_hooks)
        self.dialog.lrChosen.connect(self._chosen)
        self.dialog.finished.connect(self._closed)
        self.dialog.open()
        self.dialog.start()
        return True

    @Slot(float)
    def _chosen(self, lr: float) -> None:
        config = self.state.run_config
        self.state.set_run_config(config.replace(optim=dataclasses.replace(config.optim, lr=lr)))
        self.state.show_status(f"Learning rate set to {lr:g} from the learning-rate finder.")

    @Slot()
    def _closed(self) -> None:
        dialog, self.dialog = self.dialog, None
        if dialog is not None:
            dialog.deleteLater()
