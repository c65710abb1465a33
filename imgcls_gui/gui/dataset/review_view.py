"""The Review view: a queue of suspected label errors, near-duplicates and outliers to fix by key.

"Find issues" runs the engine's ``diagnose`` in the warm child process (through a worker: progress,
Cancel) on the project's labelled images, with the newest run's backbone (else the draft config's).
Rows come worst first: label errors, then duplicates, then outliers. Keys on the queue: A accepts the
suggestion, K keeps the label, 1-9 relabel with the n-th class, Delete removes the image from the
project; each change is an undoable command (``gui/common/undo.py``) saved at once, like a key in the
grid. The selected row's image is shown with the Grad-CAM overlay (computed in the child too) of its
suggested (else given) label when the diagnosis used a run, whose model can explain itself; a registry
backbone has no trained head, so the plain image is shown and the caption says so.
"""

from __future__ import annotations

from pathlib import Path

import qtawesome as qta
from PySide6.QtCore import QModelIndex, QSize, Qt, Signal, Slot
from PySide6.QtGui import QImage, QPixmap
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QProgressBar,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from ...engine import BackboneSource
from ..common.child_jobs import in_child
from ..common.natural_sort import natural_sorted
from ..common.thumbnails import ThumbnailLoader
from ..common.undo import KeepIssueCommand, RemoveImagesCommand, SetLabelsCommand, push
from ..state import AppState
from ..worker import LatestTask, TaskState
from .review_queue import KIND_TEXT, ROW_ICON, ReviewModel, ReviewRow, ReviewTable

KEYS_TEXT = "A accept the suggestion · K keep the label · 1-9 relabel · Delete remove from project · Ctrl+Z undo"
OVERLAY_SIDE = 320
SHOWN_HEIGHT = 200  # the overlay as shown; the queue keeps the rest of the height


def run_diagnosis(state: TaskState, dataset, source: BackboneSource, device: str, num_workers: int):
    """Worker task: the engine's diagnosis, computed in the warm child process (a crash there fails the search,
    not the window); cancellable between batches and folds."""
    from ...engine import diagnose_in_child

    return in_child(state, diagnose_in_child, dataset, source, device, num_workers)


def _plain_png(path: Path) -> bytes:
    """The image alone, at most OVERLAY_SIDE a side, as PNG (Pillow only: no torch in the app's process)."""
    import io

    from ...engine import load_image

    image = load_image(path, draft_size=OVERLAY_SIDE)
    image.thumbnail((OVERLAY_SIDE, OVERLAY_SIDE))
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def render_row_image(state: TaskState, path: Path, run: Path | None, label: str | None, device: str) -> tuple[bytes, str]:
    """Worker task: (PNG bytes, caption) of the image with its Grad-CAM overlay (computed in the warm child
    process), or plain when that cannot be had."""
    from ...engine import ImgclsError, explain_in_child

    if run is None:
        return _plain_png(path), ("Plain image: the diagnosis used a backbone without a trained model, so there is "
                                  "no Grad-CAM.")
    try:
        explained = in_child(state, explain_in_child, run, path, label, OVERLAY_SIDE, device,
                             successor_of="explain")
    except ImgclsError as exc:  # the run cannot explain (or its process died): the plain image says why
        return _plain_png(path), f"Plain image: no Grad-CAM ({exc})"
    if explained.overlays:  # of ``label``; of the predicted class when the image has no label to explain
        return explained.overlays[0][2], f"Grad-CAM of '{explained.overlays[0][0]}' (run {run.name})"
    return explained.photo or _plain_png(path), f"Plain image: run {run.name}: {explained.error}."


