"""Start / Pause / Stop buttons, epoch and run progress bars, speed and ETA, and the run's log.

The log keeps every line but shows "debug:" lines only with "Show details" ticked, and follows
the newest line unless the user has scrolled up to read an older one.
"""

from __future__ import annotations

import re
import time
from collections import deque

import qtawesome as qta
from PySide6.QtCore import Qt, Signal, Slot
from PySide6.QtGui import QFontDatabase
from PySide6.QtWidgets import (QCheckBox, QGridLayout, QHBoxLayout, QLabel, QPlainTextEdit, QProgressBar,
                               QPushButton, QSizePolicy, QVBoxLayout, QWidget)

from ...engine import events as ev
from ..common.metric_names import task_name

LOG_LINES = 5000
PAUSED = "Paused."
_RUN_STAMP = re.compile(r"^\d{8}-(\d{6})-")  # run folders: YYYYmmdd-HHMMSS-backbone


def short_run_name(name: str, limit: int = 30) -> str:
    """A run name without its date (the time tells runs apart), cut in the middle if still too long."""
    name = _RUN_STAMP.sub(r"\1-", name)
    return name if len(name) <= limit else name[: limit // 2 - 1] + "…" + name[-(limit // 2):]


def format_duration(seconds: float) -> str:
    seconds = max(0, int(round(seconds)))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


class ProgressClock:
    """Run progress in batches and an ETA from the time actually spent training (pauses excluded)."""

    def __init__(self) -> None:
        self.total_batches = 0
        self.done_batches = 0
        self._started = 0.0
        self._paused_at: float | None = None
        self._paused_total = 0.0

    def start(self, event: ev.FitStart) -> None:
        self.total_batches = max(1, (event.epochs - event.start_epoch) * max(event.batches_per_epoch, 1))
        self.done_batches = 0
        self._started = time.monotonic()
        self._paused_at, self._paused_total = None, 0.0

    def batch(self, event: ev.BatchEnd, first_epoch: int, batches_per_epoch: int) -> None:
        done = (event.epoch - first_epoch) * max(batches_per_epoch, event.batches) + event.batch + 1
        self.done_batches = min(self.total_batches, max(self.done_batches, done))

    def set_paused(self, paused: bool) -> None:
        now = time.monotonic()
        if paused and self._paused_at is None:
            self._paused_at = now
        elif not paused and self._paused_at is not None:
            self._paused_total += now - self._paused_at
            self._paused_at = None

    def eta_seconds(self) -> float | None:
        if self.done_batches == 0:
            return None
        end = self._paused_at if self._paused_at is not None else time.monotonic()
        spent = end - self._started - self._paused_total
        return spent / self.done_batches * (self.total_batches - self.done_batches)


class RunControls(QWidget):
    startRequested = Signal()
    pauseToggled = Signal()
    stopRequested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.clock = ProgressClock()
        self._fit: ev.FitStart | None = None
        self.start_button = QPushButton(qta.icon("mdi6.play"), "Start training")
        self.start_button.setObjectName("startTraining")
        self.start_button.setToolTip("Train a new run with the options on the left (Ctrl+Return)")
        self.start_button.setShortcut("Ctrl+Return")
        self.pause_button = QPushButton(qta.icon("mdi6.pause"), "Pause")
        self.pause_button.setToolTip("Pause between two batches; Resume continues exactly there")
        self.stop_button = QPushButton(qta.icon("mdi6.stop"), "Stop")
        self.stop_button.setToolTip("Stop after the current batch. best.pt and last.pt keep the last finished epoch; "
                                    "the run can be resumed from the runs list.")
        self.start_button.clicked.connect(self.startRequested)
        self.pause_button.clicked.connect(self.pauseToggled)
        self.stop_button.clicked.connect(self.stopRequested)
        self.epoch_bar = QProgressBar()
        self.epoch_bar.setFormat("epoch: %p%")
        self.run_bar = QProgressBar()
        self.run_bar.setFormat("run: %v / %m epochs")
        self.status_label = QLabel("Ready.")
        self.status_label.setObjectName("trainingStatus")
        # Long texts (run names) must not widen the window: the label takes what space there is.
        self.status_label.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.status_label.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        self.speed_label = QLabel("")
        self.eta_label = QLabel("")
        self.log = QPlainTextEdit()
        self.log.setObjectName("trainingLog")
        self.log.setReadOnly(True)
        self.log.setMaximumBlockCount(LOG_LINES)
        self.log.setLineWrapMode(QPlainTextEdit.LineWrapMode.NoWrap)
        self.log.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
        self.log_lines: deque[tuple[str, str]] = deque(maxlen=LOG_LINES)  # (level, text), debug lines too
        self.details_box = QCheckBox("Show details")
        self.details_box.setObjectName("logDetails")
        self.details_box.setToolTip("Also show the engine's debug lines (dataset reading, model building)")
        self.details_box.toggled.connect(self._refill_log)
        self.log_box = QWidget()  # the log with its switch; the panel places it under the charts
        log_column = QVBoxLayout(self.log_box)
        log_column.setContentsMargins(0, 0, 0, 0)
        log_column.setSpacing(2)
        log_column.addWidget(self.log, 1)
        log_column.addWidget(self.details_box)
        self._status_before_pause = ""
        buttons = QHBoxLayout()
        for button in (self.start_button, self.pause_button, self.stop_button):
            buttons.addWidget(button)
        buttons.addWidget(self.status_label, 1)
        grid = QGridLayout(self)
        grid.setContentsMargins(0, 0, 0, 0)
        grid.addLayout(buttons, 0, 0, 1, 3)
        grid.addWidget(self.epoch_bar, 1, 0)
        grid.addWidget(self.run_bar, 1, 1)
        grid.addWidget(self.speed_label, 1, 2)
        grid.addWidget(self.eta_label, 2, 2)
        grid.setColumnStretch(0, 1)
        grid.setColumnStretch(1, 1)
        self.set_running(False)

    def set_running(self, running: bool, paused: bool = False) -> None:
        self.start_button.setEnabled(not running)
        self.pause_button.setEnabled(running)
        self.stop_button.setEnabled(running)
        self.pause_button.setText("Resume" if paused else "Pause")
        self.pause_button.setIcon(qta.icon("mdi6.play" if paused else "mdi6.pause"))
        self.clock.set_paused(paused)
        if running and paused:
            if self.status_label.text() != PAUSED:
                self._status_before_pause = self.status_label.text()
            self.status_label.setText(PAUSED)
        elif self.status_label.text() == PAUSED:  # resumed (or stopped): say so now, not at the next epoch
            self.status_label.setText((self._status_before_pause or "Training…") if running else "Ready.")

    def show_comparison(self, solid: str, dashed: str) -> None:
        """Name the two compared runs in the status line: cut in the middle just enough to fit, whole in the tooltip."""
        label = self.status_label
        for limit in range(40, 10, -2):
            text = f"Solid: {short_run_name(solid, limit)}; dashed: {short_run_name(dashed, limit)}."
            if label.fontMetrics().horizontalAdvance(text) <= label.width():
                break
        label.setText(text)
        label.setToolTip(f"Solid: {solid}; dashed: {dashed}.")

    def set_planned_epochs(self, epochs: int) -> None:
        """Before a run: the run bar counts towards the Epochs option."""
        self.run_bar.setRange(0, max(epochs, 1))
        self.run_bar.setValue(0)

    def append_log(self, message: str, level: str = "info") -> None:
        line = f"{time.strftime('%H:%M:%S')}  {message}"
        self.log_lines.append((level, line))
        if level != "debug" or self.details_box.isChecked():
            self._show_lines([line])

    def _show_lines(self, lines: list[str]) -> None:
        bar = self.log.verticalScrollBar()
        following = bar.value() >= bar.maximum() - 2  # at the end: keep following; scrolled up: stay put
        for line in lines:
            self.log.appendPlainText(line)
        if following:
            bar.setValue(bar.maximum())

    @Slot()
    def _refill_log(self) -> None:
        details = self.details_box.isChecked()
        self.log.clear()
        self._show_lines([line for level, line in self.log_lines if details or level != "debug"])

    def show_event(self, event: object) -> None:
        """Update bars and labels from one engine event."""
        if isinstance(event, ev.FitStart):
            self._fit = event
            self.clock.start(event)
            self.run_bar.setRange(0, event.epochs)
            self.run_bar.setValue(event.start_epoch)
            self.epoch_bar.setValue(0)
            self.status_label.setText(f"Training on {event.device}: {event.train_size} images, "
                                      f"{event.val_size} for validation.")
            self.append_log(f"start: {event.train_size} train / {event.val_size} val images, "
                            f"{len(event.classes)} classes ({task_name(event.task).lower()}), device {event.device}")
        elif isinstance(event, ev.EpochStart):
            self.epoch_bar.setValue(0)
            self.status_label.setText(f"Epoch {event.epoch + 1} of {event.epochs} ({event.phase}).")
        elif isinstance(event, ev.BatchEnd) and self._fit is not None:
            self.epoch_bar.setRange(0, max(event.batches, 1))
            self.epoch_bar.setValue(event.batch + 1)
            self.clock.batch(event, self._fit.start_epoch, self._fit.batches_per_epoch)
            self.speed_label.setText(f"{event.images_per_s:,.1f} images/s")
            eta = self.clock.eta_seconds()
            self.eta_label.setText("" if eta is None else f"ETA {format_duration(eta)}")
        elif isinstance(event, ev.EpochEnd):
            self.run_bar.setValue(event.epoch + 1)
            shown = {k: v for k, v in event.metrics.items() if k in ("train_loss", "val_loss", "accuracy", "map",
                                                                      "f1_macro", "seconds")}
            text = "  ".join(f"{k}={v:.4g}" for k, v in shown.items())
            self.append_log(f"epoch {event.epoch + 1}/{event.epochs}: {text}{'  (best)' if event.is_best else ''}")
        elif isinstance(event, ev.LogLine):
            self.append_log(event.message if event.level == "info" else f"{event.level}: {event.message}", event.level)
        elif isinstance(event, ev.FitEnd):
            self.eta_label.setText("")
            verb = "Stopped" if event.stopped else "Finished"
            self.status_label.setText(f"{verb} after {event.epochs_run} epoch(s); best epoch {event.best_epoch + 1}.")
            self.append_log(f"{verb.lower()}: {event.epochs_run} epoch(s) in {event.run_dir}")

    @Slot()
    def reset(self) -> None:
        self.epoch_bar.setValue(0)
        self.run_bar.setValue(0)
        self.speed_label.setText("")
        self.eta_label.setText("")

    def clear(self) -> None:
        """Forget the last run entirely (another project was opened): bars, labels and the log."""
        self.reset()
        self._fit = None
        self.status_label.setText("Ready.")
        self.status_label.setToolTip("")
        self._status_before_pause = ""
        self.log_lines.clear()
        self.log.clear()
