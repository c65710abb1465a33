"""The Dataset & labeling panel: class list | thumbnail grid | preview, health and class statistics.

It follows ``AppState`` (project, images, labels, classes, split) and changes the project only
through undoable commands, so what the grid shows is always what the database holds.
"""

from __future__ import annotations

from pathlib import Path

import qtawesome as qta
from PySide6.QtCore import QByteArray, QModelIndex, QSettings, Qt, QTimer, Slot
from PySide6.QtGui import QDragEnterEvent, QDragMoveEvent, QDropEvent
from PySide6.QtWidgets import (
    QDialog,
    QLabel,
    QSplitter,
    QStackedWidget,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from ...engine import Project, scan_image_info, split_to_assignment
from ..common.natural_sort import natural_sorted
from ..common.thumbnails import ThumbnailLoader
from ..common.undo import RemoveImagesCommand, assign_class, push, toggle_tag
from ..errors import show_error
from ..state import AppState, ImportRequest
from ..worker import LatestTask, TaskState
from .capture_view import CaptureView
from .class_list import ClassListWidget
from .embedding_view import EmbeddingMapView
from .filter_bar import FilterBar
from .grid import ImageGridView
from .health_view import HealthView
from .model import ImageFilter, ImageListModel
from .preview import PreviewPane
from .review_view import ReviewView
from .split_dialog import SplitDialog, compute_split, forget_given_splits
from .stats_chart import ClassStatsChart

THUMBNAIL_SIZE = 112
EMPTY_TEXT = ("<h2>No project open</h2><p>File ▸ New Project (Ctrl+N), File ▸ Open Project (Ctrl+O),<br>"
              "or File ▸ Open Demo Project (Ctrl+Shift+D) to try it with sample images.</p>")
NO_IMAGES_TEXT = ("<h2>No images yet</h2><p>Drop photos or folders here (a folder with one subfolder per class "
                  "imports its labels),<br>or use File ▸ Import (Ctrl+I, Ctrl+Shift+I, CSV, PASCAL VOC).</p>")


def scan_infos(state: TaskState, records: list) -> list:
    """Worker task: hashes and pixel sizes of images imported without them."""
    return scan_image_info(records, progress=state.set_progress, should_stop=state.is_interruption_requested)


class DatasetPanel(QWidget):
    def __init__(self, state: AppState, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.state = state
        self.setAcceptDrops(True)
        self.thumbnails = ThumbnailLoader(size=THUMBNAIL_SIZE, parent=self)
        self.model = ImageListModel(self.thumbnails, self)
        self.grid = ImageGridView(self.model, THUMBNAIL_SIZE)
        self.classes = ClassListWidget(state)
        self.preview = PreviewPane()
        self.health = HealthView(state)
        self.stats = ClassStatsChart(state)
        self.capture = CaptureView(state)
        self.embedding = EmbeddingMapView(state)
        self.review = ReviewView(state, self.thumbnails)
        self.info_scan = LatestTask(self)  # a fresh scan covers what an older one had left
        self.split_task = LatestTask(self)
        self._build_layout()
        self._connect()
        self._restore_settings()
        self._project_changed(state.project)

    # -- building -----------------------------------------------------------------------------

    def _build_layout(self) -> None:
        self.filters = FilterBar()
        self.split_button = self.filters.split_button

        self.empty_label = QLabel(EMPTY_TEXT)
        self.empty_label.setObjectName("emptyLabel")
        self.empty_label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.empty_label.setWordWrap(True)
        self.centre = QStackedWidget()
        self.centre.addWidget(self.empty_label)
        self.centre.addWidget(self.grid)
        centre_box = QWidget()
        centre_layout = QVBoxLayout(centre_box)
        centre_layout.setContentsMargins(0, 0, 0, 0)
        centre_layout.addWidget(self.filters)
        centre_layout.addWidget(self.centre, 1)

        self.tabs = QTabWidget()
        self.tabs.addTab(self.health, qta.icon("mdi6.stethoscope"), "Health")
        self.tabs.addTab(self.stats, qta.icon("mdi6.chart-bar"), "Class statistics")
        self.tabs.addTab(self.capture, qta.icon("mdi6.camera"), "Capture")
        self.tabs.addTab(self.embedding, qta.icon("mdi6.scatter-plot-outline"), "Embedding map")
        self.tabs.addTab(self.review, qta.icon("mdi6.magnify-scan"), "Review")
        self.right_splitter = QSplitter(Qt.Orientation.Vertical)
        self.right_splitter.setObjectName("datasetRightSplitter")
        self.right_splitter.addWidget(self.preview)
        self.right_splitter.addWidget(self.tabs)
        self.right_splitter.setSizes([420, 300])
        self.splitter = QSplitter(Qt.Orientation.Horizontal)
        self.splitter.setObjectName("datasetSplitter")
        self.splitter.addWidget(self.classes)
        self.splitter.addWidget(centre_box)
        self.splitter.addWidget(self.right_splitter)
        self.splitter.setStretchFactor(1, 1)
        self.splitter.setSizes([200, 680, 340])
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.splitter)

    def _connect(self) -> None:
        s = self.state
        s.projectChanged.connect(self._project_changed)
        s.imagesChanged.connect(self.reload)
        s.labelsChanged.connect(self._labels_changed)
        s.classesChanged.connect(self._classes_changed)
        s.splitChanged.connect(self._refresh_records)
        self.grid.classKeyPressed.connect(self.label_with_class_number)
        self.grid.deleteRequested.connect(self.remove_selected)
        self.grid.selectionModel().selectionChanged.connect(self._selection_changed)
        self.grid.selectionModel().currentChanged.connect(self._current_changed)
        self.model.modelReset.connect(self._model_reset)
        self.classes.applyRequested.connect(self.apply_class)
        self.health.imagesRequested.connect(self.select_images)
        self.embedding.imagesRequested.connect(self.select_images)
        self.review.imagesRequested.connect(self.show_in_grid)
        self.health.flaggedChanged.connect(self._flagged_changed)
        self.filters.filterChanged.connect(self._filter_chosen)
        self.split_button.clicked.connect(self.ask_split)

    # -- following the state ------------------------------------------------------------------

    @Slot(object)
    def _project_changed(self, project: Project | None) -> None:
        self.info_scan.discard()  # their results belong to the closed project
        self.split_task.discard()
        self.embedding.clear()
        self.split_button.setEnabled(self.state.writable)
        self.thumbnails.clear(project.thumbnails_dir if project is not None else None)
        self.preview.clear_cache()
        self.filters.reset()
        self.model.set_filter(ImageFilter())
        self.filters.set_classes(natural_sorted(project.class_names()) if project is not None else [])
        self.reload()
        if project is not None and self.model.rowCount() > 0:
            self.grid.select_rows([0])  # so the preview shows something straight away
        self.split_button.setEnabled(self.state.writable)

    @Slot()
    def reload(self) -> None:
        """Read every image again (after an import, a removal or another project)."""
        project = self.state.project
        if project is None or project.closed:
            self.model.set_records([])
            self.centre.setCurrentWidget(self.empty_label)
            self.empty_label.setText(EMPTY_TEXT)
            return
        records = project.images()
        self.model.set_class_colours({c.name: c.colour for c in project.classes()})
        self.model.set_records(records)
        self.model.set_missing(r.id for r in records if not r.file.is_file())
        self.empty_label.setText(NO_IMAGES_TEXT)
        self.centre.setCurrentWidget(self.grid if records else self.empty_label)
        self._start_info_scan(records)

    @Slot(list)
    def _labels_changed(self, image_ids: list) -> None:
        if self.state.project is not None:
            self.model.update_labels(self.state.project.labels_of(image_ids))
            self._show_current()

    @Slot()
    def _classes_changed(self) -> None:
        project = self.state.project
        if project is None:
            return
        self.model.set_class_colours({c.name: c.colour for c in project.classes()})
        self._refresh_records()
        self.filters.set_classes(natural_sorted(project.class_names()))

    @Slot()
    def _refresh_records(self) -> None:
        if self.state.project is not None:
            self.model.replace_records(self.state.project.images())
            self._show_current()

    # -- labeling -----------------------------------------------------------------------------

    @Slot(int)
    def label_with_class_number(self, number: int) -> None:
        """Key n: the n-th class. Single-label: assign and move to the next image; multi-label: toggle."""
        project = self.state.project
        if project is None:
            return
        names = natural_sorted(project.class_names())  # the class list's order, keys shown on its swatches
        if number > len(names):
            self.state.show_status(f"There is no class {number}; add classes in the list on the left.")
            return
        self.apply_class(names[number - 1])

    @Slot(str)
    def apply_class(self, name: str) -> None:
        ids = self.grid.selected_ids()
        if not ids or not self._check_writable():
            return
        rows = sorted(i.row() for i in self.grid.selectionModel().selectedIndexes())
        if self.state.project.task == "multilabel":
            toggle_tag(self.state, ids, name)
            return
        assign_class(self.state, ids, name)
        following = rows[-1] + 1
        if following < self.model.rowCount():
            self.grid.select_rows([following])

    @Slot()
    def remove_selected(self) -> None:
        ids = self.grid.selected_ids()
        if not ids or not self._check_writable():
            return
        first = min(i.row() for i in self.grid.selectionModel().selectedIndexes())
        push(self.state, RemoveImagesCommand(self.state, ids))
        self.state.show_status(f"Removed {len(ids)} image(s) from the project (files kept). Ctrl+Z undoes.")
        if self.model.rowCount():
            self.grid.select_rows([min(first, self.model.rowCount() - 1)])

    def _check_writable(self) -> bool:
        if not self.state.writable:
            self.state.show_status("This project is open read-only; labels cannot be changed here.")
            return False
        return True

    # -- selection, preview and filters -------------------------------------------------------

    @Slot(list)
    def select_images(self, image_ids: list) -> None:
        """Select these images (a health row); show all images first if the filter hides some."""
        rows = [r for r in (self.model.row_of_id(i) for i in image_ids) if r is not None]
        if len(rows) < len(image_ids) and self.model.filter != ImageFilter():
            self.filters.reset()
            self.model.set_filter(ImageFilter())
            rows = [r for r in (self.model.row_of_id(i) for i in image_ids) if r is not None]
        self.grid.select_rows(rows)
        self.grid.setFocus()

    @Slot(list)
    def show_in_grid(self, image_ids: list) -> None:
        """Select these images in the grid without taking the keyboard from the caller (the Review queue)."""
        rows = [r for r in (self.model.row_of_id(i) for i in image_ids) if r is not None]
        if rows:
            self.grid.select_rows(rows)

    @Slot()
    def _selection_changed(self) -> None:
        self.state.set_selection(self.grid.selected_ids())

    @Slot(QModelIndex, QModelIndex)
    def _current_changed(self, current: QModelIndex, previous: QModelIndex) -> None:
        self._show_current()

    def _show_current(self) -> None:
        index = self.grid.currentIndex()
        self.preview.show_record(self.model.record(index.row()) if index.isValid() else None)

    @Slot()
    def _model_reset(self) -> None:
        self.filters.show_counts(self.model.rowCount(), len(self.model.all_records()))
        self._show_current()

    def current_filter(self) -> ImageFilter:
        return self.filters.current_filter(self.health.flagged_ids, self.model.missing_ids)

    @Slot()
    def _filter_chosen(self) -> None:
        self.model.set_filter(self.current_filter())
        if self.model.rowCount():
            self.grid.select_rows([0])

    @Slot()
    def _flagged_changed(self) -> None:
        if self.filters.kind() == "problems":
            self._filter_chosen()

    # -- split --------------------------------------------------------------------------------

    @Slot()
    def ask_split(self) -> None:
        project = self.state.project
        if project is None or not self._check_writable():
            return
        dataset, ids = project.dataset_with_ids(labeled_only=True)
        dialog = SplitDialog(len(ids), any(s.split for s in dataset.samples), self)
        if dialog.exec() == QDialog.DialogCode.Accepted:
            self.run_split(dialog.val_fraction, dialog.test_fraction, dialog.seed, dialog.keep_existing)

    def run_split(self, val_fraction: float, test_fraction: float, seed: int, keep_existing: bool = False) -> None:
        project = self.state.project
        dataset, ids = project.dataset_with_ids(labeled_only=True)
        if not keep_existing:
            dataset = forget_given_splits(dataset)
        self._split_ids = ids
        self.split_button.setEnabled(False)
        self.split_task.start(compute_split, dataset, val_fraction, test_fraction, seed,
                              on_success=self._split_done, on_failure=self._split_failed)

    @Slot(object)
    def _split_done(self, split) -> None:
        self.split_button.setEnabled(self.state.writable)
        self.state.project.assign_split(split_to_assignment(split, self._split_ids))
        self.state.notify_split()
        self.state.show_status(f"Split: {len(split.train)} train, {len(split.val)} validation, {len(split.test)} test.")

    @Slot(str, str)
    def _split_failed(self, message: str, details: str) -> None:
        self.split_button.setEnabled(self.state.writable)
        show_error(self, message, details, title="Split")

    # -- background facts ---------------------------------------------------------------------

    def _start_info_scan(self, records: list) -> None:
        self.info_scan.discard()  # the scan below covers what it had left
        todo = [r for r in records if r.sha1 is None and r.id not in self.model.missing_ids]
        if todo and self.state.writable:
            # failures ignored: sizes in the preview are a convenience; the health check reports unreadable files
            self.info_scan.start(scan_infos, todo, on_success=self._infos_found, on_failure=self._infos_failed)

    @Slot(object)
    def _infos_found(self, infos: list) -> None:
        if infos and self.state.writable:
            self.state.project.update_image_info(infos)  # ids removed meanwhile match no row: harmless
            self._refresh_records()

    @Slot(str, str)
    def _infos_failed(self, message: str, details: str) -> None:
        pass

    # -- drag and drop ------------------------------------------------------------------------

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:  # noqa: N802 - Qt API
        if event.mimeData().hasUrls() and any(u.isLocalFile() for u in event.mimeData().urls()):
            event.acceptProposedAction()

    def dragMoveEvent(self, event: QDragMoveEvent) -> None:  # noqa: N802 - Qt API
        if event.mimeData().hasUrls():
            event.acceptProposedAction()

    def dropEvent(self, event: QDropEvent) -> None:  # noqa: N802 - Qt API
        paths = tuple(Path(u.toLocalFile()) for u in event.mimeData().urls() if u.isLocalFile())
        if paths:
            event.acceptProposedAction()
            # After the drop returns: the file manager must not wait for our import dialogs.
            self._dropped = ImportRequest(paths, "auto", preview=True)  # loose photos alone skip the preview
            QTimer.singleShot(0, self._import_dropped)

    @Slot()
    def _import_dropped(self) -> None:
        self.state.request_import(self._dropped)

    # -- settings -----------------------------------------------------------------------------

    def _restore_settings(self) -> None:
        settings = QSettings()
        for splitter in (self.splitter, self.right_splitter):
            value = settings.value(f"dataset/{splitter.objectName()}")
            if isinstance(value, QByteArray):
                splitter.restoreState(value)
        self.tabs.setCurrentIndex(int(settings.value("dataset/rightTab", 0)))

    def save_settings(self, settings: QSettings) -> None:
        for splitter in (self.splitter, self.right_splitter):
            settings.setValue(f"dataset/{splitter.objectName()}", splitter.saveState())
        settings.setValue("dataset/rightTab", self.tabs.currentIndex())
