"""Live training curves (pyqtgraph): loss, validation metrics and learning rate, per batch and per epoch.

The x axis is in epochs (batch points sit at fractions of an epoch). Points are appended as engine
events arrive and a plot is redrawn at most every ``REDRAW_MS``, so a fast run never floods the UI
thread. Only plots with new points are redrawn (the metric plot changes once an epoch), and one at a
time, ``STAGGER_MS`` apart: each then repaints in its own pass of the event loop, so the window's
longest stall is one plot's paint, not three. Another run's history can be overlaid (dashed) to
compare two runs.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from PySide6.QtCore import Qt, QTimer, Slot
from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import QVBoxLayout, QWidget

from ...engine import events as ev
from ..common.metric_names import metric_name

REDRAW_MS = 400  # 2.5 redraws a second look live enough
STAGGER_MS = 100  # between two plots' redraws in one round (a plot's paint costs 5-20 ms of UI time; 3 x 100 < REDRAW_MS)
AXIS_WIDTH = 72  # px: the left axis with its title and a label like "0.0001"
LEGEND_TOP, LEGEND_BOTTOM = (-8, 8), (-8, -8)  # px from the plot's top-right or bottom-right corner
LEGEND_OPACITY = 110  # of 255: curves under the legend still show through it
BATCH_CURVE = "loss:batch"  # only while a run trains: a reopened run's history has no per-batch points
PLOTS = ("loss", "metric", "lr")  # the order a round redraws them in
# The curves every run has: key -> (legend name, line width, point symbol). Metric curves come with their metric.
LIVE_CURVES = {BATCH_CURVE: ("train (batch)", 1, None), "loss:train": ("train", 2, "o"),
               "loss:val": ("validation", 2, "o"), "lr:lr": ("learning rate", 1.5, None)}
METRIC_KEYS = ("accuracy", "f1_macro", "map", "roc_auc_macro")
# Every series its own colour (a multi-label run shows mAP and ROC AUC together; compared runs add overlays).
COLOURS = {"batch": "#9ab4d6", "train": "#2f5d9e", "val": "#e07b00", "accuracy": "#2b8a3e", "f1_macro": "#7b4fa0",
           "map": "#0b7285", "roc_auc_macro": "#c2255c", "lr": "#495057"}
OVERLAY_COLOURS = ("#868e96", "#a61e4d", "#8d6e3f")


def _finite(xs: Sequence[float], ys: Sequence[float]) -> tuple[list[float], list[float]]:
    pairs = [(x, y) for x, y in zip(xs, ys) if y is not None and math.isfinite(y)]
    return [p[0] for p in pairs], [p[1] for p in pairs]


class LiveCharts(QWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        import pyqtgraph as pg  # ~0.5 s: paid when the Training panel is first shown, not at start-up

        self._pg = pg
        background = self.palette().color(QPalette.ColorRole.Base)
        self.loss_plot = self._plot("Loss", background, LEGEND_TOP)
        self.metric_plot = self._plot("Validation metric", background, LEGEND_BOTTOM)  # metrics rise: bottom is free
        self.lr_plot = self._plot("Learning rate", background, LEGEND_TOP)
        self.metric_plot.setXLink(self.loss_plot)
        self.lr_plot.setXLink(self.loss_plot)
        self.lr_plot.setLabel("bottom", "epoch")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(2)
        for plot, stretch in ((self.loss_plot, 3), (self.metric_plot, 3), (self.lr_plot, 2)):
            layout.addWidget(plot, stretch)
        self._curves: dict[str, object] = {}
        self._overlays: list[object] = []
        self._dirty: set[str] = set()  # plots with points not drawn yet
        self._round: list[str] = []  # plots this round still has to redraw
        self._timer = QTimer(self, singleShot=True, interval=REDRAW_MS)
        self._timer.timeout.connect(self._redraw_next)
        self.clear()

    def _plot(self, title: str, background, legend_offset: tuple[int, int]) -> object:
        plot = self._pg.PlotWidget()
        plot.setBackground(background)
        plot.setMenuEnabled(False)
        plot.showGrid(x=True, y=True, alpha=0.2)
        plot.setLabel("left", title)
        plot.getAxis("left").enableAutoSIPrefix(False)  # 0.25 accuracy, not "250 (x0.001)"
        # A fixed width: the three x-linked plots stay aligned, and longer tick labels ("0.7" -> "0.685") do not
        # resize a plot's view box mid-run (a new layout of the plot, and the x link's range update of the others).
        plot.getAxis("left").setWidth(AXIS_WIDTH)
        legend_background = QColor(background)
        legend_background.setAlpha(LEGEND_OPACITY)  # a curve passing under the legend leaves its names readable
        plot.addLegend(offset=legend_offset, labelTextSize="8pt", brush=legend_background)
        plot.setMinimumHeight(90)
        return plot

    # -- data ------------------------------------------------------------------------------------

    def clear(self) -> None:
        """Forget every point (a new run starts)."""
        self.batch_x: list[float] = []
        self.batch_loss: list[float] = []
        self.batch_lr: list[float] = []
        self.epoch_x: list[float] = []
        self.train_loss: list[float] = []
        self.val_loss: list[float] = []
        self.epoch_lr: list[float] = []
        self.metrics: dict[str, list[float]] = {}
        self._dirty.clear()
        self._round = []
        self._x_epochs: int | None = None  # the run's length the x axis is fixed to (None: it follows the points)
        self.remove_overlays()
        batch_curve = self._curves.pop(BATCH_CURVE, None)
        if batch_curve is not None:  # made again by the next run's first batch; no empty row in a history's legend
            self.loss_plot.removeItem(batch_curve)
        for curve in self._curves.values():
            curve.setData([], [])  # a metric the next run lacks must not keep the last run's points
        self.loss_plot.enableAutoRange(x=True)
        self._follow_points()

    def set_epochs(self, epochs: int) -> None:
        """Fix the x axis to the whole run: axes then keep their ticks instead of re-laying out at every redraw.
        The panel sets it as it starts a run (the tab repaints then anyway), so the run's FitStart, which says it
        again, does not make the three linked plots repaint at once mid-run."""
        if self._x_epochs == epochs:
            return
        self._x_epochs = epochs
        self.loss_plot.setXRange(0, max(epochs, 1), padding=0.02)

    def add_batch(self, event: ev.BatchEnd) -> None:
        self.batch_x.append(event.epoch + (event.batch + 1) / max(event.batches, 1))
        self.batch_loss.append(event.loss)
        self.batch_lr.append(event.lr)
        self._schedule("loss", "lr")

    def add_epoch(self, epoch: int, metrics: dict[str, float]) -> None:
        self.epoch_x.append(epoch + 1.0)
        self.train_loss.append(metrics.get("train_loss", math.nan))
        self.val_loss.append(metrics.get("val_loss", math.nan))
        self.epoch_lr.append(metrics.get("lr", math.nan))
        for key in METRIC_KEYS:
            if key in metrics:
                series = self.metrics.setdefault(key, [math.nan] * (len(self.epoch_x) - 1))
                series.append(metrics[key])
        self._schedule(*PLOTS)

    def show_history(self, history: Sequence[dict[str, float]]) -> None:
        """Draw a finished or reopened run from its per-epoch history (no per-batch points)."""
        self.clear()
        for number, metrics in enumerate(history):
            self.add_epoch(int(metrics.get("epoch", number)), metrics)
        self.redraw()

    def add_overlay(self, name: str, history: Sequence[dict[str, float]]) -> None:
        """Another run's validation loss and metrics, dashed, for comparison."""
        pg = self._pg
        colour = OVERLAY_COLOURS[len(self._overlays) // 2 % len(OVERLAY_COLOURS)]
        pen = pg.mkPen(colour, width=2, style=Qt.PenStyle.DashLine)
        label = name if len(name) <= 40 else name[:19] + "…" + name[-20:]  # the end tells timestamped runs apart
        xs = [float(h.get("epoch", i)) + 1 for i, h in enumerate(history)]
        x, y = _finite(xs, [h.get("val_loss", math.nan) for h in history])
        self._overlays.append(self.loss_plot.plot(x, y, pen=pen, name=f"{label}: validation"))
        key = next((k for k in METRIC_KEYS if any(k in h for h in history)), None)
        if key is not None:
            x, y = _finite(xs, [h.get(key, math.nan) for h in history])
            self._overlays.append(self.metric_plot.plot(x, y, pen=pen, name=f"{label}: {metric_name(key)}"))

    def remove_overlays(self) -> None:
        for item in self._overlays:
            for plot in (self.loss_plot, self.metric_plot):
                if item in plot.listDataItems():
                    plot.removeItem(item)
        self._overlays = []

    def point_counts(self) -> dict[str, int]:
        """How many points each series holds (tests and the status line read it)."""
        return {"batch": len(self.batch_x), "epoch": len(self.epoch_x),
                **{key: sum(math.isfinite(v) for v in values) for key, values in self.metrics.items()}}

    # -- drawing ---------------------------------------------------------------------------------

    def _schedule(self, *plots: str) -> None:
        self._dirty.update(plots)
        if not self._timer.isActive():
            self._timer.start(REDRAW_MS)

    @Slot()
    def _redraw_next(self) -> None:
        """One plot of the round (a new round takes the plots with new points); the next one ``STAGGER_MS`` later."""
        if not self._round:
            self._round = [plot for plot in PLOTS if plot in self._dirty]
            self._dirty.difference_update(self._round)
        if self._round:
            self._draw(self._round.pop(0))
        if self._round:
            self._timer.start(STAGGER_MS)
        elif self._dirty:  # points came during the round: the next round after the usual pause
            self._timer.start(REDRAW_MS)

    def _curve(self, key: str, plot: object, name: str, width: float = 2, symbol: str | None = None) -> object:
        if key not in self._curves:
            pen = self._pg.mkPen(COLOURS.get(key.split(":")[-1], "#333"), width=width)
            self._curves[key] = plot.plot([], [], pen=pen, name=name, symbol=symbol, symbolSize=6,
                                          symbolBrush=COLOURS.get(key.split(":")[-1], "#333"))
        return self._curves[key]

    def _live(self, key: str) -> object:
        name, width, symbol = LIVE_CURVES[key]
        return self._curve(key, self.lr_plot if key.startswith("lr:") else self.loss_plot, name, width, symbol)

    @Slot()
    def redraw(self) -> None:
        """Every plot at once, y ranges following the points and overlays (a reopened run's history, runs
        compared); the live view redraws one plot at a time."""
        self._timer.stop()
        self._dirty.clear()
        self._round = []
        for plot in PLOTS:
            self._draw(plot)
        self._follow_points()

    def _follow_points(self) -> None:
        self._y_shown: dict[int, tuple[float, float]] = {}
        for plot in (self.loss_plot, self.metric_plot, self.lr_plot):
            plot.enableAutoRange(y=True)

    def _draw(self, plot: str) -> None:
        if plot == "loss":
            self._draw_loss()
            self._fit_y(self.loss_plot, self.batch_loss + self.train_loss + self.val_loss)
        elif plot == "metric":
            for key, values in self.metrics.items():
                self._curve(f"metric:{key}", self.metric_plot, metric_name(key), symbol="o").setData(
                    *_finite(self.epoch_x, values))
            self._fit_y(self.metric_plot, [v for values in self.metrics.values() for v in values])
        else:
            self._draw_lr()
            self._fit_y(self.lr_plot, self.batch_lr or self.epoch_lr)

    def _fit_y(self, plot: object, values: Sequence[float]) -> None:
        """Live runs: a y range that changes only when a point leaves it or the points fill under a third of it.
        A new range repaints the plot's axis as well (a second paint); autoranging would change it every redraw."""
        finite = [v for v in values if v is not None and math.isfinite(v)]
        if not finite:
            return
        low, high = min(finite), max(finite)
        shown = self._y_shown.get(id(plot))
        if shown is not None and shown[0] <= low and high <= shown[1] and (high - low) * 3 >= shown[1] - shown[0]:
            return
        pad = (high - low) * 0.1 or abs(high) * 0.1 or 1.0
        self._y_shown[id(plot)] = (low - pad, high + pad)
        plot.setYRange(low - pad, high + pad, padding=0)

    def _draw_loss(self) -> None:
        if self.batch_x:
            self._live(BATCH_CURVE).setData(self.batch_x, self.batch_loss)
        self._live("loss:train").setData(*_finite(self.epoch_x, self.train_loss))
        self._live("loss:val").setData(*_finite(self.epoch_x, self.val_loss))

    def _draw_lr(self) -> None:
        if self.batch_x:
            self._live("lr:lr").setData(self.batch_x, self.batch_lr)
        else:  # a reopened run has no per-batch points: its per-epoch rates (at each epoch's end) instead
            self._live("lr:lr").setData(*_finite(self.epoch_x, self.epoch_lr))
