"""The Trainer: fine-tunes a backbone on a labeled dataset and announces events to callbacks.

``fit`` = prepare (data, split, model, freezing, optimizer) → for each epoch: train one epoch,
validate, checkpoint, maybe stop early. Stop/pause requests are checked between batches; a stop
raises ``StopRequested`` inside the loop, which one handler turns into a clean end (best.pt and
last.pt stay as they were at the last finished epoch). ``fit(resume=True)`` continues exactly
from ``last.pt``.
"""

from __future__ import annotations

import dataclasses
import json
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .. import events as ev
from ..checkpoint import atomic_write_text, save_checkpoint
from ..config import RunConfig, check_config
from ..data.samples import LabeledDataset
from ..errors import CheckpointError, ConfigError, NotEnoughMemoryError, StopRequested
from .state import RunControl, RunState, seed_everything


@dataclass
class FitResult:
    run_dir: Path
    stopped: bool
    epochs_run: int
    best_epoch: int
    final: dict[str, float] = field(default_factory=dict)
    history: list[dict[str, float]] = field(default_factory=list)


class Trainer:
    """One training run into ``run_dir``. Thread-safe stop/pause requests; everything else on one thread."""

    def __init__(
        self,
        config: RunConfig,
        run_dir: str | Path,
        *,
        callbacks: list[Any] | tuple[Any, ...] = (),
        dataset: LabeledDataset | None = None,
        requests_file: str | Path | None = None,
    ) -> None:
        """``requests_file``: in a distributed run, a ``distributed.RequestFile`` whose pause/stop every rank
        honours at the same training batch (the app's runs on all GPUs); the request methods then do nothing."""
        self.config = config
        self.run_dir = Path(run_dir)
        self.callbacks = list(callbacks)
        self.dataset = dataset
        self._stop = threading.Event()
        self._running = threading.Event()
        self._running.set()
        self._run: RunState | None = None
        self._main = True  # False in the other ranks of a distributed run: they neither write nor announce
        self._rank_hook: Any = None  # a distributed run's test hook (distributed.signal_hook_for_tests)
        self._requests_file = requests_file
        self._agreed: Any = None  # distributed.AgreedRequests while a distributed run reads ``requests_file``

    # -- requests from other threads -------------------------------------------------------
    def request_stop(self) -> None:
        self._stop.set()
        self._running.set()  # a paused run must wake up to stop

    def request_pause(self) -> None:
        self._running.clear()

    def request_resume(self) -> None:
        self._running.set()

    @property
    def paused(self) -> bool:
        return not self._running.is_set()

    def check_requests(self) -> None:
        """Called between batches: block while paused, raise StopRequested when asked to stop."""
        if self._agreed is not None:
            return  # the ranks act on the file's requests together, at a training batch (check_together)
        if not self._running.is_set():
            self.emit(ev.LogLine("paused"))
            while not self._running.wait(0.1):
                pass
            if not self._stop.is_set():
                self.emit(ev.LogLine("resumed"))
        if self._stop.is_set():
            raise StopRequested()

    def check_together(self) -> None:
        """Called before each training batch: a distributed run's agreed requests, else ``check_requests``."""
        if self._agreed is None:
            self.check_requests()
        else:
            self._agreed.check(lambda message: self.emit(ev.LogLine(message)))

    def emit(self, event: Any) -> None:
        """Hand ``event`` to every callback's ``on_event`` (rank 0 only in a distributed run)."""
        if self._rank_hook is not None:
            self._rank_hook(event)
        if not self._main:
            return
        for callback in self.callbacks:
            callback.on_event(event)

    # -- the run -----------------------------------------------------------------------------
    def fit(self, resume: bool = False, epochs: int | None = None) -> FitResult:
        """Train (or continue) the run; running out of memory becomes ``NotEnoughMemoryError`` with a batch size to try.

        ``epochs`` with ``resume``: train the run on up to that many epochs in all (the schedule is
        recomputed for the new total; see ``extend_epochs``).
        """
        reason, device = "", self.config.train.device
        try:
            return self._fit(resume, epochs)
        except Exception as exc:
            if not is_out_of_memory(exc):
                raise
            reason = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:160]
            if self._run is not None:
                device = str(self._run.plan.device)
        # Out of the except block, so the failed batch's tensors (held by the traceback) can be freed.
        self._run = None
        release_cached_memory()
        raise out_of_memory_error(reason, device, self.config.train.batch_size)

    def _fit(self, resume: bool, epochs: int | None = None) -> FitResult:
        """Train in this process, or as one rank of a torchrun launch (joining its process group for the run)."""
        from .distributed import current_world, join_world, launched_by_torchrun, leave_world, process_rank

        self._main = process_rank() == 0
        if current_world() is not None or not launched_by_torchrun():
            return self._fit_in_world(resume, epochs)
        config = self.config
        if resume:
            config = RunConfig.from_file(self.run_dir / "config.yaml")
        join_world(config.train.device)
        try:
            return self._fit_in_world(resume, epochs)
        finally:
            leave_world()

    def _fit_in_world(self, resume: bool, epochs: int | None = None) -> FitResult:
        from .checkpointing import read_resume_point, run_checkpoint
        from .distributed import AgreedRequests, current_world, rank_seed, signal_hook_for_tests
        from .loop import enter_phase_for, train_one_epoch, validate
        from .setup import prepare_run

        world = current_world()
        self._main = world is None or world.is_main
        rank = world.rank if world is not None else 0
        self._rank_hook = signal_hook_for_tests(rank) if world is not None else None
        self._agreed = AgreedRequests(self._requests_file) if world is not None and self._requests_file else None

        if not resume:  # a config built in code gets the range checks a config file gets (resume reads one)
            check_config(self.config)
        try:
            self.run_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise CheckpointError(
                f"{self.run_dir}: cannot create the run folder ({exc.strerror or exc}); choose a folder you can write to."
            ) from exc
        point = read_resume_point(self.run_dir) if resume else None
        if point is not None:
            self.config = extend_epochs(point.config, point.epochs_done, epochs, self.run_dir)
            if epochs is not None and self._main:
                atomic_write_text(self.run_dir / "config.yaml", self.config.to_yaml())
            for stale in self.run_dir.glob(".*.tmp") if self._main else ():  # half-written files of a killed save
                stale.unlink(missing_ok=True)
        seed_everything(self.config.train.seed, self.config.train.deterministic)  # the same initial model in every rank
        control = RunControl(self.emit, self.check_requests, self.check_together)
        run = prepare_run(self.config, self.run_dir, self.dataset, point, control, world)
        self._run = run
        plan = run.plan
        cfg = self.config = plan.config  # resolved (e.g. the batch size chosen for "auto")
        self.emit(
            ev.FitStart(cfg.train.epochs, run.start_epoch, len(plan.train_set), len(plan.val_set),
                        len(plan.train_loader), str(plan.device), plan.classes, plan.task)
        )
        stopped = False
        epoch = run.start_epoch
        try:
            for epoch in range(run.start_epoch, cfg.train.epochs):
                enter_phase_for(run, epoch, control)
                self.emit(ev.EpochStart(epoch, cfg.train.epochs, run.phase))
                seed_everything(rank_seed(cfg.train.seed * 1000 + epoch, rank), cfg.train.deterministic)
                train_stats = train_one_epoch(run, epoch, control)
                metrics = {**train_stats, **validate(run, control)}
                is_best = run.update_best(epoch, metrics)
                self.emit(ev.EpochEnd(epoch, cfg.train.epochs, metrics, is_best))
                self._save(run_checkpoint(run, epoch, metrics), epoch, is_best)
                self._write_metrics(run)
                if run.should_stop_early():
                    self.emit(ev.LogLine(f"early stopping: no improvement in {cfg.train.early_stopping_patience} epochs"))
                    break
            else:
                epoch = cfg.train.epochs - 1
        except StopRequested:
            stopped = True
            self.emit(ev.LogLine("stopped by request; best.pt and last.pt hold the last finished epoch"))
        epochs_run = len(run.history)
        final = run.best_metrics
        self._write_metrics(run)
        self.emit(ev.FitEnd(stopped, epochs_run, run.best_epoch, dict(final), str(self.run_dir)))
        return FitResult(self.run_dir, stopped, epochs_run, run.best_epoch, dict(final), list(run.history))

    def _save(self, ckpt: dict[str, Any], epoch: int, is_best: bool) -> None:
        """Write last.pt (and best.pt when this epoch is the best) and announce each (rank 0 only)."""
        if not self._main:
            return
        save_checkpoint(ckpt, self.run_dir / "last.pt")
        self.emit(ev.CheckpointSaved(str(self.run_dir / "last.pt"), epoch, "last"))
        if is_best:
            save_checkpoint(ckpt, self.run_dir / "best.pt")
            self.emit(ev.CheckpointSaved(str(self.run_dir / "best.pt"), epoch, "best"))

    def _write_metrics(self, run: RunState) -> None:
        """metrics.json: the history and the best epoch, for the GUI's run list and ``imgcls evaluate`` (rank 0 only)."""
        if not self._main:
            return
        payload = {
            "monitor": run.plan.monitor,
            "best_epoch": run.best_epoch,
            "history": run.history,
            "final": run.best_metrics,
            "thresholds": run.best_thresholds,
            "classes": list(run.plan.classes),
            "task": run.plan.task,
            "val_images": run.val_images,  # images the last validation scored (all ranks' shards together)
        }
        atomic_write_text(self.run_dir / "metrics.json", json.dumps(payload, indent=2, default=_json_default))


