"""Hyper-parameter search: Optuna picks settings, each trial is an ordinary training run.

Optuna does the searching (its TPE sampler proposes, its median or successive-halving pruner stops
trials whose per-epoch validation metric trails the others); this module only maps a trial onto a
``RunConfig`` (``search_space.py``) and runs the ``Trainer``. The study lives in ``study.sqlite``
in the search folder, so a search that was killed resumes where it stopped: finished trials are
never run again, and a trial that was running when the search died is retried with the same
settings. Every trial is a run folder under ``trials/`` (config.yaml replays it) marked by a
``trial.json``; a pruned trial is stopped the way a user's Stop stops a run (between batches, after
its last finished epoch was saved), so its folder is as valid as any stopped run's.

All trials train on one fixed split (``split.json`` of the search folder, copied into each trial) with
the base config's seed, and trials that share a frozen backbone share its cached features
(``feature_cache.py``): a head-only trial after the first costs seconds.

Search folder: ``search.json`` (settings and base config), ``space.yaml``, ``study.sqlite``,
``split.json``, ``trials/trial-NNNN/``, and after each trial ``trials.csv``; at the end
``best/config.yaml`` and ``importance.json`` (written by ``search_results.py``).
"""

from __future__ import annotations

import dataclasses
import json
import math
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .. import events as ev
from ..checkpoint import atomic_write_bytes, atomic_write_text
from ..config import RunConfig, check_config
from ..config_file import read_json_file
from ..errors import ConfigError, ImgclsError
from ..project.runs import mark_failed
from .search_results import (
    best_trial, finished_trials, parameter_importance, trial_records, write_outcome, write_trial_file, write_trials,
)
from .search_space import SearchSpace, read_space
from .trainer import Trainer

if TYPE_CHECKING:
    import optuna

    from ..data.samples import LabeledDataset

SEARCH_FILE, SPACE_FILE, STUDY_FILE, SPLIT_FILE = "search.json", "space.yaml", "study.sqlite", "split.json"
SEARCH_FORMAT = "imgcls-search"
METRICS = ("auto", "accuracy", "f1_macro", "map", "roc_auc_macro", "val_loss")
PRUNERS = ("median", "halving", "none")
IMPORTANCE_EVERY = 5  # completed trials between two importance estimates while the search runs (after the 3rd)


@dataclass(frozen=True)
class SearchSettings:
    """How long to search and how to judge: trials in all, a time limit, the metric, the pruner, the sampler's seed."""

    trials: int = 20
    timeout_s: float = 0.0  # 0 = no limit; otherwise no new trial starts after this many seconds
    metric: str = "auto"  # the validation metric to optimise; auto = accuracy (single-label) or mAP (multi-label)
    pruner: str = "median"  # median, halving (successive halving) or none
    seed: int = 0  # seeds the sampler; the runs keep the base config's own seed

    def check(self) -> None:
        if self.trials < 1:
            raise ConfigError(f"trials: {self.trials} is out of range; use a whole number >= 1.")
        if not (self.timeout_s >= 0 and math.isfinite(self.timeout_s)):
            raise ConfigError(f"timeout: {self.timeout_s} is out of range; use a number of seconds >= 0 (0 = none).")
        if self.metric not in METRICS:
            raise ConfigError(f"metric: {self.metric!r} is not one of {', '.join(METRICS)}.")
        if self.pruner not in PRUNERS:
            raise ConfigError(f"pruner: {self.pruner!r} is not one of {', '.join(PRUNERS)}.")


@dataclass
class SearchResult:
    folder: Path
    metric: str
    trials: list[ev.TrialEnd]  # every trial, by number
    best: ev.TrialEnd | None
    importance: dict[str, float] = field(default_factory=dict)
    stopped: bool = False


class SearchStopped(Exception):
    """Raised out of a trial when the user stopped the search; Optuna records the trial as failed."""


class _FirstTrialFailed(Exception):
    """The search's first trial failed: the data or the model cannot train at all, so no trial would run."""

    def __init__(self, error: ImgclsError) -> None:
        super().__init__(str(error))
        self.error = error


