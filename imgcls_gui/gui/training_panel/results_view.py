"""After a run: metrics (overall and per class), confusion matrix with its images, thresholds and
ROC/PR curves, and the highest-loss images, all from ``engine.results.run_results`` run in a worker.
Choosing an image of a cell or of the highest-loss list shows its Grad-CAM overlay beside the list,
where the image can be relabelled in the project."""

from __future__ import annotations

import math
from pathlib import Path

import qtawesome as qta
from PySide6.QtCore import QModelIndex, Qt, Signal, Slot
from PySide6.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from ...engine import RunResults, SampleResult
from ..common.child_jobs import in_child
from ..common.explanation import ExplanationPane
from ..common.metric_names import metric_name, metric_tooltip, task_name
from ..state import AppState
from ..worker import LatestTask, TaskState
from .gallery import GalleryItem, GalleryView
from .results_parts import ConfusionMatrixView, CurvesView

HIGHEST_LOSS = 24


def results_task(task: TaskState, run_dir: Path, split: str) -> RunResults:
    """Worker task: per-image predictions of a run's best checkpoint on one split, computed in the warm child
    process (a crash there fails the evaluation, not the window)."""
    from ...engine import results_in_child

    return in_child(task, results_in_child, run_dir, split)


def sample_item(sample: SampleResult, classes: tuple[str, ...]) -> GalleryItem:
    """Caption 'true → predicted (p)' for one image; the probability is the top predicted class's."""
    scores = dict(zip(classes, sample.probs))
    top = max(sample.predicted, key=lambda c: scores[c]) if sample.predicted else None
    predicted = ", ".join(sample.predicted) or "nothing"
    confidence = f" {scores[top]:.2f}" if top else ""
    caption = f"{', '.join(sample.true)} → {predicted}{confidence}"
    tooltip = f"{sample.path}\ntrue: {', '.join(sample.true)}\npredicted: {predicted}\nloss: {sample.loss:.4f}"
    return GalleryItem(sample.path, caption, tooltip, wrong=not sample.correct)


def _number(value: float) -> str:
    if isinstance(value, int):
        return str(value)
    return "–" if value is None or math.isnan(value) else f"{value:.4f}"


def _fill_table(table: QTableWidget, headers: list[str], rows: list[list[object]]) -> None:
    table.clear()
    table.setColumnCount(len(headers))
    table.setRowCount(len(rows))
    table.setHorizontalHeaderLabels(headers)
    for r, row in enumerate(rows):
        for c, value in enumerate(row):
            item = QTableWidgetItem(value if isinstance(value, str) else _number(value))  # type: ignore[arg-type]
            item.setFlags(Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable)
            if not isinstance(value, str):
                item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
            table.setItem(r, c, item)
    table.resizeColumnsToContents()


def _table(name: str) -> QTableWidget:
    table = QTableWidget()
    table.setObjectName(name)
    table.verticalHeader().setVisible(False)
    table.horizontalHeader().setStretchLastSection(True)
    table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
    return table