def _json_default(value: Any) -> Any:
    try:
        return float(value)
    except (TypeError, ValueError):
        return str(value)


def is_out_of_memory(exc: BaseException) -> bool:
    """torch's OOM error, or the RuntimeError older CUDA, MPS and the CPU allocator raise instead."""
    import torch

    if isinstance(exc, torch.OutOfMemoryError):
        return True
    text = str(exc).lower()
    return isinstance(exc, RuntimeError) and ("out of memory" in text or "can't allocate memory" in text)


def release_cached_memory() -> None:
    """Give the allocator's cached blocks back, so a retry with a smaller batch starts from a clean slate."""
    import gc

    import torch

    gc.collect()
    if torch.cuda.is_available():
        torch.cuda.empty_cache()


def out_of_memory_error(reason: str, device: str, batch_size: int) -> NotEnoughMemoryError:
    if batch_size > 1:
        half = batch_size // 2
        advice = (f"Train again with batch size {half} (--batch-size {half}); a smaller image size or a lighter "
                  "backbone also needs less memory.")
    else:
        half = None
        advice = "Even one image does not fit: use a smaller image size, a lighter backbone or --device cpu."
    return NotEnoughMemoryError(
        f"out of memory on {device} with batch size {batch_size} ({reason}). {advice} "
        "best.pt and last.pt keep the last finished epoch.",
        half,
    )


def extend_epochs(config: RunConfig, done: int, epochs: int | None, run_dir: Path) -> RunConfig:
    """The config a resumed run continues with: ``epochs`` in all when given (more than ``done``).

    The learning-rate schedule is a pure function of (step, total steps), so the epochs still to
    run get exactly the rates a run started with ``epochs`` would have at those steps (a cosine
    schedule that had decayed to 0 rises again to that curve); the epochs already run are kept.
    """
    if epochs is None:
        if done >= config.train.epochs:
            raise ConfigError(f"{run_dir}: the run already trained all its {done} epoch(s); to train it further, "
                              f"resume it with more epochs (imgcls train --resume RUN --epochs {done + 1} or more).")
        return config
    if epochs <= done:
        raise ConfigError(f"{run_dir}: the run has trained {done} epoch(s) already; to continue it, ask for more "
                          f"epochs in all (--epochs {done + 1} or more).")
    return config.replace(train=dataclasses.replace(config.train, epochs=epochs))