class Search:
    """One hyper-parameter search in ``folder``: ``start`` a new one or ``resume`` it; ``request_stop`` from any thread."""

    def __init__(self, folder: str | Path, *, callbacks: list[Any] | tuple[Any, ...] = (),
                 dataset: "LabeledDataset | None" = None, pruner: "optuna.pruners.BasePruner | None" = None) -> None:
        self.folder = Path(folder)
        self.callbacks = list(callbacks)
        self.dataset = dataset
        self._pruner = pruner  # an Optuna pruner object instead of the settings' name (tests, notebooks)
        self._stop = threading.Event()
        self._trainer: Trainer | None = None
        self._metric = ""

    def request_stop(self) -> None:
        """Stop the running trial after its current batch and start no other one (the search can be resumed)."""
        self._stop.set()
        trainer = self._trainer
        if trainer is not None:
            trainer.request_stop()

    def emit(self, event: Any) -> None:
        for callback in self.callbacks:
            callback.on_event(event)

    # -- starting and resuming ----------------------------------------------------------------------

    def start(self, base: RunConfig, space: SearchSpace, settings: SearchSettings = SearchSettings()) -> SearchResult:
        """A new search from ``base`` (the data, the epochs per trial, everything the space leaves alone)."""
        settings.check()
        check_config(base)
        if not base.data.path:
            raise ConfigError("no dataset given: the base config names none (data.path).")
        space.apply(base, space.lowest())  # a value no option takes is refused now, not in every trial
        if (self.folder / SEARCH_FILE).exists():
            raise ConfigError(f"{self.folder} already holds a search; resume it (imgcls tune --resume {self.folder}) "
                              "or choose another folder.")
        self.folder.mkdir(parents=True, exist_ok=True)
        atomic_write_text(self.folder / SPACE_FILE, space.to_yaml())
        record = {"format": SEARCH_FORMAT, "version": 1, "settings": dataclasses.asdict(settings),
                  "base": base.to_dict()}
        atomic_write_text(self.folder / SEARCH_FILE, json.dumps(record, indent=1))
        return self._run(base, space, settings)

    def resume(self, *, trials: int | None = None, timeout_s: float | None = None) -> SearchResult:
        """Continue the search in ``folder``: up to ``trials`` in all (default: as planned), in a new time limit."""
        base, space, settings = read_search(self.folder)
        changes = {k: v for k, v in (("trials", trials), ("timeout_s", timeout_s)) if v is not None}
        if changes:
            settings = dataclasses.replace(settings, **changes)
            settings.check()
            record = read_json_file(self.folder / SEARCH_FILE)
            record["settings"] = dataclasses.asdict(settings)
            atomic_write_text(self.folder / SEARCH_FILE, json.dumps(record, indent=1))
        return self._run(base, space, settings)

    # -- the study ----------------------------------------------------------------------------------

    def _run(self, base: RunConfig, space: SearchSpace, settings: SearchSettings) -> SearchResult:
        import optuna

        optuna.logging.set_verbosity(optuna.logging.ERROR)  # trials are reported through events instead
        dataset = self._dataset(base)
        metric = self._metric = _resolve_metric(settings.metric, base, dataset.task)
        direction = "minimize" if metric == "val_loss" else "maximize"
        self._fixed_split(base, dataset)
        study = optuna.create_study(
            study_name="imgcls", storage=_storage_url(self.folder / STUDY_FILE), load_if_exists=True,
            direction=direction, sampler=optuna.samplers.TPESampler(seed=settings.seed),
            pruner=self._pruner or _pruner(settings.pruner),
        )
        self._retry_interrupted(study)
        done = finished_trials(study)
        self.emit(ev.SearchStart(settings.trials, done, metric, direction, tuple(p.name for p in space.searched),
                                 str(self.folder), _with_best_so_far(trial_records(study), direction)))
        objective = _Objective(self, base, space, metric, settings.trials)
        stopped = False
        if settings.trials > done and not self._stop.is_set():
            try:
                study.optimize(objective, n_trials=settings.trials - done, timeout=settings.timeout_s or None,
                               catch=(ImgclsError,), callbacks=[self._after_trial])
            except SearchStopped:
                stopped = True
            except _FirstTrialFailed as failed:
                write_trials(self.folder, trial_records(study), metric)
                raise failed.error from None
        stopped = stopped or self._stop.is_set()
        records = trial_records(study)
        write_trials(self.folder, records, metric)
        best = best_trial(records, direction)
        importance = parameter_importance(study)
        write_outcome(self.folder, importance, best)
        self.emit(ev.SearchEnd(stopped, finished_trials(study), best.number if best else None, best.value if best else None,
                               importance, str(self.folder)))
        return SearchResult(self.folder, metric, records, best, importance, stopped)

    def _dataset(self, base: RunConfig) -> "LabeledDataset":
        """The dataset, read once for every trial, with each image's hash (the feature cache's key) computed once."""
        from ..data.datasets import open_dataset, require_trainable
        from ..data.images import file_sha1

        data = base.data
        dataset = self.dataset or open_dataset(data.path, data.format, data.images_root, data.task)
        require_trainable(dataset)
        hashed = []
        for sample in dataset.samples:
            if sample.sha1 is None and sample.labels:
                try:
                    sample = dataclasses.replace(sample, sha1=file_sha1(sample.path))
                except OSError:
                    pass  # the trial's loader names the unreadable file
            hashed.append(sample)
        dataset.samples = hashed
        self.dataset = dataset
        return dataset

    def _fixed_split(self, base: RunConfig, dataset: "LabeledDataset") -> None:
        """split.json of the search: made once, copied into every trial, so every trial sees the same images."""
        from ..data.split import split_dataset

        path = self.folder / SPLIT_FILE
        if not path.is_file():
            data = base.data
            split = split_dataset(dataset, val_fraction=data.val_fraction, test_fraction=data.test_fraction,
                                  seed=data.split_seed)
            atomic_write_text(path, split.to_json(dataset))

    def _retry_interrupted(self, study: "optuna.Study") -> None:
        """Trials the last session left unfinished (killed: still RUNNING; stopped: failed and marked
        interrupted) are queued again with their own settings, once each."""
        from optuna.trial import TrialState

        retried = {t.user_attrs.get("retry_of") for t in study.get_trials(deepcopy=False)}
        for trial in study.get_trials(deepcopy=False):
            killed = trial.state == TrialState.RUNNING
            if killed:
                study.tell(trial.number, state=TrialState.FAIL)
                run_dir = trial.user_attrs.get("run_dir")
                if run_dir:
                    write_trial_file(Path(run_dir), trial.number, "interrupted", trial.params)
                    mark_failed(run_dir, "the search was stopped during this trial; resuming it tried its settings "
                                         "again as a new trial")
            if (killed or trial.user_attrs.get("interrupted")) and trial.number not in retried and trial.params:
                study.enqueue_trial(trial.params, user_attrs={"retry_of": trial.number})

    def _after_trial(self, study: "optuna.Study", trial: "optuna.trial.FrozenTrial") -> None:
        """Optuna's callback after each trial: the table on disk, the event, and the stop request."""
        records = trial_records(study)
        write_trials(self.folder, records, self._metric)
        record = next(r for r in records if r.number == trial.number)
        best = best_trial(records, study.direction.name.lower())
        completed = sum(r.state == "complete" for r in records)
        importance: dict[str, float] = {}
        if record.state == "complete" and (completed == 3 or completed % IMPORTANCE_EVERY == 0):
            importance = parameter_importance(study)
        self.emit(dataclasses.replace(record, best_number=best.number if best else None,
                                      best_value=best.value if best else None, importance=importance))
        if self._stop.is_set():
            study.stop()


