"""What ties the Search tab to the rest of the Training panel and to the project.

A search starts from the Training form's options (``AppState.run_config``) on the project's images,
never while a run trains (both would share the device), and writes to ``<project>/searches/<time>/``.
"Train the best settings fully" writes the best trial's options into the form (keeping the form's
epochs and data) and starts a normal run. "Continue this search" resumes the project's newest search
(found again when the project is reopened) on the project's images. The Search tab's form is kept in
the project settings, so it comes back when the project is reopened.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, Slot

from ...engine import SEARCH_FILE, ImgclsError, RunConfig, new_run_dir

if TYPE_CHECKING:
    from .panel import TrainingPanel

SEARCH_SETTINGS_KEY = "search"  # the Search tab's form, in the project settings
SEARCHES_FOLDER = "searches"


class SearchLink(QObject):
    def __init__(self, panel: "TrainingPanel") -> None:
        super().__init__(panel)
        self.panel = panel
        self.view = panel.search
        self._loading = False
        self.view.startRequested.connect(self.start)
        self.view.continueRequested.connect(self.resume)
        self.view.trainBestRequested.connect(self.train_best)
        self.view.changed.connect(self.save)
        self.view.finished.connect(self._finished)
        panel.state.projectChanged.connect(self._project_changed)

    def _dataset(self):
        """The project's images for a search, or None (and why) when a run is going or there is nothing to train."""
        from .. import errors as gui_errors

        panel = self.panel
        if panel.session.running or self.view.running:
            gui_errors.show_error(panel, "A training run is going: stop it (or let it finish) before searching.")
            return None
        return panel._training_dataset()

    @Slot()
    def start(self) -> bool:
        """Start a search on the project's images from the form's options; False (and why) when it cannot."""
        from .. import errors as gui_errors
        from .panel import project_run_config

        panel = self.panel
        dataset = self._dataset()
        if dataset is None:
            return False
        project = panel.state.project
        base = project_run_config(panel.state.run_config, project.folder)
        try:
            folder = new_run_dir(project.folder / SEARCHES_FOLDER, base.model.name)
        except ImgclsError as exc:
            gui_errors.show_error(panel, *gui_errors.describe_exception(exc))
            return False
        if not self.view.start(base, dataset, folder):
            return False
        panel.controls.start_button.setEnabled(False)  # one thing at a time on the device
        return True

    @Slot()
    def resume(self) -> bool:
        """Continue the newest search on the project's images; False (and why) when it cannot."""
        folder = self.view.resumable
        dataset = self._dataset() if folder is not None else None
        if dataset is None:
            return False
        self.view.resume(dataset, folder)
        self.panel.controls.start_button.setEnabled(False)
        return True

    @Slot(object)
    def train_best(self, best: object) -> None:
        """The best trial's options into the form (the form's data and epochs kept), then a normal run."""
        assert isinstance(best, RunConfig)
        panel = self.panel
        draft = panel.state.run_config
        config = best.replace(data=draft.data, train=dataclasses.replace(best.train, epochs=draft.train.epochs))
        panel.state.set_run_config(config)
        panel.state.show_status("The best trial's options are in the form; training them fully.")
        panel.start()

    @Slot(object)
    def _finished(self, result: object) -> None:
        self.panel.controls.start_button.setEnabled(not self.panel.session.running)

    @Slot()
    def save(self) -> None:
        project = self.panel.state.project
        if self._loading or project is None or project.closed or project.read_only:
            return
        try:
            project.set_setting(SEARCH_SETTINGS_KEY, self.view.form.state())
        except ImgclsError as exc:  # a full disk: the form stays as it is, the next edit tries again
            self.panel.state.show_status(f"The search settings could not be saved in the project: {exc}")

    @Slot(object)
    def _project_changed(self, project: object) -> None:
        if self.view.running:
            self.view.cancel()  # its trials stay in the old project's searches/ folder
        self.view.clear()
        self.view.set_resumable(None if project is None else newest_search(project.folder / SEARCHES_FOLDER))
        if project is None:
            return
        self._loading = True
        try:
            self.view.form.set_state(project.get_setting(SEARCH_SETTINGS_KEY))  # type: ignore[attr-defined]
        finally:
            self._loading = False


def newest_search(folder: Path) -> Path | None:
    """The newest search folder (names start with their time) under ``folder``, or None."""
    searches = sorted(p for p in folder.glob("*") if (p / SEARCH_FILE).is_file()) if folder.is_dir() else []
    return searches[-1] if searches else None
