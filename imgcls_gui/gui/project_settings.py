"""The project remembers the app's choices: the draft ``RunConfig`` (model, freezing, training
options) is written to the project store as it changes and read back when the project opens.

A project that has no saved choices yet (new, or made by an older imgcls) keeps the options on
screen and stores them. A read-only project shows its saved choices and stores nothing.
"""

from __future__ import annotations

from PySide6.QtCore import QObject, Slot

from ..engine import RUN_CONFIG_KEY, ImgclsError, OptionValueError, RunConfig
from .errors import option_message
from .state import AppState


class RunConfigKeeper(QObject):
    """Keeps ``AppState.run_config`` and the open project's saved settings the same."""

    def __init__(self, state: AppState, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.state = state
        self._loading = False
        state.projectChanged.connect(self._project_changed)
        state.runConfigChanged.connect(self._config_changed)

    @Slot(object)
    def _project_changed(self, project: object) -> None:
        if project is None:
            return
        saved = project.get_setting(RUN_CONFIG_KEY)  # type: ignore[attr-defined]
        if saved is None:
            self._save(self.state.run_config)
            return
        try:
            config = RunConfig.from_dict(saved)
        except ImgclsError as exc:  # saved by another imgcls version, or edited by hand
            reason = option_message(exc) if isinstance(exc, OptionValueError) else str(exc)
            self.state.show_status(f"The project's saved training options could not be read ({reason}); "
                                   "the options shown are kept instead.")
            self._save(self.state.run_config)
            return
        self._loading = True
        try:
            self.state.set_run_config(config)
        finally:
            self._loading = False

    @Slot(object)
    def _config_changed(self, config: RunConfig) -> None:
        if not self._loading:
            self._save(config)

    def _save(self, config: RunConfig) -> None:
        project = self.state.project
        if project is None or project.closed or project.read_only:
            return
        try:
            project.set_setting(RUN_CONFIG_KEY, config.to_dict())
        except ImgclsError as exc:  # a full disk: the options stay on screen, the next change tries again
            self.state.show_status(f"The training options could not be saved in the project: {exc}")