class _Objective:
    """One Optuna trial: its settings → a run folder → ``Trainer.fit`` → the best epoch's validation metric."""

    def __init__(self, search: Search, base: RunConfig, space: SearchSpace, metric: str, trials: int) -> None:
        self.search, self.base, self.space, self.metric, self.trials = search, base, space, metric, trials

    def __call__(self, trial: "optuna.Trial") -> float:
        import optuna

        search = self.search
        if search._stop.is_set():
            trial.set_user_attr("interrupted", True)
            raise SearchStopped()
        params = self.space.suggest(trial)
        config = self.space.apply(self.base, params)
        # Each trial picks its best epoch by the metric it is judged by, so its best.pt is the one that counted.
        config = config.replace(train=dataclasses.replace(config.train, monitor=self.metric))
        run_dir = search.folder / "trials" / f"trial-{trial.number:04d}"
        run_dir.mkdir(parents=True, exist_ok=True)
        trial.set_user_attr("run_dir", str(run_dir))
        atomic_write_bytes(run_dir / SPLIT_FILE, (search.folder / SPLIT_FILE).read_bytes())  # the search's one split
        write_trial_file(run_dir, trial.number, "running", params)
        search.emit(ev.TrialStart(trial.number, self.trials, dict(params), str(run_dir)))
        reporter = _PruningReporter(trial, self.metric)
        trainer = Trainer(config, run_dir, callbacks=[*search.callbacks, reporter], dataset=search.dataset)
        reporter.trainer = trainer
        search._trainer = trainer
        try:
            result = trainer.fit()
        except ImgclsError as exc:
            write_trial_file(run_dir, trial.number, "failed", params)
            mark_failed(run_dir, str(exc), config)
            search.emit(ev.LogLine(f"trial {trial.number} failed: {exc}", "warning"))
            if not any(t.state.is_finished() and t.state.name != "FAIL" for t in trial.study.get_trials(deepcopy=False)):
                raise _FirstTrialFailed(exc) from exc  # the same error would end every trial: say it once
            raise
        except BaseException:  # Ctrl+C: the trial is retried when the search resumes
            trial.set_user_attr("interrupted", True)
            write_trial_file(run_dir, trial.number, "interrupted", params)
            raise
        finally:
            search._trainer = None
        value = float(result.final.get(self.metric, math.nan))
        if search._stop.is_set():  # the user's stop, not the pruner's
            trial.set_user_attr("interrupted", True)
            write_trial_file(run_dir, trial.number, "stopped", params, value)
            raise SearchStopped()
        if reporter.pruned:
            write_trial_file(run_dir, trial.number, "pruned", params, value)
            raise optuna.TrialPruned(f"epoch {result.epochs_run}: {self.metric} {value:.4f} trails the other trials")
        write_trial_file(run_dir, trial.number, "complete", params, value)
        return value


