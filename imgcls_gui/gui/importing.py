"""Importing into the open project: menus, drops and the command line all end in ``ImportController``.

Reading a dataset (walking folders, parsing a CSV or VOC XML, or writing the demo digits) runs in
a worker through the engine's importers; writing the result into the project happens on the UI
thread, which owns the SQLite connection, as one transaction.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable, Sequence
from pathlib import Path

from PySide6.QtCore import QObject, Signal, Slot
from PySide6.QtWidgets import QFileDialog, QMessageBox, QWidget

from ..engine import DatasetError, LabeledDataset, Problem, RunConfig, Sample
from .background import import_torch
from .errors import show_error
from .import_preview import TASK_SHORT, ImportPreview, ImportPreviewDialog, ProjectSnapshot, build_import_preview, keep_classes
from .state import AppState, ImportRequest
from .worker import TaskState, Worker, run_task

DATASET_FILE_SUFFIXES = (".csv", ".tsv")


def read_import_request(state: TaskState, request: ImportRequest, task: str) -> list[LabeledDataset]:
    """Turn dropped or chosen paths into datasets: folders and CSVs through the engine's importers,
    loose image files (and folders of unsorted images) as unlabeled samples."""
    from ..engine import is_image_path, load_dataset

    datasets: list[LabeledDataset] = []
    loose: list[Path] = []
    problems: list[Problem] = []
    for done, path in enumerate(request.paths):
        state.raise_if_interrupted()
        state.set_progress(done, len(request.paths))
        if path.is_dir() and request.format in ("auto", "files"):
            try:
                dataset = load_dataset(path, format="auto")
                datasets.append(dataset)
                if dataset.format == "folder":  # photos beside the class folders, not yet sorted into one
                    loose.extend(_images_below(path, is_image_path, recursive=False))
            except DatasetError:
                images = _images_below(path, is_image_path)
                if not images:
                    raise
                loose.extend(images)  # a folder of unsorted photos: import them unlabeled
        elif path.is_dir() or path.suffix.lower() in DATASET_FILE_SUFFIXES:
            fmt = "auto" if request.format == "files" else request.format
            datasets.append(load_dataset(path, format=fmt, images_root=request.images_root))
        elif path.is_file() and is_image_path(path):
            loose.append(path)
        else:
            problems.append(Problem(str(path), "not an image, a folder or a CSV file; skipped", kind="not-image"))
    state.set_progress(len(request.paths), len(request.paths))
    if loose or problems:
        root = Path(os.path.commonpath([str(p.parent) for p in loose])) if loose else Path.cwd()
        samples = [Sample(p) for p in dict.fromkeys(loose)]
        datasets.append(LabeledDataset(root, "files", samples, [], task, problems))  # type: ignore[arg-type]
    return datasets


def scan_import_request(state: TaskState, request: ImportRequest, task: str,
                        project: ProjectSnapshot) -> tuple[list[LabeledDataset], ImportPreview]:
    """Read the request and sum it up against the project, for the preview dialog."""
    datasets = read_import_request(state, request, task)
    return datasets, build_import_preview(datasets, _describe(request), project)


def read_demo_request(state: TaskState, request: ImportRequest, task: str) -> tuple[list[LabeledDataset], RunConfig]:
    """The demo digits (written on first use) and the options the demo starts with: ones that train
    without downloading weights (checking torchvision's cache imports torch, hence here)."""
    import_torch()  # scikit-learn (the digits) and torch first imported one thread at a time: see background.py
    from ..engine import demo_dataset_dir, demo_run_config, load_dataset

    folder = demo_dataset_dir(progress=state.set_progress)  # shared with the CLI quick start
    return [load_dataset(folder, format="folder")], demo_run_config()


def _images_below(folder: Path, is_image: Callable[[str], bool], recursive: bool = True) -> list[Path]:
    found: list[Path] = []
    for dirpath, dirnames, filenames in os.walk(folder):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith(".")) if recursive else []
        found += [Path(dirpath) / n for n in sorted(filenames) if is_image(n) and not n.startswith(".")]
    return found


