"""The app's side of the child process: start it, run a job in it, stop or end it.

A ``TrainingChild`` is one process started with the spawn method (never fork: the app has Qt and
torch threads) running ``child.child_main``. ``run_job`` sends it a job of any kind the child
knows (``child.JOB_HANDLERS``: fit, probe, export, ...) and relays what comes back until the
result: events to ``on_event``, an engine error raised as itself, and a process that dies (a
segfault in an op, the OOM killer's SIGKILL, a CUDA abort) as ``JobProcessDied`` naming the signal
and the last log lines (``TrainingProcessDied`` for a run); the caller's process is never touched
by any of these. ``run_fit`` and ``describe_device`` are typed wrappers of ``run_job``.

Stop escalates with bounded waits: the request (the Trainer stops after its batch), then SIGTERM,
then SIGKILL; the process is always reaped (no zombie). One idle child is kept warm for the whole
process (``warm_child``, ``acquire_child``, ``release_child``), so torch is imported once, while
the user reads the options, not at every Start; ``shutdown_children`` (also run at exit) ends it.
A job that supersedes a running one of its kind (the next image's Grad-CAM while the last one stops)
waits a few seconds for that child rather than starting a second process.
"""

from __future__ import annotations

import atexit
import multiprocessing
import os
import signal
import threading
import time
from collections import deque
from collections.abc import Callable
from pathlib import Path
from typing import Any

from . import wire
from .. import events as ev
from ..config import RunConfig
from ..data.samples import LabeledDataset
from ..errors import JobProcessDied, TrainingProcessDied

STOP_GRACE_S = 60.0  # a user's Stop: the current batch and a checkpoint write finish first
QUIT_GRACE_S = 3.0  # the app closing: its worker threads get 10 s in all (then SIGTERM, SIGKILL)
END_WAIT_S = 2.0  # after SIGTERM, then after SIGKILL
# A job superseded by a newer one of its kind (the next image's Grad-CAM) stops within QUIT_GRACE_S or its process
# is ended: waiting that long for its child beats spawning another (torch imports for seconds).
SUPERSEDED_WAIT_S = QUIT_GRACE_S + END_WAIT_S
POLL_S = 0.05
HELD_UNTIL_STOPPED = frozenset({"watch"})  # job kinds that keep their child until the user's Stop
LOG_TAIL = 6
RUN_RESUMABLE = "last.pt keeps the last finished epoch, so the run can be resumed from the Runs list."
_SIGNAL_CAUSES = {
    "SIGSEGV": "a crash in native code (torch, a library or a driver)",
    "SIGBUS": "a crash in native code (torch, a library or a driver)",
    "SIGKILL": "killed from outside, most often by the system when memory ran out",
    "SIGABRT": "aborted, e.g. by a CUDA error or a failed check inside torch",
    "SIGTERM": "ended from outside",
}


def exit_cause(exitcode: int | None) -> str:
    """What a child's exit code says, in words: 'signal SIGSEGV (a crash in native code ...)'."""
    if exitcode is None:
        return "it stopped answering"
    if exitcode < 0:
        try:
            name = signal.Signals(-exitcode).name
        except ValueError:
            return f"signal {-exitcode}"
        return f"signal {name} ({_SIGNAL_CAUSES.get(name, signal.strsignal(-exitcode) or 'a signal')})"
    return f"exit code {exitcode}"


