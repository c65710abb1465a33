"""The child process: runs the app's long jobs (training, a learning-rate sweep, a search, export,
evaluation, prediction, the Inference panel's model, watched folder and live frames, feature extraction,
Grad-CAM) one after another, away from its window.

``child_main`` is the target of a process started with the spawn method (``child_process.py`` owns
it). It imports torch once, says "ready", then waits for jobs on its pipe. Everything crosses as
``wire.py`` messages: a job in (its kind and payload), its events and then its result or error out.
``JOB_HANDLERS`` names the function that runs each kind; a handler gets a ``JobContext`` (the
payload, ``emit`` for events, the app's stop request) and returns its result as plain values. A
reader thread takes the parent's pause/resume/stop requests while a job runs and hands them to the
Trainer (which honours them between batches) or to the job's context. When the pipe closes (the
app quit, or was killed) the child exits at once, so it never outlives the app.

Test hooks (``IMGCLS_TEST_HOOKS=1`` in the app's environment, set only by the test suite and the smoke
test): a fit job's ``hooks`` may ask the child to send itself a signal at a batch (a native crash or the
OOM killer, for real), to pause as an epoch ends, to write last.pt slowly (so a Stop or a kill can land
in the middle of the write), or to say how many of its own child processes (DataLoader workers) are
alive at a batch (``CHILD_PROCESSES_HOOK``: a ``CHILD_PROCESSES_LOG`` log line each time the count
grows); any other job kind dies the same way when the app's environment holds
``IMGCLS_TEST_JOB_SIGNAL=kind:SIGNAL:n`` (after sending its n-th event), and waits there for the app's
Stop (at most ``HOLD_LIMIT_S``) with ``IMGCLS_TEST_JOB_HOLD=kind:n``, so a Cancel lands mid-job however
fast the job would have ended; a learning-rate sweep's
``hooks`` may slow its steps (``lr_step_delay_s``, ``jobs.py``) so a Stop lands mid-sweep.
"""

from __future__ import annotations

import importlib
import multiprocessing
import os
import queue
import signal
import threading
import time
import traceback
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from . import wire
from .. import checkpoint as checkpoint_module
from .. import events as ev
from ..errors import JobStopped

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
CHILD_PROCESSES_HOOK = "report_child_processes"
CHILD_PROCESSES_LOG = "test hook: child processes alive at a batch: "
HOLD_LIMIT_S = 60.0  # IMGCLS_TEST_JOB_HOLD: a test that never stops the job still ends


class _TestHooks:
    """Trainer callback honouring a job's test hooks (only with IMGCLS_TEST_HOOKS=1)."""

    def __init__(self, hooks: dict[str, Any], trainer: Any) -> None:
        self._hooks, self._trainer = hooks, trainer
        self._most_children = 0

    def on_event(self, event: object) -> None:
        if self._hooks.get(CHILD_PROCESSES_HOOK) and isinstance(event, ev.BatchEnd):
            alive = len(multiprocessing.active_children())  # the data loader's worker processes
            if alive > self._most_children:
                self._most_children = alive
                self._trainer.emit(ev.LogLine(f"{CHILD_PROCESSES_LOG}{alive}", "debug"))
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


class JobContext:
    """What a job handler sees in the child: its payload, its way to the app, and the app's stop request."""

    def __init__(self, conn: Any, job: dict[str, Any], current: _Current) -> None:
        self.kind: str = job["kind"]
        self.payload: dict[str, Any] = job["payload"]
        testing = os.environ.get("IMGCLS_TEST_HOOKS") == "1"
        self.hooks: dict[str, Any] = (job.get("hooks") or {}) if testing else {}
        self._conn, self._current, self._sent = conn, current, 0
        signal_spec = os.environ.get("IMGCLS_TEST_JOB_SIGNAL", "").split(":") if testing else []
        self._signal_at = ((signal_spec[1], int(signal_spec[2]))
                           if len(signal_spec) == 3 and signal_spec[0] == self.kind else None)
        hold_spec = os.environ.get("IMGCLS_TEST_JOB_HOLD", "").split(":") if testing else []
        self._hold_at = int(hold_spec[1]) if len(hold_spec) == 2 and hold_spec[0] == self.kind else None

    def emit(self, event: object) -> None:
        """Send an engine event (``events.py``) to the app."""
        self._conn.send_bytes(wire.encode(wire.event_message(event)))
        self._sent += 1
        if self._signal_at is not None and self._sent >= self._signal_at[1]:
            os.kill(os.getpid(), getattr(signal, self._signal_at[0]))
        if self._sent == self._hold_at:
            deadline = time.monotonic() + HOLD_LIMIT_S
            while not self._current.stopped and time.monotonic() < deadline:
                time.sleep(0.02)

    on_event = emit  # a Trainer callback too

    def progress(self, done: int, total: int, what: str = "") -> None:
        """Progress, and the app's stop request honoured here (raises ``JobStopped``)."""
        self.emit(ev.JobProgress(done, total, what))
        self.raise_if_stopped()

    def items(self, values: Iterable[object]) -> None:
        """Results as they come (dataclasses, sent as their fields)."""
        self.emit(ev.JobItems(tuple(wire.to_plain(value) for value in values)))

    @property
    def stopped(self) -> bool:
        return self._current.stopped

    def raise_if_stopped(self) -> None:
        if self._current.stopped:
            raise JobStopped(f"The {self.kind} job was stopped before it finished.")

    def attach(self, stoppable: Any) -> None:
        """Hand the app's pause/resume/stop requests to ``stoppable`` (a Trainer) while it runs; None detaches."""
        self._current.attach(stoppable)


