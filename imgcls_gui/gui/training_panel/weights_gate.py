"""What Start does first when the run's backbone wants ImageNet weights: look at torchvision's cache in
a worker (torch is never imported on the UI thread) and, when the file is missing, ask for a choice
that works (download now, a cached backbone, a local file, none) before any run folder exists.

The gate only decides and says so with signals; the Training panel starts the run.
"""

from __future__ import annotations

from PySide6.QtCore import QObject, Signal, Slot
from PySide6.QtWidgets import QWidget

from ...engine import ModelConfig
from .. import errors as gui_errors
from ..common.missing_weights import MissingWeightsDialog
from ..common.weights import missing_weights_task
from ..state import AppState
from ..worker import Worker, run_task


class WeightsGate(QObject):
    cached = Signal()  # the weights are there: start now
    chosen = Signal()  # the user chose other weights (written into the run config): check again, then start
    cancelled = Signal()  # the user closed the dialog: nothing starts
    busyChanged = Signal(bool)  # True while the cache is looked at (Start stays disabled)

    def __init__(self, state: AppState, parent: QWidget) -> None:
        super().__init__(parent)
        self.state = state
        self.dialog: MissingWeightsDialog | None = None  # open while the user chooses
        self._check: Worker | None = None
        self._model = ModelConfig()
        self._num_classes = 0

    @property
    def busy(self) -> bool:
        """Looking at the cache or waiting for the user's choice."""
        return self._check is not None or self.dialog is not None

    def check(self, model: ModelConfig, num_classes: int) -> None:
        from ...engine import list_backbones

        self._model, self._num_classes = model, num_classes
        self.busyChanged.emit(True)
        self._check = run_task(missing_weights_task, model.name, [spec.name for spec in list_backbones()],
                               parent=self, on_success=self._checked, on_failure=self._check_failed)

    @Slot(object)
    def _checked(self, result: object) -> None:
        """Cached: start. Missing: the dialog of working choices."""
        self._check = None
        self.busyChanged.emit(False)
        missing, cached = result
        if missing is None:
            self.cached.emit()
            return
        self.dialog = MissingWeightsDialog(self._model, missing, cached, self._num_classes, self.parent())
        self.dialog.accepted.connect(self._dialog_accepted)
        self.dialog.rejected.connect(self._dialog_rejected)
        self.dialog.open()

    @Slot(str, str)
    def _check_failed(self, message: str, details: str) -> None:
        self._check = None
        self.busyChanged.emit(False)
        gui_errors.show_error(self.parent(), message, details)

    @Slot()
    def _dialog_accepted(self) -> None:
        dialog, self.dialog = self.dialog, None
        if dialog is None:
            return
        model = dialog.chosen_model(self.state.run_config.model)
        dialog.deleteLater()
        self.state.set_run_config(self.state.run_config.replace(model=model))  # the Model panel shows it
        if model.weights == "imagenet":
            self.state.notify_weights_cache()  # downloaded now: the backbone table looks again
        self.chosen.emit()

    @Slot()
    def _dialog_rejected(self) -> None:
        dialog, self.dialog = self.dialog, None
        if dialog is not None:
            dialog.deleteLater()
        self.cancelled.emit()
