"""New, open, recent, demo and close: the life of a project in the window (there is no Save: every
change, the chosen options included, is stored in the project the moment it is made).

Opening a project someone else holds asks whether to open it read-only; a project whose images
moved opens anyway and lists them. Dialog functions are attributes so tests can answer them.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QObject, QTimer, Slot
from PySide6.QtWidgets import QDialog, QFileDialog, QWidget

from ..engine import PROJECT_FILE, ImgclsError, Project, ProjectLockedError
from .common.undo import RemoveImagesCommand, push
from .errors import describe_exception, show_error
from .project_dialogs import MissingImagesDialog, NewProjectDialog, ask_open_read_only
from .settings import forget_project, remember_project, user_data_dir
from .state import AppState, ImportRequest

DEMO_PROJECT = "demo-project"
DEMO_NAME = "Demo: handwritten digits"


class ProjectController(QObject):
    def __init__(self, state: AppState, window: QWidget) -> None:
        super().__init__(window)
        self.state = state
        self.window = window
        self.ask_read_only = ask_open_read_only  # (parent, message) -> bool; tests replace it
        self.missing_dialog: MissingImagesDialog | None = None

    # -- creating and opening -----------------------------------------------------------------

    @Slot()
    def new_project_dialog(self) -> bool:
        dialog = NewProjectDialog(self.window)
        if dialog.exec() != QDialog.DialogCode.Accepted:
            return False
        return self.create_project(dialog.folder, dialog.project_name, dialog.task)

    def create_project(self, folder: Path, name: str | None = None, task: str = "multiclass") -> bool:
        try:
            project = Project.create(folder, name=name, task=task)  # type: ignore[arg-type]
        except ImgclsError as exc:
            show_error(self.window, *describe_exception(exc))
            return False
        self._activate(project)
        return True

    @Slot()
    def open_project_dialog(self) -> bool:
        start = str(self.state.project.folder.parent) if self.state.project else str(Path.home())
        folder = QFileDialog.getExistingDirectory(self.window, "Open project folder", start)
        return bool(folder) and self.open_project(Path(folder))

    def open_project(self, folder: str | Path) -> bool:
        """Open for writing; if another window holds it, offer read-only. False when nothing opened."""
        folder = Path(folder)
        if self.state.project is not None and self.state.project.folder == folder.resolve():
            return True
        try:
            try:
                project = Project.open(folder)
            except ProjectLockedError as exc:
                if not self.ask_read_only(self.window, str(exc)):
                    return False
                project = Project.open(folder, read_only=True)
        except ImgclsError as exc:
            if not (folder / "project.sqlite").exists():
                forget_project(folder)
            show_error(self.window, *describe_exception(exc))
            return False
        self._activate(project)
        return True

    @Slot()
    def open_demo_project(self) -> bool:
        """The README's quick start: a project of digits images under the per-user data folder. The
        import worker writes and imports the images (and sets options that train offline) the first
        time, or again if that first import never finished."""
        folder = user_data_dir() / DEMO_PROJECT
        if (folder / PROJECT_FILE).exists():
            opened = self.open_project(folder)
        else:
            opened = self.create_project(folder, name=DEMO_NAME, task="multiclass")
        project = self.state.project
        if opened and project is not None and self.state.writable and project.image_count() == 0:
            self.state.request_import(ImportRequest((), "demo"))
        return opened

    def ensure_project(self) -> bool:
        """Before an import: the open project, or a new one the user creates now."""
        return self.state.project is not None or self.new_project_dialog()

    # -- while open ---------------------------------------------------------------------------

    @Slot()
    def close_project(self) -> None:
        self.state.close_project()

    @Slot(list)
    def remove_missing(self, image_ids: list[int]) -> None:
        if self.state.writable:
            push(self.state, RemoveImagesCommand(self.state, image_ids))

    def _activate(self, project: Project) -> None:
        self.state.set_project(project)
        remember_project(project.folder)
        self.state.show_status(f"Opened {project.name}" + (" read-only" if project.read_only else "") + ".")
        QTimer.singleShot(0, self._list_missing)  # after the window has painted the project

    @Slot()
    def _list_missing(self) -> None:
        project = self.state.project
        if project is None:
            return
        missing = project.missing_images()
        if not missing:
            return
        self.missing_dialog = MissingImagesDialog(missing, self.window)
        self.missing_dialog.removeRequested.connect(self.remove_missing)
        self.missing_dialog.open()
