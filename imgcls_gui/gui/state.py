"""The one application-state object panels talk through (panels never import each other).

It owns the open project and the undo stack and announces changes as signals; whoever changes
the project calls the matching ``notify_*`` method so every panel refreshes. Lives on the UI
thread, like the project's SQLite connection.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import QObject, Signal
from PySide6.QtGui import QUndoStack

from ..engine import Project, RunConfig


@dataclass(frozen=True)
class ImportRequest:
    """Paths to add to the project; ``format`` as in ``load_dataset`` ("auto", "csv", "voc", "files"),
    or "demo": the demo digits (no paths), written on first use, with options that train offline.
    The import menus and drops ask for a preview (skipped when only unsorted photos were found); the
    command line imports at once."""

    paths: tuple[Path, ...]
    format: str = "auto"
    images_root: Path | None = None
    preview: bool = False  # show what was found (classes to keep, task, the change) before it lands


class AppState(QObject):
    projectChanged = Signal(object)  # the new Project, or None when closed
    imagesChanged = Signal()  # images added or removed: views reload
    labelsChanged = Signal(list)  # ids of images whose labels changed
    keptChanged = Signal(list)  # ids of images whose Review "keep the label" answer changed
    classesChanged = Signal()  # a class was added, renamed, recoloured or deleted
    splitChanged = Signal()
    selectionChanged = Signal(list)  # ids of the selected images
    deviceChanged = Signal(str)  # "NVIDIA H100 (cuda:0)" or "CPU (8 threads)"
    importRequested = Signal(object)  # an ImportRequest (menu, drop, command line)
    statusMessage = Signal(str)  # a transient line for the status bar
    runConfigChanged = Signal(object)  # the draft RunConfig the Model and Training panels both edit
    runsChanged = Signal()  # a training run was created, finished or stopped: run lists reload
    weightsCacheChanged = Signal()  # ImageNet weights were downloaded: views of the cache look again
    exportRequested = Signal(object)  # a run folder to export, or None for "choose one" (File > Export Model)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.project: Project | None = None
        self.device = ""
        self.cuda_devices = 0  # CUDA GPUs the device probe found (more than one: the Training panel offers all)
        self.selected_ids: list[int] = []
        self.undo_stack = QUndoStack(self)
        self.run_config = RunConfig()

    @property
    def writable(self) -> bool:
        return self.project is not None and not self.project.read_only

    def set_project(self, project: Project | None) -> None:
        """Switch projects: the old one is closed (releasing its lock) and undo history dropped."""
        old, self.project = self.project, project
        self.undo_stack.clear()
        self.selected_ids = []
        if old is not None and old is not project:
            old.close()
        self.projectChanged.emit(project)

    def close_project(self) -> None:
        self.set_project(None)

    def request_import(self, request: ImportRequest) -> None:
        self.importRequested.emit(request)

    def set_selection(self, image_ids: list[int]) -> None:
        self.selected_ids = list(image_ids)
        self.selectionChanged.emit(self.selected_ids)

    def set_device(self, description: str, cuda_devices: int = 0) -> None:
        self.device, self.cuda_devices = description, cuda_devices
        self.deviceChanged.emit(description)

    def notify_images(self) -> None:
        self.imagesChanged.emit()

    def notify_labels(self, image_ids: list[int]) -> None:
        self.labelsChanged.emit(list(image_ids))

    def notify_kept(self, image_ids: list[int]) -> None:
        self.keptChanged.emit(list(image_ids))

    def notify_classes(self) -> None:
        self.classesChanged.emit()

    def notify_split(self) -> None:
        self.splitChanged.emit()

    def set_run_config(self, config: RunConfig) -> None:
        """Replace the draft training config (no signal when nothing changed, so editors cannot loop)."""
        if config != self.run_config:
            self.run_config = config
            self.runConfigChanged.emit(config)

    def notify_runs(self) -> None:
        self.runsChanged.emit()

    def notify_weights_cache(self) -> None:
        self.weightsCacheChanged.emit()

    def request_export(self, run_dir: Path | None = None) -> None:
        """Ask the window to open the Export dialog (on ``run_dir``, or the newest trained run)."""
        self.exportRequested.emit(run_dir)

    def show_status(self, message: str) -> None:
        self.statusMessage.emit(message)
