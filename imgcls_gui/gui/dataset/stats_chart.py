"""Images per class and split as a grouped bar chart (pyqtgraph BarGraphItem).

pyqtgraph costs most of a second to import, so the plot is built the first time the chart is
shown, and redrawn (debounced) only while visible.
"""

from __future__ import annotations

from PySide6.QtCore import QTimer, Slot
from PySide6.QtGui import QPalette, QShowEvent
from PySide6.QtWidgets import QLabel, QVBoxLayout, QWidget

from ..state import AppState

PARTS = (("train", "#4a6fa5"), ("val", "#e69f00"), ("test", "#7b4fa0"), ("none", "#9a9a9a"))
PART_TITLES = {"train": "train", "val": "val", "test": "test", "none": "not assigned"}


def bar_layout(counts: dict[str, dict[str, int]]) -> list[tuple[str, list[float], list[int], float]]:
    """(part, x positions, heights, bar width) for each split that has any image; classes sit at x = 0, 1, 2..."""
    present = [(part, colour) for part, colour in PARTS if any(c.get(part, 0) for c in counts.values())]
    if not present:
        return []
    width = 0.8 / len(present)
    names = list(counts)
    bars = []
    for k, (part, _) in enumerate(present):
        offset = -0.4 + width * (k + 0.5)
        bars.append((part, [i + offset for i in range(len(names))], [counts[n].get(part, 0) for n in names], width))
    return bars


class ClassStatsChart(QWidget):
    def __init__(self, state: AppState, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.state = state
        self.plot = None  # pyqtgraph PlotWidget, built on first show
        self.bars: list = []
        self.empty = QLabel("No labeled images yet.")
        self._layout = QVBoxLayout(self)
        self._layout.setContentsMargins(2, 2, 2, 2)
        self._layout.addWidget(self.empty)
        self._timer = QTimer(self, singleShot=True, interval=250)
        self._timer.timeout.connect(self.refresh)
        for signal in (state.classesChanged, state.splitChanged, state.imagesChanged):
            signal.connect(self.schedule)
        state.labelsChanged.connect(self._labels_changed)
        state.projectChanged.connect(self._project_changed)

    @Slot()
    def schedule(self) -> None:
        if self.isVisible():
            self._timer.start()

    @Slot(list)
    def _labels_changed(self, image_ids: list) -> None:
        self.schedule()

    @Slot(object)
    def _project_changed(self, project: object) -> None:
        self.schedule()

    def showEvent(self, event: QShowEvent) -> None:  # noqa: N802 - Qt API
        super().showEvent(event)
        self.refresh()

    def _build_plot(self) -> None:
        import pyqtgraph as pg

        self.plot = pg.PlotWidget()
        self.plot.setObjectName("classStatsPlot")
        self.plot.setBackground(self.palette().color(QPalette.ColorRole.Base))
        self.plot.setMenuEnabled(False)
        self.plot.setMouseEnabled(x=False, y=False)
        self.plot.showGrid(y=True, alpha=0.25)
        self.plot.setLabel("left", "images")
        self.legend = self.plot.addLegend(offset=(-10, 10))
        self._layout.addWidget(self.plot)

    @Slot()
    def refresh(self) -> None:
        project = self.state.project
        counts = project.split_counts() if project is not None and not project.closed else {}
        layout = bar_layout(counts)
        self.empty.setVisible(not layout)
        if not layout:
            if self.plot is not None:
                self.plot.setVisible(False)
            return
        if self.plot is None:
            self._build_plot()
        import pyqtgraph as pg

        self.plot.setVisible(True)
        self.plot.clear()
        self.legend.clear()
        self.bars = []
        colours = dict(PARTS)
        for part, xs, heights, width in layout:
            bar = pg.BarGraphItem(x=xs, height=heights, width=width, brush=colours[part], pen=pg.mkPen(None),
                                  name=PART_TITLES[part])
            self.plot.addItem(bar)  # a named item joins the legend by itself
            self.bars.append(bar)
        names = list(counts)
        self.plot.getAxis("bottom").setTicks([[(i, name) for i, name in enumerate(names)]])
        self.plot.setXRange(-0.6, len(names) - 0.4, padding=0)
        top = max(max(h) for _, _, h, _ in layout)
        self.plot.setYRange(0, top * 1.45 + 1, padding=0)  # headroom: the legend sits top right
