"""Data-parallel training over several processes with torch.distributed, launched by torchrun.

A run started by ``torchrun`` (or ``imgcls train --nproc-per-node N``, which launches itself through
torch's elastic launcher) joins the process group from the environment torchrun sets (RANK,
WORLD_SIZE, LOCAL_RANK, MASTER_ADDR/PORT): NCCL on CUDA GPUs (one GPU per process, ``cuda:LOCAL_RANK``),
Gloo on CPUs. Each process trains a DistributedDataParallel copy of the model on its shard of every
epoch (a ``DistributedSampler`` over the epoch's seeded order, ``data/loading.py``); gradients are
averaged by DDP itself.

The rules a distributed run follows, so that it means the same as a single-process one:

- Batch: ``train.batch_size`` is what one process takes per forward pass. A run's *global batch*
  (images per optimizer step, over all processes) is fixed when it starts: batch size x processes.
  Resumed with another number of processes, each process accumulates gradients over several
  smaller passes so the global batch, the steps per epoch and the schedule stay as they were.
- Learning rate: the linear scaling rule (Goyal et al., 2017): the configured rate is for one
  process's batch, and the run uses ``lr x global batch / batch size`` (warm-up epochs, when set,
  ramp up to it). A single-process run is unchanged (factor 1).
- Seeds: rank 0 uses the run's seeds unchanged; other ranks derive theirs from (seed, rank), so
  dropout differs between ranks while the data order and augmentation come from the shared epoch seed.
- Validation: every process predicts its shard of the validation images without padding; the
  predictions are gathered and put in index order, so each image counts exactly once in the metrics.
- Only rank 0 writes the run folder (config, split, checkpoints, metrics) and announces events.
  Checkpoints hold the unwrapped model, so export, predict and single-process resume read them as
  any other.
- Frozen-backbone feature cache: the images whose features no rank has cached are split over the
  ranks, each extracts its share, the rows are gathered so every rank holds them all, and rank 0
  saves the merged cache (the same files and keys as a single process; a later run of any size
  reuses them). The head then trains data-parallel on the cached features, sharded like images.
- Failures: collectives time out after ``IMGCLS_DIST_TIMEOUT_S`` seconds (default 600), so a dead
  peer ends in an error, not a hang; the launcher names the first rank that failed and its cause.
"""

from __future__ import annotations

import datetime
import math
import os
import signal
import sys
import tempfile
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..errors import ConfigError, DistributedRunError

if TYPE_CHECKING:
    import torch

    from ..evaluation.evaluate import SplitPredictions

TIMEOUT_ENV = "IMGCLS_DIST_TIMEOUT_S"
DEFAULT_TIMEOUT_S = 600.0
TORCHRUN_VARS = ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT")


@dataclass(frozen=True)
class World:
    """This process's place in a distributed run."""

    rank: int
    world_size: int
    local_rank: int

    @property
    def is_main(self) -> bool:
        return self.rank == 0


@dataclass(frozen=True)
class BatchLayout:
    """How one optimizer step's images are split over processes and passes."""

    global_batch: int  # images per optimizer step, all processes together
    micro_batch: int  # images per forward pass in one process
    accumulate: int  # forward passes per optimizer step in one process
    lr_scale: float  # the linear scaling rule: global batch / configured batch size


