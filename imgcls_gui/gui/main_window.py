"""The main window: menus, toolbar, a sidebar of panels and a status bar, wired to one AppState.

The window only builds and connects things: project life lives in ``ProjectController``,
imports in ``ImportController``, the device probe in ``DeviceProbe`` and each panel in its
own module (listed in ``panels.PANELS``).
"""

from __future__ import annotations

from pathlib import Path

import qtawesome as qta
from PySide6.QtCore import QByteArray, QSettings, QSize, Qt, QTimer, Slot
from PySide6.QtGui import QAction, QCloseEvent, QIcon, QKeySequence
from PySide6.QtWidgets import (
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QMainWindow,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from ..engine import IMAGE_EXTENSIONS
from ..resources import app_icon_paths
from .common.thumbnails import ThumbnailLoader
from .device import DeviceProbe
from .export_dialog import ExportDialog
from .importing import ImportController
from .panels import PANELS, PanelSpec
from .project_controller import ProjectController
from .project_settings import RunConfigKeeper
from .help_dialog import GuideDialog
from .project_dialogs import elide_middle, show_about
from .settings import recent_projects
from .state import AppState, ImportRequest
from .worker import stop_all_workers


def app_icon() -> QIcon:
    icon = QIcon()
    for path in app_icon_paths():
        icon.addFile(str(path))
    return icon


class MainWindow(QMainWindow):
    def __init__(self, state: AppState | None = None, *, probe_device: bool = True,
                 panels: tuple[PanelSpec, ...] = PANELS) -> None:
        super().__init__()
        self.setObjectName("mainWindow")
        self.setWindowIcon(app_icon())
        self.state = state or AppState(self)
        self.projects = ProjectController(self.state, self)
        self.run_config_keeper = RunConfigKeeper(self.state, self)  # before any panel: it sets the config first
        self.importer = ImportController(self.state, self.projects.ensure_project, self)
        self.device_probe = DeviceProbe(self.state, self)
        self._panel_specs = panels
        self._panels: dict[str, QWidget] = {}
        self.actions: dict[str, QAction] = {}
        self.export_dialog: ExportDialog | None = None
        self.guide_dialog: GuideDialog | None = None
        self._build_actions()
        self._build_menus()
        self._build_toolbar()
        self._build_central()
        self._build_status_bar()
        self._connect_state()
        self._project_changed(self.state.project)
        self._restore_settings()
        if probe_device:
            QTimer.singleShot(0, self.device_probe.start)  # after the first paint: torch loads in a worker

    # -- building -----------------------------------------------------------------------------

    def _action(self, key: str, text: str, icon: str | None, shortcut: QKeySequence | str | None, slot) -> QAction:
        action = QAction(qta.icon(icon) if icon else QIcon(), text, self)
        if shortcut is not None:
            action.setShortcut(QKeySequence(shortcut))
        action.triggered.connect(slot)
        self.actions[key] = action
        return action

    def _build_actions(self) -> None:
        # Explicit key strings rather than QKeySequence.StandardKey: some platforms define no Quit or
        # Help key at all; Qt maps Ctrl to Cmd on macOS by itself.
        p = self.projects
        self._action("new_project", "&New Project…", "mdi6.folder-plus-outline", "Ctrl+N", p.new_project_dialog)
        self._action("open_project", "&Open Project…", "mdi6.folder-open-outline", "Ctrl+O", p.open_project_dialog)
        self._action("open_demo", "Open &Demo Project", "mdi6.school-outline", "Ctrl+Shift+D", p.open_demo_project)
        self._action("export_model", "&Export Model…", "mdi6.export", "Ctrl+E", self.export_model)
        self._action("close_project", "&Close Project", "mdi6.close-box-outline", "Ctrl+W", p.close_project)
        self._action("import_images", "Import &Images…", "mdi6.image-plus", "Ctrl+I", self.import_images_dialog)
        self._action("import_folder", "Import &Folder…", "mdi6.folder-image", "Ctrl+Shift+I", self.import_folder_dialog)
        self._action("import_csv", "Import &CSV…", "mdi6.file-delimited-outline", "Ctrl+Shift+C", self.import_csv_dialog)
        self._action("import_voc", "Import PASCAL &VOC…", "mdi6.xml", "Ctrl+Shift+V", self.import_voc_dialog)
        self._action("quit", "&Quit", "mdi6.exit-to-app", "Ctrl+Q", self.close)
        self._action("guide", "&Guide and Shortcuts", "mdi6.help-circle-outline", "F1", self.show_guide)
        self._action("about", "&About imgcls", "mdi6.information-outline", None, self.show_about)
        undo = self.state.undo_stack.createUndoAction(self, "&Undo")
        undo.setIcon(qta.icon("mdi6.undo"))
        undo.setShortcut(QKeySequence("Ctrl+Z"))
        redo = self.state.undo_stack.createRedoAction(self, "&Redo")
        redo.setIcon(qta.icon("mdi6.redo"))
        redo.setShortcuts([QKeySequence("Ctrl+Shift+Z"), QKeySequence("Ctrl+Y")])
        self.actions["undo"], self.actions["redo"] = undo, redo

    def _build_menus(self) -> None:
        file_menu = self.menuBar().addMenu("&File")
        for key in ("new_project", "open_project"):
            file_menu.addAction(self.actions[key])
        self.recent_menu = file_menu.addMenu(qta.icon("mdi6.history"), "Open &Recent")
        self.recent_menu.aboutToShow.connect(self._fill_recent_menu)
        for key in ("open_demo", "close_project", None, "import_images", "import_folder", "import_csv",
                    "import_voc", None, "export_model", None, "quit"):
            file_menu.addSeparator() if key is None else file_menu.addAction(self.actions[key])
        edit_menu = self.menuBar().addMenu("&Edit")
        edit_menu.addAction(self.actions["undo"])
        edit_menu.addAction(self.actions["redo"])
        self.view_menu = self.menuBar().addMenu("&View")
        help_menu = self.menuBar().addMenu("&Help")
        help_menu.addAction(self.actions["guide"])
        help_menu.addAction(self.actions["about"])

    def _build_toolbar(self) -> None:
        toolbar = self.addToolBar("Main")
        toolbar.setObjectName("mainToolbar")
        toolbar.setIconSize(QSize(20, 20))
        toolbar.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        for key in ("new_project", "open_project", None, "import_folder", "import_images", None, "undo", "redo", None,
                    "export_model"):
            toolbar.addSeparator() if key is None else toolbar.addAction(self.actions[key])

    def _build_central(self) -> None:
        self.sidebar = QListWidget()
        self.sidebar.setObjectName("sidebar")
        self.sidebar.setIconSize(QSize(24, 24))
        self.sidebar.setFixedWidth(150)
        self.sidebar.setSpacing(2)
        self.stack = QStackedWidget()
        for number, spec in enumerate(self._panel_specs, start=1):
            item = QListWidgetItem(qta.icon(spec.icon), spec.title.replace("&&", "&"))
            item.setSizeHint(QSize(140, 40))
            self.sidebar.addItem(item)
            holder = QWidget()
            QVBoxLayout(holder).setContentsMargins(0, 0, 0, 0)
            self.stack.addWidget(holder)
            show = self._action(f"panel_{spec.key}", spec.title, spec.icon, f"Ctrl+{number}", self._show_panel_from_action)
            show.setData(number - 1)
            self.view_menu.addAction(show)
        self.sidebar.currentRowChanged.connect(self._show_panel)
        central = QWidget()
        layout = QHBoxLayout(central)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        layout.addWidget(self.sidebar)
        layout.addWidget(self.stack, 1)
        self.setCentralWidget(central)
        self.sidebar.setCurrentRow(0)

    def _build_status_bar(self) -> None:
        self.project_label = QLabel()
        self.count_label = QLabel()
        self.device_label = QLabel()
        self.device_label.setObjectName("deviceLabel")
        for label in (self.project_label, self.count_label, self.device_label):
            label.setContentsMargins(8, 0, 8, 0)
            self.statusBar().addPermanentWidget(label)
        self._device_changed(self.state.device)

    def _connect_state(self) -> None:
        self.state.projectChanged.connect(self._project_changed)
        self.state.imagesChanged.connect(self._update_counts)
        self.state.selectionChanged.connect(self._update_counts)
        self.state.deviceChanged.connect(self._device_changed)
        self.state.statusMessage.connect(self._show_status)
        self.state.exportRequested.connect(self.show_export_dialog)

    # -- panels -------------------------------------------------------------------------------

    def panel(self, key: str) -> QWidget:
        """The panel with this key, built now if it was never shown."""
        index = next(i for i, spec in enumerate(self._panel_specs) if spec.key == key)
        return self._ensure_panel(index)

    def _ensure_panel(self, index: int) -> QWidget:
        spec = self._panel_specs[index]
        if spec.key not in self._panels:
            panel = spec.create(self.state)
            panel.setObjectName(f"{spec.key}Panel")
            self.stack.widget(index).layout().addWidget(panel)
            self._panels[spec.key] = panel
        return self._panels[spec.key]

    @Slot(int)
    def _show_panel(self, index: int) -> None:
        if index < 0:
            return
        self._ensure_panel(index)
        self.stack.setCurrentIndex(index)

    def show_panel(self, key: str) -> None:
        self.sidebar.setCurrentRow(next(i for i, spec in enumerate(self._panel_specs) if spec.key == key))

    @Slot()
    def _show_panel_from_action(self) -> None:
        self.sidebar.setCurrentRow(int(self.sender().data()))

    # -- imports ------------------------------------------------------------------------------

    @Slot()
    def import_images_dialog(self) -> None:
        patterns = " ".join(f"*{ext}" for ext in sorted(IMAGE_EXTENSIONS))
        files, _ = QFileDialog.getOpenFileNames(self, "Import images", self._dialog_start(), f"Images ({patterns})")
        if files:
            self.state.request_import(ImportRequest(tuple(Path(f) for f in files), "files"))

    @Slot()
    def import_folder_dialog(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Import a folder (one subfolder per class, or train/val/test)",
                                                  self._dialog_start())
        if folder:
            self.state.request_import(ImportRequest((Path(folder),), "auto", preview=True))

    @Slot()
    def import_csv_dialog(self) -> None:
        csv, _ = QFileDialog.getOpenFileName(self, "Import a CSV of image paths and labels", self._dialog_start(),
                                             "CSV files (*.csv *.tsv)")
        if csv:
            self.state.request_import(ImportRequest((Path(csv),), "csv", preview=True))

    @Slot()
    def import_voc_dialog(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Import a PASCAL VOC folder (JPEGImages/, Annotations/)",
                                                  self._dialog_start())
        if folder:
            self.state.request_import(ImportRequest((Path(folder),), "voc", preview=True))

    def _dialog_start(self) -> str:
        return str(self.state.project.folder) if self.state.project else str(Path.home())

    # -- state reactions ----------------------------------------------------------------------

    @Slot(object)
    def _project_changed(self, project) -> None:
        writable = self.state.writable
        for key in ("close_project", "export_model"):
            self.actions[key].setEnabled(project is not None)
        for key in ("import_images", "import_folder", "import_csv", "import_voc"):
            self.actions[key].setEnabled(project is None or writable)
        if project is None:
            self.setWindowTitle("imgcls")
            self.project_label.setText("No project")
        else:
            suffix = " [read-only]" if project.read_only else ""
            self.setWindowTitle(f"{project.name}{suffix} — imgcls")
            self.project_label.setText(f"Project: {elide_middle(project.name, 40)}{suffix}")
            self.project_label.setToolTip(str(project.folder))
        self._update_counts()

    @Slot()
    def _update_counts(self) -> None:
        project = self.state.project
        if project is None or project.closed:
            self.count_label.setText("")
            return
        count = project.image_count()
        selected = len(self.state.selected_ids)
        self.count_label.setText(f"{selected:,} of {count:,} selected" if selected else f"{count:,} image{'s' * (count != 1)}")

    @Slot(str)
    def _device_changed(self, description: str) -> None:
        self.device_label.setText(f"Device: {description or 'not checked'}")

    @Slot(str)
    def _show_status(self, message: str) -> None:
        self.statusBar().showMessage(message, 8000)

    @Slot()
    def _fill_recent_menu(self) -> None:
        self.recent_menu.clear()
        recent = recent_projects()
        for number, folder in enumerate(recent, start=1):
            action = self.recent_menu.addAction(f"&{number}  {elide_middle(str(folder), 70)}")
            action.setData(str(folder))
            action.triggered.connect(self._open_recent)
        if not recent:
            self.recent_menu.addAction("No recent projects").setEnabled(False)

    @Slot()
    def _open_recent(self) -> None:
        self.projects.open_project(Path(self.sender().data()))

    # -- export -------------------------------------------------------------------------------

    @Slot()
    def export_model(self) -> None:
        self.state.request_export(None)

    @Slot(object)
    def show_export_dialog(self, run_dir: object = None) -> ExportDialog | None:
        """The Export dialog on ``run_dir`` (or the newest trained run); one at a time."""
        project = self.state.project
        if project is None or project.closed:
            return None
        dialog = self.export_dialog
        if dialog is not None and dialog.worker is not None:  # an export is running: show it, never drop it
            dialog.show()
            dialog.raise_()
            return dialog
        if dialog is not None:
            dialog.deleteLater()
        self.export_dialog = ExportDialog(project.runs_dir, Path(run_dir) if run_dir else None, self)
        self.export_dialog.open()
        return self.export_dialog

    @Slot()
    def show_about(self) -> None:
        show_about(self)

    @Slot()
    def show_guide(self) -> GuideDialog:
        """Help ▸ Guide (F1): the five steps and the shortcuts, offline; one window, raised if open."""
        if self.guide_dialog is None:
            self.guide_dialog = GuideDialog([*self.actions.values()], self)
        self.guide_dialog.show()
        self.guide_dialog.raise_()
        return self.guide_dialog

    # -- settings and closing -----------------------------------------------------------------

    def _restore_settings(self) -> None:
        settings = QSettings()
        geometry = settings.value("mainWindow/geometry")
        if isinstance(geometry, QByteArray) and not geometry.isEmpty():
            self.restoreGeometry(geometry)
        else:
            self.resize(1280, 800)
        window_state = settings.value("mainWindow/state")
        if isinstance(window_state, QByteArray):
            self.restoreState(window_state)

    def save_settings(self) -> None:
        settings = QSettings()
        settings.setValue("mainWindow/geometry", self.saveGeometry())
        settings.setValue("mainWindow/state", self.saveState())
        for panel in self._panels.values():
            if hasattr(panel, "save_settings"):
                panel.save_settings(settings)
        settings.sync()

    def closeEvent(self, event: QCloseEvent) -> None:
        self.save_settings()
        stop_all_workers()
        self.state.close_project()  # releases the project lock
        stop_all_workers()  # panels react to the close (the model panel rebuilds its layer groups)
        for loader in self.findChildren(ThumbnailLoader):  # no decode may outlive the window's widgets
            loader.shutdown()
        super().closeEvent(event)