def fit_job(job: JobContext) -> dict[str, Any]:
    """Train a run (payload: its config, run folder, dataset, resume) and return its ``FitResult``'s fields;
    on device ``cuda:all`` with more than one GPU, data-parallel in one process per GPU (``launch_job.py``)."""
    from ..config import RunConfig
    from ..device import ALL_GPUS, cuda_device_count
    from .trainer import Trainer

    payload = job.payload
    if payload["config"]["train"].get("device") == ALL_GPUS and (gpus := cuda_device_count()) > 1:
        from .launch_job import distributed_fit_job

        return distributed_fit_job(job, gpus)
    dataset = wire.dataset_from_dict(payload["dataset"]) if payload.get("dataset") else None
    trainer = Trainer(RunConfig.from_dict(payload["config"]), Path(payload["run_dir"]), dataset=dataset)
    trainer.callbacks.append(job)  # every event goes to the app (JobContext.on_event)
    if job.hooks:
        trainer.callbacks.append(_TestHooks(job.hooks, trainer))
        if job.hooks.get("slow_checkpoint_write"):
            _slow_checkpoint_writes(job.hooks["slow_checkpoint_write"])
    job.attach(trainer)
    try:
        result = trainer.fit(resume=bool(payload.get("resume")))
    finally:
        job.attach(None)
        _restore_checkpoint_writes()  # the warm child's next job writes normally
    return wire.to_plain(result)


_REAL_ATOMIC_WRITE = checkpoint_module.atomic_write_bytes


def _slow_checkpoint_writes(hook: list[Any]) -> None:
    """Test hook ``slow_checkpoint_write`` = [n, seconds, marker]: the n-th write of last.pt (from 1) writes half
    of its temp file, creates ``marker``, waits ``seconds``, then finishes through the real atomic write."""
    real, writes = _REAL_ATOMIC_WRITE, [0]

    def slow(path: str | Path, data: bytes) -> None:
        if Path(path).name == "last.pt":
            writes[0] += 1
            if writes[0] == hook[0]:
                partial = Path(path).with_name(f".{Path(path).name}.slow-hook.tmp")
                partial.write_bytes(data[: len(data) // 2])
                Path(hook[2]).touch()
                time.sleep(hook[1])
                partial.unlink()
        real(path, data)

    checkpoint_module.atomic_write_bytes = slow


def _restore_checkpoint_writes() -> None:
    checkpoint_module.atomic_write_bytes = _REAL_ATOMIC_WRITE


def probe_job(job: JobContext) -> dict[str, Any]:
    """The device a run with device auto would use and the CUDA GPU count (``ComputeDevice``'s fields), found
    here: naming a GPU initialises CUDA, which stays out of the app's process."""
    from ..device import probe_compute_device

    return wire.to_plain(probe_compute_device())  # type: ignore[no-any-return]


# kind -> "module:function" run in the child, imported on the kind's first job. Named, not imported: the
# jobs of a stage above training (an export) live in that stage, which this module may not import.
JOB_HANDLERS: dict[str, str] = {
    "fit": f"{__name__}:fit_job",
    "probe": f"{__name__}:probe_job",
    "self_check": "imgcls_gui.engine.training.self_check:self_check_job",
    "lr_find": "imgcls_gui.engine.training.jobs:lr_find_job",
    "search": "imgcls_gui.engine.training.jobs:search_job",
    "export": "imgcls_gui.engine.deploy.jobs:export_job",
    "results": "imgcls_gui.engine.deploy.jobs:results_job",
    "predict": "imgcls_gui.engine.deploy.jobs:predict_job",
    "describe": "imgcls_gui.engine.deploy.inference_jobs:describe_job",
    "watch": "imgcls_gui.engine.deploy.inference_jobs:watch_job",
    "frame": "imgcls_gui.engine.deploy.inference_jobs:frame_job",
    "explain": "imgcls_gui.engine.deploy.explain_jobs:explain_job",
    "diagnose": "imgcls_gui.engine.diagnosis.jobs:diagnose_job",
    "map": "imgcls_gui.engine.diagnosis.jobs:map_job",
}


def _handler(kind: str) -> Callable[[JobContext], Any]:
    if kind not in JOB_HANDLERS:
        raise ValueError(f"no job of kind {kind!r} in the child process (known: {', '.join(JOB_HANDLERS)})")
    module, _, name = JOB_HANDLERS[kind].partition(":")
    return getattr(importlib.import_module(module), name)  # type: ignore[no-any-return]


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
            reply = {"type": "result", "value": _handler(job["kind"])(JobContext(conn, job, current))}
        except Exception as exc:  # noqa: BLE001 - every failure goes back to the app, which words it
            reply = wire.error_message(exc, traceback.format_exc())
        conn.send_bytes(wire.encode(reply))
