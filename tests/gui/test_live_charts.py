"""The Training panel's live charts repaint one plot at a time, and only plots with new points (issue 20).

Painting a pyqtgraph plot costs 5-20 ms of UI-thread time; three at once was the window's longest stall
during training. A redraw round therefore sets one plot's data per pass of the event loop; the test counts
the paint events each pass brings to each plot (the three plots are x-linked, so one plot's change must not
reach the others).
"""

from __future__ import annotations

import pytest
from PySide6.QtCore import QEvent, QObject, Slot
from PySide6.QtWidgets import QApplication

from imgcls_gui.engine import events as ev
from imgcls_gui.gui.training_panel.charts import LiveCharts

pytestmark = pytest.mark.gui


class PaintLog(QObject):
    """Which plots painted since the last ``take()`` (an event filter on each plot's viewport)."""

    def __init__(self, plots: dict[str, object]) -> None:
        super().__init__()
        self.names = {plot.viewport(): name for name, plot in plots.items()}
        self.painted: set[str] = set()
        for viewport in self.names:
            viewport.installEventFilter(self)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 - Qt API
        if event.type() == QEvent.Type.Paint and watched in self.names:
            self.painted.add(self.names[watched])
        return False

    def take(self) -> set[str]:
        painted, self.painted = self.painted, set()
        return painted


def settle() -> None:
    for _ in range(5):
        QApplication.processEvents()


def batches(epoch: int, losses: list[float]) -> list[ev.BatchEnd]:
    return [ev.BatchEnd(epoch=epoch, batch=i, batches=len(losses), loss=loss, lr=1e-3 * (i + 1), images_per_s=50.0,
                        step=epoch * len(losses) + i) for i, loss in enumerate(losses)]


def test_a_redraw_round_paints_one_plot_per_pass_and_skips_plots_without_new_points(qtbot):
    charts = LiveCharts()
    qtbot.addWidget(charts)
    charts.resize(700, 500)
    charts.show()
    qtbot.waitExposed(charts)
    charts.set_epochs(3)
    settle()
    log = PaintLog({"loss": charts.loss_plot, "metric": charts.metric_plot, "lr": charts.lr_plot})

    # An epoch's batches and its end: all three plots have new points.
    for event in batches(0, [2.5, 1.1, 0.3, 0.004]):
        charts.add_batch(event)
    charts.add_epoch(0, {"train_loss": 1.0, "val_loss": 0.9, "accuracy": 0.55, "lr": 4e-3})
    log.take()
    drawn = []
    for _ in range(3):
        charts._timer.stop()  # the round's passes, one by one, without waiting for the timer
        charts._redraw_next()
        settle()
        drawn.append(log.take())
    assert drawn == [{"loss"}, {"metric"}, {"lr"}]
    assert list(charts._curves["loss:batch"].getData()[1]) == [2.5, 1.1, 0.3, 0.004]
    assert list(charts._curves["metric:accuracy"].getData()[1]) == [0.55]
    assert list(charts._curves["lr:lr"].getData()[1]) == pytest.approx([1e-3, 2e-3, 3e-3, 4e-3])
    assert not charts._timer.isActive()  # nothing left to draw

    # Batches only: the loss and learning-rate plots, never the metric plot, whose points did not change.
    for event in batches(1, [40.0, 0.0005]):
        charts.add_batch(event)
    drawn = []
    while charts._timer.isActive():
        charts._timer.stop()
        charts._redraw_next()
        settle()
        drawn.append(log.take())
    assert drawn == [{"loss"}, {"lr"}]
    assert len(charts._curves["loss:batch"].getData()[0]) == 6
    low, high = charts.loss_plot.viewRange()[1]
    assert low < 0.0005 and high > 40.0  # a point outside the range widened it

    # Points inside the range leave it as it is (a new range would repaint the axis too), in every plot.
    ranges = [plot.viewRange()[1] for plot in (charts.loss_plot, charts.metric_plot, charts.lr_plot)]
    for event in batches(1, [1.0, 0.5, 41.0]):  # 41 > the largest point so far, inside the margin
        charts.add_batch(event)
    while charts._timer.isActive():
        charts._timer.stop()
        charts._redraw_next()
    settle()
    assert len(charts._curves["loss:batch"].getData()[0]) == 9
    assert [plot.viewRange()[1] for plot in (charts.loss_plot, charts.metric_plot, charts.lr_plot)] == ranges

    # Left to its timer, a round ends with every series drawn.
    charts.add_epoch(1, {"train_loss": 0.5, "val_loss": 0.6, "accuracy": 0.7, "lr": 2e-3})
    qtbot.waitUntil(lambda: len(charts._curves["metric:accuracy"].getData()[1]) == 2, timeout=5000)
    qtbot.waitUntil(lambda: not charts._timer.isActive(), timeout=5000)
    assert list(charts._curves["loss:val"].getData()[1]) == [0.9, 0.6]


def legend_names(plot) -> list[str]:
    return [label.text for _, label in plot.plotItem.legend.items]


def test_a_reopened_run_lists_only_curves_it_has_and_a_live_run_gets_its_batch_curve_back(qtbot):
    charts = LiveCharts()
    qtbot.addWidget(charts)
    for event in batches(0, [2.5, 1.1]):  # a live run: per-batch points
        charts.add_batch(event)
    charts.add_epoch(0, {"train_loss": 1.0, "val_loss": 0.9, "accuracy": 0.55, "lr": 1e-3})
    charts.redraw()
    assert "train (batch)" in legend_names(charts.loss_plot)

    history = [{"epoch": 0, "train_loss": 1.0, "val_loss": 0.9, "accuracy": 0.5},
               {"epoch": 1, "train_loss": 0.7, "val_loss": 0.8, "accuracy": 0.6}]
    charts.show_history(history)  # a finished run reopened: epochs only
    charts.add_overlay("other run", history)
    assert legend_names(charts.loss_plot) == ["train", "validation", "other run: validation"]
    assert "loss:batch" not in charts._curves

    charts.clear()  # the next live run draws its batches again
    charts.add_batch(batches(0, [3.0])[0])
    charts.redraw()
    assert list(charts._curves["loss:batch"].getData()[1]) == [3.0]
    assert "train (batch)" in legend_names(charts.loss_plot)