class JobControl:
    """Pause, resume and stop asked from any thread (the app's buttons); ``run_fit`` passes them on."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.paused = False
        self.stop_deadline: float | None = None  # monotonic time after which the process is ended

    def request_pause(self) -> None:
        self.paused = True

    def request_resume(self) -> None:
        self.paused = False

    def request_stop(self, grace_s: float = STOP_GRACE_S) -> None:
        with self._lock:
            deadline = time.monotonic() + grace_s
            self.stop_deadline = deadline if self.stop_deadline is None else min(self.stop_deadline, deadline)

    @property
    def stopping(self) -> bool:
        return self.stop_deadline is not None


class TrainingChild:
    """One spawned child process running training jobs, one at a time."""

    def __init__(self) -> None:
        from .child import child_main

        context = multiprocessing.get_context("spawn")
        self.conn, child_end = context.Pipe(duplex=True)
        # Not a daemon: a daemonic process may not start the data loader's worker processes.
        self.process = context.Process(target=child_main, args=(child_end,), name="imgcls-training")
        self.process.start()
        child_end.close()  # only the child holds its end, so the child sees the pipe close when the app goes
        self.broken = False
        self.kind: str | None = None  # the kind of the job it runs (or ran) since it was acquired

    @property
    def alive(self) -> bool:
        return not self.broken and self.process.is_alive()

    @property
    def pid(self) -> int | None:
        return self.process.pid

    def _send(self, message: dict[str, Any]) -> None:
        try:
            self.conn.send_bytes(wire.encode(message))
        except OSError:
            self.broken = True  # the child is gone; the next read says how it ended

    def run_fit(self, config: RunConfig, run_dir: str | Path, dataset: LabeledDataset | None, resume: bool,
                on_event: Callable[[object], None], control: JobControl,
                interrupted: Callable[[], bool] = lambda: False, hooks: dict[str, Any] | None = None) -> Any:
        """Train in the child and return its ``FitResult``; its events go to ``on_event`` on this thread.
        A run on device ``cuda:all`` trains data-parallel on every GPU (``launch_job.py``), relaying rank 0's events.

        ``interrupted()`` true (the app closing) stops the run with the short grace ``QUIT_GRACE_S``."""
        from .trainer import FitResult

        payload = {"config": config.to_dict(), "run_dir": str(run_dir), "resume": resume,
                   "dataset": wire.dataset_to_dict(dataset) if dataset is not None else None}
        value = self.run_job("fit", payload, on_event, control, interrupted, hooks=hooks)
        return wire.from_plain(FitResult, value)

    def describe_device(self, interrupted: Callable[[], bool] = lambda: False) -> str:
        """The compute device a run would use ('NVIDIA H200 (cuda:0)', 'CPU (16 threads)'), probed in the child."""
        return self.probe_device(interrupted).description

    def probe_device(self, interrupted: Callable[[], bool] = lambda: False) -> Any:
        """The ``ComputeDevice`` (description, CUDA GPU count) a run would find, probed in the child."""
        from ..device import ComputeDevice

        return wire.from_plain(ComputeDevice, self.run_job("probe", {}, lambda event: None, JobControl(), interrupted))

    def run_job(self, kind: str, payload: dict[str, Any], on_event: Callable[[object], None], control: JobControl,
                interrupted: Callable[[], bool] = lambda: False, hooks: dict[str, Any] | None = None) -> Any:
        """Run a job of ``kind`` in the child and return its result's plain value; its events go to ``on_event``
        on this thread, ``control``'s requests go to the child. ``interrupted()`` true (the app closing, a
        newer request) stops it with the short grace ``QUIT_GRACE_S``; past a stop's grace the process is
        ended. An engine error in the child is raised as itself; the child's death as ``JobProcessDied``."""
        self.kind = kind  # until release_child takes it back
        self._send({"type": "job", "kind": kind, "payload": payload, "hooks": hooks or {}, "env": dict(os.environ),
                    "cwd": os.getcwd()})
        tail: deque[str] = deque(maxlen=LOG_TAIL)
        sent_paused, sent_stop = False, False
        while True:
            if interrupted():
                control.request_stop(QUIT_GRACE_S)
            if control.stopping and not sent_stop:
                self._send({"type": "stop"})
                sent_stop = True
            elif control.paused != sent_paused and not sent_stop:
                self._send({"type": "pause" if control.paused else "resume"})
                sent_paused = control.paused
            if control.stop_deadline is not None and time.monotonic() > control.stop_deadline:
                self.end()
                if kind == "fit":
                    raise TrainingProcessDied("The run did not stop in time, so its training process was ended. "
                                              "last.pt keeps the last finished epoch: resume the run from the Runs list.")
                raise JobProcessDied(f"The {kind} job did not stop in time, so its process was ended.")
            if not self.conn.poll(POLL_S):
                if self.broken or not self.process.is_alive():
                    raise self._died(kind, tail)
                continue
            try:
                message = wire.decode(self.conn.recv_bytes())
            except (EOFError, OSError):
                raise self._died(kind, tail) from None
            if message["type"] == "event":
                event = wire.event_from(message)
                if isinstance(event, ev.LogLine):
                    tail.append(event.message)
                on_event(event)
            elif message["type"] == "result":
                return message["value"]
            elif message["type"] == "error":
                raise wire.error_from(message)

    def _died(self, kind: str, tail: deque[str]) -> JobProcessDied:
        self.broken = True
        self.process.join(END_WAIT_S)
        self.end()
        cause = exit_cause(self.process.exitcode)
        lines = "\n".join(f"  {line}" for line in tail)
        last = f"\nLast log lines:\n{lines}" if lines else ""
        if kind == "fit":
            return TrainingProcessDied(f"The training process ended unexpectedly: {cause}. The app keeps running; "
                                       f"{RUN_RESUMABLE}{last}")
        return JobProcessDied(f"The {kind} job's process ended unexpectedly: {cause}. The app keeps running and "
                              f"the next {kind} starts a fresh process.{last}")

    def end(self) -> None:
        """End the process now (SIGTERM, then SIGKILL) and reap it."""
        self.broken = True
        for stop in (self.process.terminate, self.process.kill):
            if not self.process.is_alive():
                break
            stop()
            self.process.join(END_WAIT_S)
        self.process.join(END_WAIT_S)
        self.conn.close()

    def close(self) -> None:
        """Ask an idle child to quit; end it if it does not within ``END_WAIT_S``."""
        if self.alive:
            self._send({"type": "quit"})
            self.process.join(END_WAIT_S)
        self.end()


