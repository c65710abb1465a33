"""Worker tasks whose engine work runs in the app's warm child process (an export, an evaluation, a folder
of predictions, a learning-rate sweep, a search), so a native crash there fails the task, never the window.

``in_child`` is called by a worker task: it takes the warm child (``acquire_child``: the one the training
session and the device probe use, or a new one while that one is busy), runs one engine job there through
a typed wrapper (``export_in_child``, ...) and gives the child back. The child's ``JobProgress`` events
become the worker's progress signal, its other events the worker's ``event`` signal; the worker's
interruption (Cancel, a newer request, the window closing) is the job's Stop, and a job stopped so ends
the task as cancelled.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from ...engine import JobControl, JobProcessDied, JobStopped, acquire_child, release_child
from ...engine import events as ev
from ..worker import TaskCancelled, TaskState

T = TypeVar("T")


def in_child(task: TaskState, call: Callable[..., T], *args: Any, on_event: Callable[[object], None] | None = None,
             control: JobControl | None = None, successor_of: str | None = None, **options: Any) -> T:
    """``call(child, *args, on_event=..., control=..., interrupted=..., **options)`` with the warm child; progress
    relayed. ``control`` is the caller's when its Stop is not the task's interruption (a search's Cancel: the
    trial's batch and checkpoint finish first, with the long grace a run's Stop gets). ``successor_of``: the job
    kind a newer request of this task's widget supersedes (the next image's Grad-CAM), whose child it waits for
    briefly rather than starting another process (``acquire_child``)."""
    relay = on_event or task.emit_event

    def event(item: object) -> None:
        if isinstance(item, ev.JobProgress):
            task.set_progress(item.done, item.total)
        else:
            relay(item)

    child = acquire_child(successor_of)
    try:
        return call(child, *args, on_event=event, control=control or JobControl(),
                    interrupted=task.is_interruption_requested, **options)
    except (JobStopped, JobProcessDied):  # stopped, or ended when it did not stop in time
        if task.is_interruption_requested():
            raise TaskCancelled() from None
        raise
    finally:
        release_child(child)
