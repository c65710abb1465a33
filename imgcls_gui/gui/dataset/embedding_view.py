"""The Embedding map tab: every project image as a point placed by its backbone features, so similar
images sit together; a lasso around points selects those images in the grid for labelling.

Features come from the project's latest trained run (its backbone, as its head sees them) or, before
any run, from the Model panel's backbone, through the feature cache (``embed_images``); the layout is
the engine's ``embedding_map`` (UMAP). Colour by label, by the run's prediction, or by an error
score (1 - the run's probability of the given label). Everything runs in the warm child process (through a
worker, with progress and Cancel: ``map_in_child``); hovering a point shows its thumbnail.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QPointF, Qt, Signal, Slot
from PySide6.QtGui import QColor, QPainterPath, QPen, QPolygonF
from PySide6.QtWidgets import (
    QComboBox,
    QGraphicsPathItem,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from ...engine import MAP_METHODS, MapData
from ..common.child_jobs import in_child
from ..common.thumbnails import ThumbnailLoader
from ..state import AppState
from ..worker import LatestTask, TaskState

COLOURINGS = ("label", "prediction", "error score")
UNLABELLED = "#9e9e9e"


def map_task(state: TaskState, image_ids: list[int], paths: list[Path], labels: list[tuple[str, ...]],
             sha1: dict[Path, str], run: Path | None, model_config, method: str) -> MapData:
    """Worker task: features (cached) → 2-D map, plus the run's predictions for colouring, computed in the warm
    child process (a crash there fails the map, not the window)."""
    from ...engine import map_in_child

    return in_child(state, map_in_child, image_ids, paths, labels, sha1, run, model_config, method)


class LassoViewBox(pg.ViewBox):
    """A ViewBox where a left-button drag draws a lasso instead of panning; the wheel still zooms."""

    lassoFinished = Signal(object)  # QPolygonF in data coordinates

    def __init__(self) -> None:
        super().__init__()
        self._points: list[QPointF] = []
        self._path_item = QGraphicsPathItem()
        self._path_item.setPen(QPen(QColor("#1971c2"), 0, Qt.PenStyle.DashLine))
        self.addItem(self._path_item, ignoreBounds=True)

    def mouseDragEvent(self, ev, axis=None) -> None:  # noqa: N802 - pyqtgraph API
        if ev.button() != Qt.MouseButton.LeftButton:
            super().mouseDragEvent(ev, axis)
            return
        ev.accept()
        point = self.mapSceneToView(ev.scenePos())
        if ev.isStart():
            self._points = []
        self._points.append(point)
        path = QPainterPath()
        path.addPolygon(QPolygonF(self._points))
        self._path_item.setPath(path)
        if ev.isFinish():
            self._path_item.setPath(QPainterPath())
            if len(self._points) >= 3:
                self.lassoFinished.emit(QPolygonF(self._points))
            self._points = []


class EmbeddingMapView(QWidget):
    imagesRequested = Signal(list)  # ids of the images inside a lasso

    def __init__(self, state: AppState, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.state = state
        self.data: MapData | None = None
        self.task = LatestTask(self)
        self.thumbnails = ThumbnailLoader(size=96, parent=self)
        self.method = QComboBox()
        self.method.addItems(list(MAP_METHODS))
        self.method.setToolTip("UMAP keeps neighbourhoods best; PCA is instant but overlaps classes; t-SNE is slower")
        self.colouring = QComboBox()
        self.colouring.setObjectName("mapColouring")
        self.colouring.addItems(list(COLOURINGS))
        self.colouring.setToolTip("Colour points by their label, the latest run's prediction, or how unlikely the "
                                  "run finds the given label (red: likely wrong)")
        self.colouring.currentTextChanged.connect(self._recolour)
        self.compute_button = QPushButton("Compute map")
        self.compute_button.setObjectName("computeMap")
        self.compute_button.setToolTip("Place every project image by its backbone features (cached after the first time)")
        self.compute_button.clicked.connect(self.compute)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.clicked.connect(self.task.cancel)
        self.progress = QProgressBar()
        self.progress.setMaximumHeight(14)
        self.status = QLabel("Compute the map, then draw around points to select those images in the grid.")
        self.status.setWordWrap(True)
        self.viewbox = LassoViewBox()
        self.viewbox.lassoFinished.connect(self._lasso_finished)
        self.plot = pg.PlotWidget(viewBox=self.viewbox)
        self.plot.setBackground("w")
        self.plot.hideAxis("left")
        self.plot.hideAxis("bottom")
        self.scatter = pg.ScatterPlotItem(size=7, pen=None, hoverable=True, hoverSize=11)
        self.scatter.sigHovered.connect(self._hovered)
        self.plot.addItem(self.scatter)
        self.hover = QLabel(self.plot)
        self.hover.setObjectName("mapHover")
        self.hover.setStyleSheet("background: white; border: 1px solid #888; padding: 2px;")
        self.hover.hide()
        self.thumbnails.thumbnailReady.connect(self._thumbnail_ready)
        self._hover_row: int | None = None
        self._build_layout()
        self._set_busy(False)

    def _build_layout(self) -> None:
        controls = QHBoxLayout()
        controls.addWidget(QLabel("Layout:"))
        controls.addWidget(self.method)
        controls.addWidget(QLabel("Colour:"))
        controls.addWidget(self.colouring)
        controls.addStretch(1)
        controls.addWidget(self.compute_button)
        controls.addWidget(self.cancel_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(controls)
        layout.addWidget(self.progress)
        layout.addWidget(self.plot, 1)
        layout.addWidget(self.status)

    # -- computing -----------------------------------------------------------------------------

    @Slot()
    def compute(self) -> None:
        project = self.state.project
        if project is None or project.closed:
            return
        records = [r for r in project.images() if r.file.is_file()]
        if not records:
            self.status.setText("The project has no images to place.")
            return
        from ...engine import latest_run_with_model

        run = latest_run_with_model(project.runs_dir)
        self.status.setText(f"Placing {len(records)} images by the features of "
                            f"{'run ' + run.name if run else self.state.run_config.model.name}…")
        self._set_busy(True)
        self.task.start(map_task, [r.id for r in records], [r.file for r in records], [r.labels for r in records],
                        {r.file: r.sha1 for r in records if r.sha1}, run, self.state.run_config.model,
                        self.method.currentText(),
                        on_success=self._computed, on_failure=self._failed, on_progress=self._progressed,
                        on_cancel=self._cancelled)

    @Slot(object)
    def _computed(self, data: MapData) -> None:
        self._set_busy(False)
        self.show_map(data)

    @Slot(str, str)
    def _failed(self, message: str, _details: str) -> None:
        self._set_busy(False)
        self.status.setText(f"Could not compute the map: {message}")

    @Slot()
    def _cancelled(self) -> None:
        self._set_busy(False)
        self.status.setText("Map cancelled.")

    @Slot(int, int)
    def _progressed(self, done: int, total: int) -> None:
        self.progress.setRange(0, total)
        self.progress.setValue(done)

    def _set_busy(self, busy: bool) -> None:
        self.progress.setVisible(busy)
        self.cancel_button.setVisible(busy)
        self.compute_button.setEnabled(not busy)
        if busy:
            self.progress.setRange(0, 0)

    def clear(self) -> None:
        self.task.discard()
        self._set_busy(False)
        self.data = None
        self.scatter.clear()
        self.hover.hide()

    # -- drawing -------------------------------------------------------------------------------

    def show_map(self, data: MapData) -> None:
        self.data = data
        self.scatter.setData(pos=data.coords, data=np.arange(len(data.coords)))
        self._recolour()
        self.viewbox.autoRange()
        self.status.setText(f"{len(data.coords)} images placed by {data.source} ({data.method}). Draw around points "
                            "to select them in the grid; the wheel zooms, right-drag pans.")

    @Slot()
    def _recolour(self, *_args: object) -> None:
        if self.data is None:
            return
        self.scatter.setBrush([pg.mkBrush(c) for c in self.point_colours()])

    def point_colours(self) -> list[str]:
        data, mode = self.data, self.colouring.currentText()
        project = self.state.project
        colours = {c.name: c.colour for c in project.classes()} if project is not None and not project.closed else {}
        if mode == "error score" and data.error is not None:
            cmap = pg.colormap.get("CET-L8")
            return [UNLABELLED if np.isnan(e) else cmap.map(float(e), mode="qcolor").name() for e in data.error]
        if mode == "prediction" and data.predicted is not None:
            return [colours.get(name.split(";")[0], UNLABELLED) for name in data.predicted]
        return [colours.get(labels[0], UNLABELLED) if labels else UNLABELLED for labels in data.labels]

    # -- selecting and hovering ----------------------------------------------------------------

    def ids_inside(self, polygon: QPolygonF) -> list[int]:
        if self.data is None:
            return []
        return [image_id for image_id, (x, y) in zip(self.data.image_ids, self.data.coords)
                if polygon.containsPoint(QPointF(float(x), float(y)), Qt.FillRule.OddEvenFill)]

    @Slot(object)
    def _lasso_finished(self, polygon: QPolygonF) -> None:
        ids = self.ids_inside(polygon)
        self.status.setText(f"{len(ids)} image(s) selected in the grid.")
        if ids:
            self.imagesRequested.emit(ids)

    @Slot(object, object, object)
    def _hovered(self, _item, points, _event) -> None:
        if self.data is None or len(points) == 0:
            self.hover.hide()
            self._hover_row = None
            return
        self._hover_row = int(points[0].data())
        self._show_hover()

    def _show_hover(self) -> None:
        row = self._hover_row
        if row is None or self.data is None:
            return
        path = self.data.paths[row]
        pixmap = self.thumbnails.get(path)
        labels = ", ".join(self.data.labels[row]) or "unlabelled"
        if pixmap is not None:
            self.hover.setPixmap(pixmap)
        else:
            self.hover.setText(f"{path.name}\n{labels}")
        self.hover.setToolTip(f"{path.name}: {labels}")
        self.hover.adjustSize()
        self.hover.move(8, 8)
        self.hover.show()
        self.hover.raise_()

    @Slot(str)
    def _thumbnail_ready(self, key: str) -> None:
        if self._hover_row is not None and self.data is not None and str(self.data.paths[self._hover_row]) == key:
            self._show_hover()
