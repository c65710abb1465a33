"""The training child process: runs the app's training jobs one after another, away from its window.

``child_main`` is the target of a process started with the spawn method (``child_process.py`` owns
it). It imports torch once, says "ready", then waits for jobs on its pipe. Everything crosses as
``wire.py`` messages: a job in, the Trainer's events and then its result or error out. A reader
thread takes the parent's pause/resume/stop requests while a job runs and hands them to the Trainer,
which honours them between batches. When the pipe closes (the app quit, or was killed) the child
exits at once, so it never outlives the app.

Test hooks (``IMGCLS_TEST_HOOKS=1`` in the app's environment, set only by the test suite): a job's
``hooks`` may ask the child to send itself a signal at a batch (a native crash or the OOM killer,
for real) or to pause as an epoch ends.
"""

from __future__ import annotations

import importlib
import os
import queue
import signal
import threading
import traceback
from pathlib import Path
from typing import Any

from . import wire
from .. import events as ev

# Imported once, before "ready": a job then meets no first import (seconds of the run otherwise).
CHILD_WARM_MODULES = (
    "torch", "torchvision", "torchvision.models", "torchvision.transforms.v2", "torch.optim", "torch.utils.data",
    "sklearn.metrics", "iterstrat.ml_stratifiers", "imgcls_gui.engine.training.trainer",
    "imgcls_gui.engine.training.setup", "imgcls_gui.engine.training.loop", "imgcls_gui.engine.training.checkpointing",
    "imgcls_gui.engine.training.feature_cache", "imgcls_gui.engine.training.schedule", "imgcls_gui.engine.data.loading",
    "imgcls_gui.engine.data.split", "imgcls_gui.engine.data.transforms", "imgcls_gui.engine.data.datasets",
    "imgcls_gui.engine.models.build", "imgcls_gui.engine.models.freezing", "imgcls_gui.engine.evaluation.evaluate",
    "imgcls_gui.engine.evaluation.metrics", "imgcls_gui.engine.evaluation.results", "imgcls_gui.engine.device",
)
CHILD_NICENESS = 5  # the app's window first, as its worker threads did (see gui/background.py)


class _Sender:
    """Trainer callback in the child: every event goes to the parent as a message."""

    def __init__(self, conn: Any) -> None:
        self._conn = conn

    def on_event(self, event: object) -> None:
        self._conn.send_bytes(wire.encode(wire.event_message(event)))


class _TestHooks:
    """Trainer callback honouring a job's test hooks (only with IMGCLS_TEST_HOOKS=1)."""

    def __init__(self, hooks: dict[str, Any], trainer: Any) -> None:
        self._hooks, self._trainer = hooks, trainer

    def on_event(self, event: object) -> None:
        crash = self._hooks.get("signal_at_batch")  # [signal name, epoch, batch]
        if crash and isinstance(event, ev.BatchEnd) and (event.epoch, event.batch) >= (crash[1], crash[2]):
            os.kill(os.getpid(), getattr(signal, crash[0]))
        pause = self._hooks.get("pause_after_epoch")
        if pause is not None and isinstance(event, ev.EpochEnd) and event.epoch == pause:
            self._trainer.request_pause()


class _Current:
    """The job running now, shared with the reader thread: its Trainer (None until built, and between
    jobs) and the requests that came before the Trainer existed (a Pause clicked at once)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.trainer: Any = None
        self.paused = False
        self.stopped = False

    def new_job(self) -> None:
        with self.lock:
            self.paused = self.stopped = False

    def request(self, kind: str) -> None:
        with self.lock:
            self.paused = kind == "pause" or (self.paused and kind != "resume")
            self.stopped = self.stopped or kind == "stop"
            if self.trainer is not None:
                self._apply()

    def attach(self, trainer: Any) -> None:
        with self.lock:
            self.trainer = trainer
            if trainer is not None:
                self._apply()

    def _apply(self) -> None:
        if self.stopped:
            self.trainer.request_stop()
        elif self.paused:
            self.trainer.request_pause()
        else:
            self.trainer.request_resume()


def _read_requests(conn: Any, jobs: "queue.Queue[dict[str, Any]]", current: _Current) -> None:
    """Reader thread: jobs go to the main thread, requests to the running Trainer; a closed pipe ends the process."""
    while True:
        try:
            message = wire.decode(conn.recv_bytes())
        except (EOFError, OSError):
            os._exit(0)  # the app is gone: never outlive it (a killed app cannot ask)
        kind = message["type"]
        if kind == "job":
            current.new_job()  # before the job is queued: requests read after it belong to it
        if kind in ("job", "quit"):
            jobs.put(message)
        elif kind in ("pause", "resume", "stop"):
            current.request(kind)


def _apply_environment(job: dict[str, Any]) -> None:
    """The app's environment and folder as they are now (a warm child was started earlier)."""
    os.environ.clear()
    os.environ.update(job["env"])
    os.chdir(job["cwd"])


def _run_fit(conn: Any, job: dict[str, Any], current: _Current) -> dict[str, Any]:
    from ..config import RunConfig
    from .trainer import Trainer

    dataset = wire.dataset_from_dict(job["dataset"]) if job.get("dataset") else None
    trainer = Trainer(RunConfig.from_dict(job["config"]), Path(job["run_dir"]), dataset=dataset)
    trainer.callbacks.append(_Sender(conn))
    if job.get("hooks") and os.environ.get("IMGCLS_TEST_HOOKS") == "1":
        trainer.callbacks.append(_TestHooks(job["hooks"], trainer))
    current.attach(trainer)
    try:
        result = trainer.fit(resume=bool(job.get("resume")))
    finally:
        current.attach(None)
    return {"type": "result", "run_dir": str(result.run_dir), "stopped": result.stopped,
            "epochs_run": result.epochs_run, "best_epoch": result.best_epoch, "final": result.final,
            "history": result.history}


def _probe_device() -> dict[str, Any]:
    """The device a run with device auto would use, named here: naming a GPU initialises CUDA, which stays
    out of the app's process."""
    from ..device import describe_device

    return {"type": "result", "device": describe_device("auto")}


def child_main(conn: Any) -> None:
    """The child process: warm up, then run jobs until told to quit or the pipe closes."""
    try:
        os.nice(CHILD_NICENESS)
    except OSError:
        pass  # a sandbox may forbid it: the run then shares the CPU evenly
    jobs: queue.Queue[dict[str, Any]] = queue.Queue()
    current = _Current()
    threading.Thread(target=_read_requests, args=(conn, jobs, current), name="imgcls-child-requests",
                     daemon=True).start()
    for name in CHILD_WARM_MODULES:
        importlib.import_module(name)
    conn.send_bytes(wire.encode({"type": "ready", "pid": os.getpid()}))
    while (job := jobs.get())["type"] == "job":
        try:
            _apply_environment(job)
            reply = _run_fit(conn, job, current) if job["kind"] == "fit" else _probe_device()
        except Exception as exc:  # noqa: BLE001 - every failure goes back to the app, which words it
            reply = wire.error_message(exc, traceback.format_exc())
        conn.send_bytes(wire.encode(reply))