_lock = threading.Lock()
_released = threading.Condition(_lock)  # a child went back to the idle list
_idle: list[TrainingChild] = []
_started: list[TrainingChild] = []  # every child started and not yet ended (busy ones too)


def live_children() -> list[TrainingChild]:
    """The children alive now, idle or running a job."""
    with _lock:
        _started[:] = [child for child in _started if child.alive]
        return list(_started)


def warm_child() -> None:
    """Start a child now unless one is alive (idle, or busy and soon idle), so the next run finds torch imported.
    A child held by a job that runs until the user stops it (a watched folder) is not soon idle."""
    if not [child for child in live_children() if child.kind not in HELD_UNTIL_STOPPED]:
        with _lock:
            _idle[:] = [_new_child()]


def acquire_child(successor_of: str | None = None, wait_s: float = SUPERSEDED_WAIT_S) -> TrainingChild:
    """The warm idle child, or a new one; the caller runs its job and then calls ``release_child``.

    ``successor_of`` (a job kind): the caller's job supersedes a running one of that kind, which was just told to
    stop, so while such a job runs, wait up to ``wait_s`` for its child to come back instead of starting another.
    """
    deadline = time.monotonic() + wait_s
    with _released:
        while True:
            while _idle:
                child = _idle.pop()
                if child.alive:
                    return child
                child.end()
            left = deadline - time.monotonic()
            predecessor = successor_of is not None and any(
                child.kind == successor_of and child.alive for child in _started)
            if not predecessor or left <= 0:
                return _new_child()
            _released.wait(min(left, 0.25))  # also looks again when the predecessor's process ended instead


def release_child(child: TrainingChild) -> None:
    """Keep a healthy child warm for the next job (one at most); end any other."""
    with _released:
        child.kind = None
        if child.alive and not _idle:
            _idle.append(child)
            _released.notify_all()
            return
    child.close()


def idle_children() -> list[TrainingChild]:
    with _lock:
        return list(_idle)


def shutdown_children() -> None:
    """End the idle children (the app quitting; also run at exit)."""
    with _lock:
        children = list(_idle)
        _idle.clear()
    for child in children:
        child.close()


_at_exit_registered = False


def _new_child() -> TrainingChild:
    global _at_exit_registered
    if not _at_exit_registered:  # registered after multiprocessing's own exit handler, so it runs before it
        atexit.register(shutdown_children)
        _at_exit_registered = True
    child = TrainingChild()
    _started.append(child)
    return child