class ImportController(QObject):
    """Runs one import at a time for ``state.importRequested`` and reports what happened."""

    previewShown = Signal(object)  # the ImportPreviewDialog, open and waiting for the user

    def __init__(self, state: AppState, ensure_project: Callable[[], bool], parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.state = state
        self._ensure_project = ensure_project
        self._worker: Worker | None = None
        self._target = None
        self._request: ImportRequest | None = None
        self._scanned: list[LabeledDataset] = []
        self.preview_dialog: ImportPreviewDialog | None = None
        self.ask_images_root: Callable[[str], Path | None] = ask_images_root  # tests replace it
        self.last_problems: list[Problem] = []
        state.importRequested.connect(self.start)

    @property
    def busy(self) -> bool:
        return self._worker is not None or self.preview_dialog is not None

    @Slot(object)
    def start(self, request: ImportRequest) -> None:
        if self.busy:
            self.state.show_status("An import is already running; wait for it to finish.")
            return
        if not self._ensure_project() or self.state.project is None:
            return
        if not self.state.writable:
            show_error(None, f"{self.state.project.folder}: opened read-only, so nothing can be imported here.")
            return
        self.state.show_status(f"Reading {_describe(request)}…")
        self._target = self.state.project  # the project the user imported into, whatever opens meanwhile
        self._request = request
        demo = request.format == "demo"
        if request.preview and not demo:
            project = self.state.project
            snapshot = ProjectSnapshot(project.name, project.task, project.image_count(),
                                       frozenset(project.class_names()), project.absolute_image_paths())
            self._worker = run_task(scan_import_request, request, project.task, snapshot, parent=self,
                                    on_success=self._show_preview, on_failure=self._failed, on_progress=self._progress)
            return
        self._worker = run_task(
            read_demo_request if demo else read_import_request, request, self.state.project.task, parent=self,
            on_success=self._write_demo if demo else self._write, on_failure=self._failed, on_progress=self._progress,
        )

    @Slot(int, int)
    def _progress(self, done: int, total: int) -> None:
        what = "demo classes written" if self._request is not None and self._request.format == "demo" else "paths read"
        self.state.show_status(f"Importing: {done} of {total} {what}…")

    @Slot(object)
    def _show_preview(self, result: tuple[list[LabeledDataset], ImportPreview]) -> None:
        self._worker = None
        if self.state.project is None or self.state.project is not self._target:
            self.state.show_status("Import dropped: the project was closed while its files were being read.")
            return
        datasets, preview = result
        if not preview.class_counts and not preview.changes_task:  # only unsorted photos: nothing to choose
            self._write(datasets)
            return
        self._scanned = datasets
        dialog = ImportPreviewDialog(preview, self.parent() if isinstance(self.parent(), QWidget) else None)
        dialog.accepted.connect(self._preview_accepted)
        dialog.rejected.connect(self._preview_rejected)
        self.preview_dialog = dialog
        self.state.show_status(f"Found {len(preview.class_counts)} classes: choose what to import.")
        dialog.open()
        self.previewShown.emit(dialog)

    @Slot()
    def _preview_accepted(self) -> None:
        dialog, self.preview_dialog = self.preview_dialog, None
        datasets, self._scanned = self._scanned, []
        if dialog is not None:
            dialog.deleteLater()
            self._write(keep_classes(datasets, dialog.kept_classes()))

    @Slot()
    def _preview_rejected(self) -> None:
        dialog, self.preview_dialog = self.preview_dialog, None
        self._scanned = []
        if dialog is not None:
            dialog.deleteLater()
        self.state.show_status("Import cancelled; the project is unchanged.")

    @Slot(object)
    def _write_demo(self, result: tuple[Sequence[LabeledDataset], RunConfig]) -> None:
        datasets, config = result
        if self._write(datasets):
            self.state.set_run_config(config)  # the project keeps it (project_settings)

    @Slot(object)
    def _write(self, datasets: Sequence[LabeledDataset]) -> bool:
        """Add the read datasets to the project they were read for; False when it was closed meanwhile."""
        self._worker = None
        project = self.state.project
        if project is None or project is not self._target:
            self.state.show_status("Import dropped: the project was closed while its files were being read.")
            return False
        added = skipped = 0
        task_before = project.task
        self.last_problems = [p for ds in datasets for p in ds.problems]
        try:
            for dataset in datasets:
                summary = project.import_dataset(dataset)
                added, skipped = added + summary.added, skipped + summary.skipped
        finally:  # what was imported before a failure is committed and must show
            self.state.notify_classes()
            self.state.notify_images()
        message = f"Imported {added} image{'s' * (added != 1)}"
        if skipped:
            message += f" ({skipped} already in the project)"
        if project.task != task_before:  # never silent: an empty project takes the task of its first data
            message += f"; the project is now {TASK_SHORT[project.task]}"
        if self.last_problems:
            message += f"; {len(self.last_problems)} file(s) or row(s) skipped"
            details = "\n".join(f"{p.path}: {p.reason}" for p in self.last_problems[:500])
            show_error(None, f"{message}. The details list what was skipped and why.", details, title="Import")
        self.state.show_status(message + ".")
        return True

    @Slot(str, str)
    def _failed(self, message: str, details: str) -> None:
        self._worker = None
        request = self._request
        if request is not None and request.format == "csv" and request.images_root is None:
            # Most failed CSV imports are paths relative to another folder than the CSV's: ask for it.
            root = self.ask_images_root(message)
            if root is not None:
                self.start(dataclasses.replace(request, images_root=root))
                return
        self.state.show_status("Import failed.")
        show_error(None, message, details, title="Import")


def ask_images_root(message: str) -> Path | None:
    answer = QMessageBox.question(
        None, "Import CSV", f"{message}\n\nChoose the folder the CSV's image paths are relative to?",
        QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No, QMessageBox.StandardButton.Yes)
    if answer != QMessageBox.StandardButton.Yes:
        return None
    folder = QFileDialog.getExistingDirectory(None, "Folder of the CSV's images")
    return Path(folder) if folder else None


def _describe(request: ImportRequest) -> str:
    if request.format == "demo":
        return "the demo digits"
    paths = request.paths
    return paths[0].name if len(paths) == 1 else f"{len(paths)} items"