def batch_layout(batch_size: int, world_size: int, saved_global_batch: int | None = None) -> BatchLayout:
    """The layout for ``world_size`` processes of ``batch_size`` each; a resumed run keeps its global batch."""
    global_batch = saved_global_batch or batch_size * world_size
    if global_batch % world_size:
        raise ConfigError(f"the run's global batch of {global_batch} images cannot be split evenly over {world_size} "
                          f"processes; resume it with a number of processes that divides {global_batch}.")
    share = global_batch // world_size
    accumulate = next(a for a in range(max(1, math.ceil(share / batch_size)), share + 1) if share % a == 0)
    return BatchLayout(global_batch, share // accumulate, accumulate, global_batch / batch_size)


def rank_seed(seed: int, rank: int) -> int:
    """Rank 0 keeps ``seed`` (a one-process run is unchanged); other ranks get a seed drawn from (seed, rank)."""
    if rank == 0:
        return seed
    import numpy as np

    return int(np.random.SeedSequence([seed, rank]).generate_state(1, dtype=np.uint32)[0]) % (2**31 - 1)


def launched_by_torchrun(env: Mapping[str, str] | None = None) -> bool:
    """Whether this process is a worker that torchrun (or the elastic launcher) started."""
    env = os.environ if env is None else env
    return all(name in env for name in TORCHRUN_VARS)


def process_rank(env: Mapping[str, str] | None = None) -> int:
    """This process's global rank (0 outside a distributed launch)."""
    env = os.environ if env is None else env
    return int(env.get("RANK", "0") or 0) if launched_by_torchrun(env) else 0


def current_world() -> World | None:
    """The process group this process belongs to, or None for an ordinary run."""
    import torch.distributed as dist

    if not (dist.is_available() and dist.is_initialized()):
        return None
    return World(dist.get_rank(), dist.get_world_size(), int(os.environ.get("LOCAL_RANK", "0") or 0))


def join_world(device_name: str) -> World:
    """Join the process group described by torchrun's environment: NCCL when training on CUDA, else Gloo."""
    import torch
    import torch.distributed as dist

    from ..device import resolve_device

    missing = [name for name in TORCHRUN_VARS if name not in os.environ]
    if missing:
        raise ConfigError(f"not started by torchrun ({', '.join(missing)} unset); use imgcls train --nproc-per-node N "
                          "or torchrun ... -m imgcls_gui.cli train ...")
    world = World(int(os.environ["RANK"]), int(os.environ["WORLD_SIZE"]), int(os.environ["LOCAL_RANK"]))
    use_cuda = resolve_device(device_name).type == "cuda"
    if use_cuda:
        if world.local_rank >= torch.cuda.device_count():
            raise ConfigError(f"rank {world.rank}: local rank {world.local_rank} has no GPU (this machine has "
                              f"{torch.cuda.device_count()}); use --nproc-per-node {torch.cuda.device_count()} or fewer.")
        torch.cuda.set_device(world.local_rank)
    try:
        dist.init_process_group("nccl" if use_cuda else "gloo", timeout=collective_timeout(),
                                rank=world.rank, world_size=world.world_size)
    except (RuntimeError, ValueError) as exc:  # DistNetworkError / DistStoreError are RuntimeErrors
        where = f"{os.environ['MASTER_ADDR']}:{os.environ['MASTER_PORT']}"
        raise DistributedRunError(f"rank {world.rank}: cannot join the other processes at {where} "
                                  f"({str(exc).strip().splitlines()[0][:200]}); check the address and port "
                                  "(--rdzv-endpoint) and that every node was started.") from exc
    return world


def leave_world() -> None:
    """Tear the process group down (at the end of a run that joined it)."""
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


def collective_timeout() -> datetime.timedelta:
    """How long a collective (or the rendezvous store) waits for the other processes."""
    raw = os.environ.get(TIMEOUT_ENV, "")
    try:
        seconds = float(raw) if raw else DEFAULT_TIMEOUT_S
    except ValueError:
        raise ConfigError(f"{TIMEOUT_ENV}={raw}: expected a number of seconds.") from None
    return datetime.timedelta(seconds=max(1.0, seconds))


def rank_device(device: "torch.device", world: World | None) -> "torch.device":
    """One GPU per process: ``cuda:LOCAL_RANK`` in a distributed run on CUDA; other devices unchanged."""
    import torch

    if world is not None and device.type == "cuda":
        return torch.device("cuda", world.local_rank)
    return device


def wrap_for_training(model: "torch.nn.Module", device: "torch.device", sync_batchnorm: bool) -> "torch.nn.Module":
    """``model`` (kept unwrapped by the run) inside DistributedDataParallel; SyncBatchNorm on CUDA when asked."""
    import torch
    from torch.nn.parallel import DistributedDataParallel

    if sync_batchnorm and device.type == "cuda":
        # Converts the BatchNorm layers inside ``model`` in place (its children are swapped), so
        # ``model`` itself (what checkpoints save) gets them too; state dict keys stay the same.
        for name, child in list(model.named_children()):
            setattr(model, name, torch.nn.SyncBatchNorm.convert_sync_batchnorm(child))
    ids = [device.index] if device.type == "cuda" else None
    return DistributedDataParallel(model, device_ids=ids)


def sum_over_ranks(values: Sequence[float], device: "torch.device") -> list[float]:
    """Each value summed over every process."""
    import torch
    import torch.distributed as dist

    tensor = torch.tensor(list(values), dtype=torch.float64, device=device)
    dist.all_reduce(tensor)
    return tensor.tolist()


def gather_predictions(preds: "SplitPredictions") -> "SplitPredictions":
    """Every process's validation predictions, concatenated in dataset-index order (no padding, so each once)."""
    import numpy as np
    import torch.distributed as dist

    from ..evaluation.evaluate import SplitPredictions

    parts: list[Any] = [None] * dist.get_world_size()
    dist.all_gather_object(parts, preds)
    parts = [p for p in parts if len(p.indices)]
    if not parts:
        return preds
    indices = np.concatenate([p.indices for p in parts])
    order = np.argsort(indices, kind="stable")
    return SplitPredictions(np.concatenate([p.probs for p in parts])[order],
                            np.concatenate([p.targets for p in parts])[order],
                            np.concatenate([p.losses for p in parts])[order], indices[order])


def union_over_ranks(items: Sequence[int]) -> list[int]:
    """The sorted union of every process's ``items`` (the same list in every process)."""
    import torch.distributed as dist

    parts: list[Any] = [None] * dist.get_world_size()
    dist.all_gather_object(parts, list(items))
    return sorted({item for part in parts for item in part})


def compute_in_shares(items: Sequence[int], compute: "Callable[[list[int]], Any]") -> Any:
    """``compute(items)`` (an array, one row per item) with each process computing every world-size-th item.

    Every process gets all the rows, in ``items`` order; ``items`` must be the same list in every process.
    """
    import numpy as np
    import torch.distributed as dist

    world_size, rank = dist.get_world_size(), dist.get_rank()
    mine = list(items)[rank::world_size]
    rows = compute(mine) if mine else None
    parts: list[Any] = [None] * world_size
    dist.all_gather_object(parts, rows)
    shaped = next(p for p in parts if p is not None)
    merged = np.empty((len(items), *shaped.shape[1:]), dtype=shaped.dtype)
    for r, part in enumerate(parts):
        if part is not None:
            merged[r::world_size] = part
    return merged


def barrier() -> None:
    """Wait until every process got here."""
    import torch.distributed as dist

    dist.barrier()


REQUEST_POLL_S = 0.1
_REQUEST_CODES = {"run": 0, "pause": 1, "stop": 2}


class RequestFile:
    """The launcher's side of a run's pause/resume/stop: one word ("run", "pause", "stop") in a file every rank
    reads (replaced atomically). Shaped like a Trainer's requests, so the child process hands them over as it
    does to a Trainer."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = os.fspath(path)
        self._write("run")

    def _write(self, word: str) -> None:
        from ..checkpoint import atomic_write_text

        atomic_write_text(self.path, word)  # a rank never reads half a word

    def request_pause(self) -> None:
        self._write("pause")

    def request_resume(self) -> None:
        self._write("run")

    def request_stop(self) -> None:
        self._write("stop")


def read_request(path: str) -> str:
    """The word a ``RequestFile`` holds ("run" when it cannot be read)."""
    try:
        with open(path, encoding="utf-8") as handle:
            word = handle.read().strip()
    except OSError:
        return "run"
    return word if word in _REQUEST_CODES else "run"


class AgreedRequests:
    """Every rank's side: a ``RequestFile``'s requests honoured by all ranks at the same training batch.

    Each rank reads the file there and the ranks agree on the strongest request (an all-reduce on a small
    Gloo group, so a CUDA run does not wait on its GPU for it): stop ends every rank after the same batch,
    pause parks every rank outside any collective (each polls the file itself, so a long pause never meets
    the collective timeout) until the file says otherwise, and they agree again. Validation and feature
    extraction give each rank a different number of batches, so requests wait for the next training batch.
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        import torch.distributed as dist

        self.path = os.fspath(path)
        # Created by every rank at the same point (new_group is collective); Gloo's default group serves as is.
        self._group = None if dist.get_backend() == "gloo" else dist.new_group(backend="gloo")

    def _agree(self) -> str:
        import torch
        import torch.distributed as dist

        code = torch.tensor([_REQUEST_CODES[read_request(self.path)]], dtype=torch.int64)
        dist.all_reduce(code, op=dist.ReduceOp.MAX, group=self._group)
        return next(word for word, value in _REQUEST_CODES.items() if value == int(code.item()))

    def check(self, log: "Callable[[str], None]") -> None:
        """At a training batch: return to train on, wait out an agreed pause, raise ``StopRequested`` on stop."""
        import time

        from ..errors import StopRequested

        agreed = self._agree()
        if agreed == "pause":
            log("paused")
            while agreed == "pause":
                while read_request(self.path) == "pause":
                    time.sleep(REQUEST_POLL_S)
                agreed = self._agree()
            if agreed == "run":
                log("resumed")
        if agreed == "stop":
            raise StopRequested()


def signal_hook_for_tests(rank: int) -> "Callable[[Any], None] | None":
    """Test hook (only with IMGCLS_TEST_HOOKS=1): ``IMGCLS_TEST_RANK_SIGNAL=RANK:SIGNAL:EPOCH:BATCH`` makes
    that rank send itself SIGNAL at the first batch event at or after (EPOCH, BATCH): a rank dying mid-epoch."""
    spec = os.environ.get("IMGCLS_TEST_RANK_SIGNAL", "").split(":") if os.environ.get("IMGCLS_TEST_HOOKS") == "1" else []
    if len(spec) != 4 or int(spec[0]) != rank:
        return None
    import signal

    from .. import events as ev

    at = (int(spec[2]), int(spec[3]))

    def hook(event: Any) -> None:
        if isinstance(event, ev.BatchEnd) and (event.epoch, event.batch) >= at:
            os.kill(os.getpid(), getattr(signal, spec[1]))

    return hook


def record_rank_failure(exc: BaseException) -> None:
    """Write ``exc`` where torch's elastic agent reads a worker's error, so the launcher can name the cause."""
    if not launched_by_torchrun() or not os.environ.get("TORCHELASTIC_ERROR_FILE"):
        return
    from torch.distributed.elastic.multiprocessing.errors import ErrorHandler

    ErrorHandler().record_exception(exc)  # call it while handling ``exc``: it stores that traceback too


def launch_local(nproc: int, module: str, args: Sequence[str], *, join_timeout_s: float = 120.0,
                 resume_hint: str = "--resume RUN continues") -> None:
    """Run ``python -m module args`` as ``nproc`` processes on this machine through torch's elastic launcher.

    A c10d rendezvous on localhost with a port the OS picks (no port clash); threads per process
    default to the CPU count divided among them. The first failed rank becomes a DistributedRunError
    whose message ends with ``resume_hint`` (the CLI's flag, or the app's words).
    """
    from torch.distributed.elastic.multiprocessing import DefaultLogsSpecs
    from torch.distributed.elastic.multiprocessing.errors import ChildFailedError
    from torch.distributed.launcher.api import LaunchConfig, elastic_launch

    if nproc < 1:
        raise ConfigError(f"--nproc-per-node {nproc}: use 1 or more processes.")
    # The launcher's per-run folder (its ranks' error files) goes with the launch: left to itself it stays in
    # the temp folder, one per run.
    logs = tempfile.TemporaryDirectory(prefix="imgcls-launch-")
    config = LaunchConfig(
        min_nodes=1, max_nodes=1, nproc_per_node=nproc, run_id=f"imgcls-{uuid.uuid4().hex[:12]}",
        rdzv_backend="c10d", rdzv_endpoint="localhost:0", rdzv_configs={"join_timeout": join_timeout_s},
        max_restarts=0, monitor_interval=0.1, logs_specs=DefaultLogsSpecs(log_dir=logs.name),
    )
    threads_set = "OMP_NUM_THREADS" in os.environ
    if not threads_set:
        os.environ["OMP_NUM_THREADS"] = str(max(1, (os.cpu_count() or 1) // nproc))
    try:
        elastic_launch(config, sys.executable)("-m", module, *args)
    except ChildFailedError as exc:
        rank, failure = root_failure(exc.failures)
        raise DistributedRunError(f"process {rank} of {nproc} failed: {failure_cause(failure)}. The other processes "
                                  f"were stopped; last.pt holds the last finished epoch ({resume_hint}).") from None
    finally:
        if not threads_set:
            os.environ.pop("OMP_NUM_THREADS", None)
        logs.cleanup()


def root_failure(failures: Mapping[int, Any]) -> tuple[int, Any]:
    """The rank whose failure the others followed: one killed by a signal the launcher does not send (a crash, the
    OOM killer), else one that recorded its own error, else the earliest. Its peers fail too, some first in time (a
    collective's 'Connection reset by peer' can be recorded before the launcher sees the killed rank), so torch's
    earliest-failure pick named the surviving rank in a full test run here."""
    def order(item: tuple[int, Any]) -> tuple[int, float, int]:
        rank, failure = item
        recorded = bool(failure.error_file and os.path.isfile(failure.error_file))
        killed = failure.exitcode < 0 and -failure.exitcode not in (signal.SIGTERM, signal.SIGINT) and not recorded
        return (0 if killed else 1 if recorded else 2, failure.timestamp, rank)

    return min(failures.items(), key=order)


def failure_cause(failure: Any) -> str:
    """A torch ``ProcessFailure`` in words: the error the rank recorded, the signal that killed it or its exit code."""
    if failure.error_file and os.path.isfile(failure.error_file):
        text = str(failure.message).strip().splitlines()
        if text:
            return text[0][:300]
    if failure.exitcode < 0:
        return f"killed by {failure.signal_name()}"
    return f"exit code {failure.exitcode} (its own error is printed above)"