class ReviewView(QWidget):
    """Find issues, then walk the queue with the keys; every change goes through the undo stack."""

    imagesRequested = Signal(list)  # ids to select in the grid (the current row's image)

    def __init__(self, state: AppState, thumbnails: ThumbnailLoader, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.state = state
        self.diagnosis = None
        self.run: Path | None = None
        self.task = LatestTask(self)
        self.image_task = LatestTask(self)
        self.model = ReviewModel(thumbnails, self)
        self._build()
        state.projectChanged.connect(self._project_changed)
        state.labelsChanged.connect(self._labels_changed)
        state.imagesChanged.connect(self._images_changed)
        state.keptChanged.connect(self._kept_changed)

    def _build(self) -> None:
        self.find_button = QPushButton(qta.icon("mdi6.magnify-scan"), "Find issues")
        self.find_button.setObjectName("reviewFindButton")
        self.find_button.setToolTip("Cross-validates a head on backbone features of every labelled image, then lists "
                                    "likely label errors (cleanlab), near-duplicates and outliers, worst first.")
        self.find_button.clicked.connect(self.start)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.clicked.connect(self.cancel)
        self.cancel_button.setVisible(False)
        self.progress = QProgressBar()
        self.progress.setVisible(False)
        self.kind_filter = QComboBox()
        for text, kind in (("All issues", ""), ("Label errors", "label"), ("Near-duplicates", "duplicate"),
                           ("Outliers", "outlier")):
            self.kind_filter.addItem(text, kind)
        self.kind_filter.currentIndexChanged.connect(self._show_rows)
        top = QHBoxLayout()
        top.addWidget(self.find_button)
        top.addWidget(self.cancel_button)
        top.addWidget(self.progress, 1)
        top.addWidget(self.kind_filter)
        self.summary = QLabel("Finds likely label errors, near-duplicates and outliers among the labelled images.")
        self.summary.setWordWrap(True)
        self.table = ReviewTable()
        self.table.setObjectName("reviewTable")
        self.table.setModel(self.model)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setIconSize(QSize(ROW_ICON, ROW_ICON))
        self.table.verticalHeader().setDefaultSectionSize(ROW_ICON + 6)
        self.table.verticalHeader().setVisible(False)
        self.table.horizontalHeader().setSectionResizeMode(2, QHeaderView.ResizeMode.Stretch)
        self.table.setColumnWidth(0, ROW_ICON + 30)
        self.table.actionRequested.connect(self.act)
        self.table.selectionModel().currentRowChanged.connect(self._current_changed)
        self.image = QLabel()
        self.image.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.image.setMinimumHeight(120)
        self.caption = QLabel()
        self.caption.setWordWrap(True)
        self.caption.setAlignment(Qt.AlignmentFlag.AlignCenter)
        keys = QLabel(KEYS_TEXT)
        keys.setWordWrap(True)
        keys.setObjectName("reviewKeys")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addLayout(top)
        layout.addWidget(self.summary)
        layout.addWidget(self.table, 1)
        layout.addWidget(self.image)
        layout.addWidget(self.caption)
        layout.addWidget(keys)

    # -- finding ------------------------------------------------------------------------------

    @property
    def running(self) -> bool:
        return self.task.busy

    @Slot()
    def start(self) -> None:
        project = self.state.project
        if project is None or self.running:
            return
        from ...engine import latest_run_with_model

        dataset, ids = project.dataset_with_ids()
        self._ids_by_path = {sample.path: image_id for sample, image_id in zip(dataset.samples, ids)}
        self.run = latest_run_with_model(project.runs_dir)
        config = self.state.run_config
        source = BackboneSource(self.run, config.model)
        self.device = config.train.device
        self.find_button.setEnabled(False)
        self.cancel_button.setVisible(True)
        self.progress.setVisible(True)
        self.progress.setRange(0, 0)
        self.summary.setText(f"Looking for issues with {source.describe()}…")
        self.task.start(run_diagnosis, dataset, source, self.device, config.data.num_workers,
                        on_success=self._found, on_failure=self._failed, on_progress=self._progress,
                        on_cancel=self._cancelled)

    @Slot()
    def cancel(self) -> None:
        self.task.cancel()

    @Slot(int, int)
    def _progress(self, done: int, total: int) -> None:
        self.progress.setRange(0, max(total, 1))
        self.progress.setValue(done)

    @Slot(object)
    def _found(self, diagnosis) -> None:
        self._finish()
        self.show_diagnosis(diagnosis)

    @Slot(str, str)
    def _failed(self, message: str, details: str) -> None:
        self._finish()
        self.summary.setText(f"The search failed: {message}")

    @Slot()
    def _cancelled(self) -> None:
        self._finish()
        self.summary.setText("Search cancelled.")

    def _finish(self) -> None:
        self.find_button.setEnabled(True)
        self.cancel_button.setVisible(False)
        self.progress.setVisible(False)

    def show_diagnosis(self, diagnosis) -> None:
        """Fill the queue from a diagnosis of this project's images (paths matched to image ids)."""
        self.diagnosis = diagnosis
        project = self.state.project
        labels = project.labels_of(self._ids_by_path.values())
        kept = project.kept_issues.all()
        rows = [ReviewRow(issue, self._ids_by_path[issue.path], labels.get(self._ids_by_path[issue.path], ()))
                for issue in diagnosis.issues if issue.path in self._ids_by_path]
        # what the user kept before (with the labels it still has) does not come back
        self.rows = [r for r in rows if kept.get((r.image_id, r.issue.kind)) != r.labels]
        counts = {kind: sum(1 for r in self.rows if r.issue.kind == kind) for kind in KIND_TEXT}
        hidden = f" {len(rows) - len(self.rows)} kept earlier not listed." if len(rows) > len(self.rows) else ""
        self.summary.setText(f"{counts['label']} likely label error(s), {counts['duplicate']} near-duplicate(s), "
                             f"{counts['outlier']} outlier(s) among {len(diagnosis.paths)} images "
                             f"(backbone: {diagnosis.source}).{hidden}")
        self._show_rows()

    @Slot()
    def _show_rows(self) -> None:
        kind = self.kind_filter.currentData()
        self.model.set_rows([r for r in getattr(self, "rows", []) if not kind or r.issue.kind == kind])
        if self.model.rows:
            self.table.selectRow(0)
            self.table.setFocus()
        else:
            self.image.clear()
            self.caption.clear()

    # -- acting -------------------------------------------------------------------------------

    @Slot(str, int)
    def act(self, action: str, number: int = 0) -> None:
        """Do ``action`` to the current row's image and move on to the next open row."""
        index = self.table.currentIndex()
        project = self.state.project
        if not index.isValid() or project is None:
            return
        if not self.state.writable:
            self.state.show_status("This project is open read-only; labels cannot be changed here.")
            return
        row = self.model.rows[index.row()]
        if row.status == "removed":
            return
        if action == "keep":
            push(self.state, KeepIssueCommand(self.state, row.image_id, row.issue.kind, row.labels,
                                              f"Review: keep the label of '{row.issue.path.name}'"))
            row.status = "kept"
        elif action == "remove":
            push(self.state, RemoveImagesCommand(self.state, [row.image_id]))
            row.status = "removed"
        else:
            after = self._labels_for(action, number, row)
            if after is None:
                return
            before = project.labels_of([row.image_id])
            if before[row.image_id] != after:
                text = f"Review: label '{row.issue.path.name}' {', '.join(after) or 'unlabeled'}"
                push(self.state, SetLabelsCommand(self.state, before, {row.image_id: after}, text))
            row.status = "accepted" if action == "accept" else "relabelled"
        self.model.row_changed(index.row())
        self._select_next_open(index.row())

    def _labels_for(self, action: str, number: int, row: ReviewRow) -> tuple[str, ...] | None:
        names = natural_sorted(self.state.project.class_names())
        if action == "accept":
            if not row.issue.suggested:
                self.state.show_status("This row has no suggested label: keep it, relabel with 1-9 or remove it.")
                return None
            return tuple(row.issue.suggested)
        if number > len(names):
            self.state.show_status(f"There is no class {number}; add classes in the list on the left.")
            return None
        name = names[number - 1]
        if self.state.project.task == "multilabel":
            order = {n: k for k, n in enumerate(self.state.project.class_names())}
            current = set(row.labels)
            current ^= {name}
            return tuple(sorted(current, key=order.get))
        return (name,)

    def _select_next_open(self, after: int) -> None:
        rows = self.model.rows
        following = [n for n in range(after + 1, len(rows)) if not rows[n].status]
        self.table.selectRow(following[0] if following else after)

    # -- following the project ----------------------------------------------------------------

    @Slot(QModelIndex, QModelIndex)
    def _current_changed(self, current: QModelIndex, previous: QModelIndex) -> None:
        if not current.isValid():
            return
        row = self.model.rows[current.row()]
        if row.status != "removed":
            self.imagesRequested.emit([row.image_id])
        label = (row.issue.suggested or row.labels or ("",))[0]
        self.caption.setText("…")
        self.image_task.start(render_row_image, row.issue.path, self.run, label, getattr(self, "device", "cpu"),
                              on_success=self._image_ready, on_failure=self._image_failed)

    @Slot(object)
    def _image_ready(self, result: tuple[bytes, str]) -> None:
        data, caption = result
        image = QImage.fromData(data)
        self.image.setPixmap(QPixmap.fromImage(image).scaled(
            OVERLAY_SIDE, SHOWN_HEIGHT, Qt.AspectRatioMode.KeepAspectRatio, Qt.TransformationMode.SmoothTransformation))
        self.caption.setText(caption)

    @Slot(str, str)
    def _image_failed(self, message: str, details: str) -> None:
        self.image.clear()
        self.caption.setText(message)

    @Slot(list)
    def _labels_changed(self, image_ids: list) -> None:
        """Labels changed (here, in the grid, or by undo): rows show the labels the project holds now."""
        if self.state.project is None or not getattr(self, "rows", None):
            return
        changed = set(image_ids)
        labels = self.state.project.labels_of([r.image_id for r in self.rows if r.image_id in changed])
        kept = self.state.project.kept_issues.all()
        for row in self.rows:
            if row.image_id in labels:
                row.labels = labels[row.image_id]
                if row.status in ("accepted", "relabelled") and row.labels == row.issue.given:
                    row.status = ""  # undone
                elif row.status in ("", "kept"):  # a keep holds only for the labels it was given with
                    row.status = "kept" if kept.get((row.image_id, row.issue.kind)) == row.labels else ""
        self.model.column_changed(1)
        self.model.column_changed(2)

    @Slot(list)
    def _kept_changed(self, image_ids: list) -> None:
        """A keep was done, undone or redone: rows show whether the store holds it now."""
        if self.state.project is None or not getattr(self, "rows", None):
            return
        kept = self.state.project.kept_issues.all()
        for row in self.rows:
            if row.image_id in image_ids and row.status in ("", "kept"):
                row.status = "kept" if kept.get((row.image_id, row.issue.kind)) == row.labels else ""
        self.model.column_changed(1)

    @Slot()
    def _images_changed(self) -> None:
        """Images removed or restored (undo): a restored image's row is open again."""
        if self.state.project is None or not getattr(self, "rows", None):
            return
        present = {record.id for record in self.state.project.images_by_id([r.image_id for r in self.rows])}
        for row in self.rows:
            if row.status == "removed" and row.image_id in present:
                row.status = ""
            elif row.image_id not in present:
                row.status = "removed"
        self.model.column_changed(1)

    @Slot(object)
    def _project_changed(self, project: object) -> None:
        self.task.discard()
        self.image_task.discard()
        self._finish()
        self.rows = []
        self.diagnosis = None
        self.model.set_rows([])
        self.image.clear()
        self.caption.clear()
        self.summary.setText("Finds likely label errors, near-duplicates and outliers among the labelled images.")