class _PruningReporter:
    """Trainer callback: reports each epoch's best-so-far metric to Optuna and, when the pruner says so,
    stops the run as a user's Stop would (the epoch just finished is saved first)."""

    def __init__(self, trial: "optuna.Trial", metric: str) -> None:
        self.trial, self.metric = trial, metric
        self.trainer: Trainer | None = None
        self.best: float | None = None
        self.pruned = False

    def on_event(self, event: Any) -> None:
        if not isinstance(event, ev.EpochEnd) or self.metric not in event.metrics:
            return
        value = float(event.metrics[self.metric])
        better = max if self.metric != "val_loss" else min
        self.best = value if self.best is None or not math.isfinite(self.best) else better(self.best, value)
        self.trial.report(self.best, event.epoch)
        last_epoch = event.epoch + 1 >= event.epochs
        if not last_epoch and self.trial.should_prune() and self.trainer is not None:
            self.pruned = True
            self.trainer.request_stop()


def read_search(folder: str | Path) -> tuple[RunConfig, SearchSpace, SearchSettings]:
    """The base config, space and settings a search in ``folder`` was started with."""
    folder = Path(folder)
    path = folder / SEARCH_FILE
    if not path.is_file():
        raise ConfigError(f"{folder}: no search here (no {SEARCH_FILE}); start one with imgcls tune DATA --out {folder}.")
    try:
        record = read_json_file(path)
        if not isinstance(record, dict) or record.get("format") != SEARCH_FORMAT:
            raise ValueError("not an imgcls search file")
        settings = SearchSettings(**record["settings"])
        base = RunConfig.from_dict(record["base"])
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ConfigError(f"{path}: unreadable ({exc}); start a new search in another folder.") from exc
    return base, read_space(folder / SPACE_FILE), settings


def _with_best_so_far(records: list[ev.TrialEnd], direction: str) -> tuple[ev.TrialEnd, ...]:
    """Each record with the best trial among it and those before it (the best-so-far curve of a resumed search)."""
    records = [r for r in records if r.state not in ("waiting", "running")]  # queued retries are not done yet
    out = []
    for n, record in enumerate(records):
        best = best_trial(records[: n + 1], direction)
        out.append(dataclasses.replace(record, best_number=best.number if best else None,
                                       best_value=best.value if best else None))
    return tuple(out)


def _resolve_metric(metric: str, base: RunConfig, task: str) -> str:
    from .setup import monitor_for

    if metric != "auto":
        return metric
    return monitor_for(base, task)


def _pruner(name: str) -> "optuna.pruners.BasePruner":
    import optuna

    if name == "halving":
        return optuna.pruners.SuccessiveHalvingPruner()
    if name == "median":
        return optuna.pruners.MedianPruner(n_startup_trials=4, n_warmup_steps=1)
    return optuna.pruners.NopPruner()


def _storage_url(path: Path) -> str:
    """An SQLAlchemy URL of the SQLite file (any characters in the path, quoted properly)."""
    from sqlalchemy.engine import URL

    return URL.create("sqlite", database=str(path.resolve())).render_as_string(hide_password=False)