class ResultsView(QWidget):
    loaded = Signal(object)  # RunResults
    failed = Signal(str, str)
    exportRequested = Signal(object)  # the run folder shown

    def __init__(self, state: AppState | None = None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.results: RunResults | None = None
        self.run_dir: Path | None = None
        self.evaluation = LatestTask(self)  # a newer run or split drops the older evaluation
        self.title = QLabel("Train a run, or open one from the Runs tab, to see its results.")
        self.title.setWordWrap(True)
        self.split_box = QComboBox()
        self.split_box.addItems(["val", "test", "train"])
        self.split_box.setToolTip("Which part of the run's saved split to evaluate")
        self.split_box.currentTextChanged.connect(self._split_changed)
        self.export_button = QPushButton(qta.icon("mdi6.export"), "Export…")
        self.export_button.setToolTip("Export this run's model to ONNX or TorchScript, checked against PyTorch")
        self.export_button.setEnabled(False)
        self.export_button.clicked.connect(self._export_clicked)
        self.overall = _table("overallMetrics")
        self.per_class = _table("perClassMetrics")
        self.matrix = ConfusionMatrixView()
        self.matrix.cellChosen.connect(self.show_cell)
        self.cell_label = QLabel("Click a cell to see its images.")
        self.cell_gallery = GalleryView()
        self.cell_gallery.setObjectName("cellImages")
        self.cell_explanation = ExplanationPane(state)
        self.cell_explanation.setObjectName("cellExplanation")
        self.cell_gallery.selectionModel().currentChanged.connect(self._cell_image_chosen)
        self.thresholds = _table("thresholds")
        self.curves = CurvesView()
        self.worst = GalleryView()
        self.worst.setObjectName("highestLoss")
        self.worst_explanation = ExplanationPane(state)
        self.worst_explanation.setObjectName("worstExplanation")
        self.worst.selectionModel().currentChanged.connect(self._worst_image_chosen)
        self.tabs = QTabWidget()
        self.tabs.addTab(self._metrics_tab(), "Metrics")
        self.tabs.addTab(self._matrix_tab(), "Confusion matrix")
        self.tabs.addTab(self._curves_tab(), "Thresholds && curves")
        self.tabs.addTab(self._side_by_side(self.worst, self.worst_explanation), "Highest loss")
        header = QHBoxLayout()
        header.addWidget(self.title, 1)
        header.addWidget(QLabel("Split:"))
        header.addWidget(self.split_box)
        header.addWidget(self.export_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(header)
        layout.addWidget(self.tabs, 1)

    def _metrics_tab(self) -> QWidget:
        splitter = QSplitter(Qt.Orientation.Horizontal)
        splitter.addWidget(self.overall)
        splitter.addWidget(self.per_class)
        splitter.setSizes([260, 600])
        return splitter

    def _matrix_tab(self) -> QWidget:
        left = QWidget()
        matrix_column = QVBoxLayout(left)
        matrix_column.setContentsMargins(0, 0, 0, 0)
        matrix_column.addWidget(QLabel("Rows: true class · columns: predicted class · colour: share of the row"))
        matrix_column.addWidget(self.matrix, 1)
        right = QWidget()
        column = QVBoxLayout(right)
        column.setContentsMargins(0, 0, 0, 0)
        column.addWidget(self.cell_label)
        images = QSplitter(Qt.Orientation.Vertical)
        images.addWidget(self.cell_gallery)
        images.addWidget(self.cell_explanation)
        images.setSizes([200, 320])
        column.addWidget(images, 1)
        splitter = QSplitter(Qt.Orientation.Horizontal)
        splitter.addWidget(left)
        splitter.addWidget(right)
        splitter.setSizes([420, 480])
        return splitter

    @staticmethod
    def _side_by_side(gallery: QWidget, pane: QWidget) -> QWidget:
        splitter = QSplitter(Qt.Orientation.Horizontal)
        splitter.addWidget(gallery)
        splitter.addWidget(pane)
        splitter.setSizes([480, 420])
        return splitter

    def _curves_tab(self) -> QWidget:
        splitter = QSplitter(Qt.Orientation.Vertical)
        splitter.addWidget(self.curves)
        splitter.addWidget(self.thresholds)
        splitter.setSizes([420, 160])
        return splitter

    # -- loading -----------------------------------------------------------------------------

    def load(self, run_dir: Path, split: str | None = None) -> None:
        """Evaluate ``run_dir``'s best checkpoint in a worker; ``loaded`` fires when shown."""
        self.run_dir = Path(run_dir)
        if split is not None:
            self.split_box.blockSignals(True)
            self.split_box.setCurrentText(split)
            self.split_box.blockSignals(False)
        self.title.setText(f"Evaluating {self.run_dir.name} on its {self.split_box.currentText()} images…")
        self.evaluation.start(results_task, self.run_dir, self.split_box.currentText(), on_success=self._loaded,
                              on_failure=self._failed)

    def clear(self) -> None:
        self.evaluation.discard()  # e.g. its project was closed
        self.results = None
        self.run_dir = None
        self.export_button.setEnabled(False)
        self.title.setText("Train a run, or open one from the Runs tab, to see its results.")
        for table in (self.overall, self.per_class, self.thresholds):
            table.clear()
            table.setRowCount(0)
        self.matrix.confusion.set_matrix((), None)
        self.cell_gallery.set_items([])
        self.worst.set_items([])
        for pane in (self.cell_explanation, self.worst_explanation):
            pane.set_model(None)
        self.curves.show_curves((), ())

    @Slot()
    def _export_clicked(self) -> None:
        if self.run_dir is not None:
            self.exportRequested.emit(self.run_dir)

    @Slot(str)
    def _split_changed(self, split: str) -> None:
        if self.run_dir is not None:
            self.load(self.run_dir)

    @Slot(object)
    def _loaded(self, results: RunResults) -> None:
        self.show_results(results)
        self.loaded.emit(results)

    @Slot(str, str)
    def _failed(self, message: str, details: str) -> None:
        self.title.setText(f"Could not evaluate {self.run_dir.name if self.run_dir else 'the run'}: {message}")
        self.failed.emit(message, details)

    # -- showing -----------------------------------------------------------------------------

    def show_results(self, results: RunResults) -> None:
        self.results = results
        self.export_button.setEnabled(True)
        self.title.setText(f"<b>{results.run_dir.name}</b> on {len(results.samples)} {results.split} images "
                           f"({task_name(results.task)}), mean loss {_number(results.loss)}")
        _fill_table(self.overall, ["Metric", "Value"], [[metric_name(k), v] for k, v in results.scalars.items()])
        for row, key in enumerate(results.scalars):
            self.overall.item(row, 0).setToolTip(metric_tooltip(key))
        keys = list(dict.fromkeys(k for values in results.per_class.values() for k in values))
        _fill_table(self.per_class, ["Class", *map(metric_name, keys)],
                    [[name, *(values.get(k, math.nan) for k in keys)] for name, values in results.per_class.items()])
        for column, key in enumerate(keys, start=1):
            self.per_class.horizontalHeaderItem(column).setToolTip(metric_tooltip(key))
        self.matrix.confusion.set_matrix(results.classes, results.confusion_matrix)
        self.tabs.setTabEnabled(1, results.confusion_matrix is not None)
        self.cell_gallery.set_items([])
        self.cell_label.setText("Click a cell to see its images.")
        self.curves.show_curves(results.roc, results.pr)
        rows = []
        for j, name in enumerate(results.classes):
            threshold = results.thresholds[j] if results.thresholds else math.nan
            stats = results.per_class.get(name, {})
            rows.append([name, threshold, results.roc[j].area, results.pr[j].area, stats.get("f1", math.nan)])
        _fill_table(self.thresholds, ["Class", "Threshold", "ROC AUC", "Average precision", "F1"], rows)
        self.worst.set_items([sample_item(s, results.classes) for s in results.highest_loss(HIGHEST_LOSS)])
        for pane in (self.cell_explanation, self.worst_explanation):
            pane.set_model(results.run_dir, results.classes)

    @Slot(int, int)
    def show_cell(self, true_index: int, predicted_index: int) -> None:
        if self.results is None:
            return
        samples = self.results.cell(true_index, predicted_index)
        classes = self.results.classes
        self.cell_label.setText(f"{len(samples)} image(s) of <b>{classes[true_index]}</b> predicted as "
                                f"<b>{classes[predicted_index]}</b>")
        self.cell_gallery.set_items([sample_item(s, classes) for s in samples])
        if samples:  # the first image's overlay at once; the others on a click
            self.cell_gallery.setCurrentIndex(self.cell_gallery.gallery.index(0))

    @Slot(QModelIndex, QModelIndex)
    def _cell_image_chosen(self, current: QModelIndex, _previous: QModelIndex) -> None:
        self._explain(self.cell_gallery, self.cell_explanation, current)

    @Slot(QModelIndex, QModelIndex)
    def _worst_image_chosen(self, current: QModelIndex, _previous: QModelIndex) -> None:
        self._explain(self.worst, self.worst_explanation, current)

    @staticmethod
    def _explain(gallery: GalleryView, pane: ExplanationPane, index: QModelIndex) -> None:
        if index.isValid():
            item = gallery.gallery.items[index.row()]
            pane.show_image(item.path, item.caption)
