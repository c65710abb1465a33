"""Find the compute device for the status bar without importing torch on the UI thread.

Importing torch takes seconds, so the window shows first; then a worker asks the training child
process (started now, so it is warm by the first Start) for the device name ("NVIDIA H100 (cuda:0)"
or "CPU (8 threads)") and the number of CUDA GPUs (the Training panel offers "All N GPUs" when there
are several). Naming a GPU initialises CUDA: that happens in the child, never in the app.
"""

from __future__ import annotations

from PySide6.QtCore import QObject, Slot

from ..engine import ComputeDevice, acquire_child, release_child
from .state import AppState
from .worker import TaskState, Worker, run_task


def probe_compute_device(state: TaskState) -> ComputeDevice:
    """Worker task: the engine's ``ComputeDevice`` (description, CUDA GPU count), found in the warm child."""
    child = acquire_child()
    try:
        return child.probe_device(interrupted=state.is_interruption_requested)
    finally:
        release_child(child)


class DeviceProbe(QObject):
    """Runs ``probe_compute_device`` once and stores the answer in ``AppState.device`` and ``cuda_devices``."""

    def __init__(self, state: AppState, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.state = state
        self.worker: Worker | None = None

    def start(self) -> None:
        self.state.set_device("detecting…")
        self.worker = run_task(probe_compute_device, parent=self, on_success=self._found, on_failure=self._failed)

    @Slot(object)
    def _found(self, found: object) -> None:
        assert isinstance(found, ComputeDevice)
        self.state.set_device(found.description, found.cuda_devices)

    @Slot(str, str)
    def _failed(self, message: str, details: str) -> None:
        # Training would fail the same way and say so there; the status bar only needs to be honest.
        self.state.set_device("unavailable (PyTorch failed to load)")
        self.state.show_status(message)
