"""The app's run on every GPU (device ``cuda:all``): the child process's fit job launching the ranks, and the ranks.

The job (``distributed_fit_job``, called by the warm child's fit job) launches the run the way ``imgcls train
--nproc-per-node N`` does (``distributed.launch_local``: torch's elastic launcher), each process running this
module (``python -m imgcls_gui.engine.training.launch_job FOLDER``). The job and its ranks share a private
folder that only they know:

- ``job.json``: what to train (the run's config, folder and dataset, resume), written by the job;
- ``requests``: the app's pause/resume/stop (``distributed.RequestFile``), which every rank honours at the
  same training batch (``distributed.AgreedRequests``);
- ``messages.jsonl``: rank 0's events, then its result or error, as ``wire.py`` messages, one a line;
  the job tails it and sends each event on to the app, so a run on all GPUs shows like any other.

A rank that dies fails the launch, which names the rank and its cause (``DistributedRunError``); an engine
error of rank 0's own (a bad config, no memory) comes back as itself. A rank whose parent (the child process)
is gone ends itself, so ending the child (the app's Stop escalating, the app quitting) leaves no rank behind.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import sys
import tempfile
import threading
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any, BinaryIO

from . import wire
from ..checkpoint import atomic_write_text
from ..errors import DistributedRunError

JOB_FILE, REQUESTS_FILE, MESSAGES_FILE = "job.json", "requests", "messages.jsonl"
RELAY_POLL_S = 0.05
PARENT_POLL_S = 0.5
# What torch's elastic launcher catches while it runs (turned into an exception that ends the ranks).
_LAUNCHER_SIGNALS = tuple(getattr(signal, name) for name in ("SIGTERM", "SIGINT", "SIGHUP", "SIGQUIT")
                          if hasattr(signal, name))


class MessageFile:
    """Rank 0's side: its events (a Trainer callback), then its result or error, appended one message a line."""

    def __init__(self, path: Path) -> None:
        self._handle: BinaryIO = open(path, "ab", buffering=0)  # noqa: SIM115 - open for the whole run

    def write(self, message: dict[str, Any]) -> None:
        self._handle.write(wire.encode_line(message) + b"\n")

    def on_event(self, event: object) -> None:
        self.write(wire.event_message(event))


class MessageRelay:
    """The job's side: a thread tails ``messages.jsonl``, hands each event to ``emit`` and keeps the result or error."""

    def __init__(self, path: Path, emit: Callable[[object], None]) -> None:
        self.path, self._emit = path, emit
        self.result: Any = None
        self.error: dict[str, Any] | None = None
        self._ended = threading.Event()
        self._thread = threading.Thread(target=self._tail, name="imgcls-rank0-messages", daemon=True)
        self._thread.start()

    def _tail(self) -> None:
        handle: BinaryIO | None = None
        pending = b""
        try:
            while True:
                ended = self._ended.is_set()  # read once more after the ranks ended: their last lines
                if handle is None and self.path.exists():
                    handle = open(self.path, "rb")  # noqa: SIM115 - closed below
                if handle is not None:
                    *lines, pending = (pending + handle.read()).split(b"\n")
                    for line in lines:
                        self._take(wire.decode(line))
                if ended:
                    return
                time.sleep(RELAY_POLL_S)
        finally:
            if handle is not None:
                handle.close()

    def _take(self, message: dict[str, Any]) -> None:
        if message["type"] == "event":
            self._emit(wire.event_from(message))
        elif message["type"] == "result":
            self.result = message["value"]
        elif message["type"] == "error":
            self.error = message

    def finish(self) -> None:
        """Relay what is left, then stop tailing."""
        self._ended.set()
        self._thread.join()


def distributed_fit_job(job: Any, processes: int) -> dict[str, Any]:
    """Train the 'fit' job of ``job`` (the child's ``JobContext``) in ``processes`` processes through torch's
    elastic launcher; rank 0's events go to the app, and its ``FitResult``'s fields come back."""
    from .. import events as ev
    from .distributed import RequestFile, launch_local

    payload = dict(job.payload)
    with tempfile.TemporaryDirectory(prefix="imgcls-ranks-") as folder:
        atomic_write_text(Path(folder, JOB_FILE), json.dumps(payload))
        requests = RequestFile(Path(folder, REQUESTS_FILE))
        relay = MessageRelay(Path(folder, MESSAGES_FILE), job.emit)
        job.attach(requests)  # the app's pause/resume/stop now land in the requests file
        job.emit(ev.LogLine(f"data-parallel: {processes} processes, one per GPU (torch.distributed); "
                            "the events shown are process 0's"))
        handlers = {sig: signal.getsignal(sig) for sig in _LAUNCHER_SIGNALS}
        _ranks_import_this_imgcls()
        try:
            launch_local(processes, __name__, [folder], resume_hint="Resume in the Runs tab continues it")
        except DistributedRunError:
            relay.finish()
            if relay.error is not None and relay.error["imgcls"]:
                raise wire.error_from(relay.error) from None  # rank 0's own engine error says more
            raise
        finally:
            for sig, handler in handlers.items():  # the launcher's own (they raise) would outlive the run
                signal.signal(sig, handler)
            job.attach(None)
            relay.finish()
    if relay.result is None:
        raise DistributedRunError(f"the {processes} training processes ended without a result from process 0.")
    return relay.result  # type: ignore[no-any-return]


def _ranks_import_this_imgcls() -> None:
    """Put the folder holding this imgcls first on the ranks' PYTHONPATH (they inherit this process's
    environment, which the next job replaces), so an app run from a checkout launches its own code."""
    root = str(Path(__file__).resolve().parents[3])
    paths = [path for path in os.environ.get("PYTHONPATH", "").split(os.pathsep) if path and path != root]
    os.environ["PYTHONPATH"] = os.pathsep.join([root, *paths])


def _end_with_parent(folder: str) -> None:
    """End this rank when its parent (the launching child process) is gone: no rank outlives an ended run, and
    the shared folder its parent can no longer remove goes too."""
    parent = os.getppid()

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(PARENT_POLL_S)
        shutil.rmtree(folder, ignore_errors=True)
        os._exit(1)

    threading.Thread(target=watch, name="imgcls-parent-watch", daemon=True).start()


def rank_main(folder: str) -> int:
    """One rank of the app's distributed run: train the job in ``folder``; rank 0 writes the messages."""
    from ..config import RunConfig
    from .distributed import process_rank, record_rank_failure
    from .trainer import Trainer

    _end_with_parent(folder)
    payload = json.loads(Path(folder, JOB_FILE).read_text(encoding="utf-8"))
    messages = MessageFile(Path(folder, MESSAGES_FILE)) if process_rank() == 0 else None
    dataset = wire.dataset_from_dict(payload["dataset"]) if payload.get("dataset") else None
    trainer = Trainer(RunConfig.from_dict(payload["config"]), payload["run_dir"], dataset=dataset,
                      callbacks=[messages] if messages is not None else [], requests_file=Path(folder, REQUESTS_FILE))
    try:
        result = trainer.fit(resume=bool(payload.get("resume")))
    except Exception as exc:  # noqa: BLE001 - every failure is reported: to the job (rank 0) and to the launcher
        if messages is not None:
            messages.write(wire.error_message(exc, traceback.format_exc()))
        record_rank_failure(exc)
        return 1
    if messages is not None:
        messages.write({"type": "result", "value": wire.to_plain(result)})
    return 0


if __name__ == "__main__":
    sys.exit(rank_main(sys.argv[1]))
