"""Training-like work the app runs in its child process (``child.py``'s ``JOB_HANDLERS``): a learning-rate
sweep and a hyper-parameter search.

Each has two halves. The handler (``lr_find_job``, ``search_job``) runs in the child: it calls the same engine
function as the CLI (``find_lr``, ``Search.start``/``resume``), sends its events to the app as they come
(``LrFindStep``s for the live plot; the search's trial events and each trial's ``EpochEnd``, never its
batches) and returns the result's fields with the child's pid. The app's side (``lr_find_in_child``,
``search_in_child``, ``resume_search_in_child``) sends the job to a ``TrainingChild`` and rebuilds the result
dataclass from its fields (``wire.py``), so the app's process never imports torch or Optuna for them, and a
native crash or a kill mid-trial fails the job, not the window. The app's Stop reaches the sweep between
steps and the search between batches (``Search.request_stop``: the trial stops as a user's Stop stops a run,
and the search can be resumed). A search killed outright leaves ``study.sqlite`` with its running trial, which
``Search.resume`` tries again.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from . import wire
from .. import events as ev
from ..config import RunConfig
from ..data.samples import LabeledDataset
from ..errors import JobStopped, StopRequested
from .lr_find import DEFAULT_END_LR, DEFAULT_START_LR, DEFAULT_STEPS, LrFindResult
from .search import SearchResult, SearchSettings

# What the Search tab shows: the trials, and each trial's epochs (its progress). Batches stay in the child,
# and so do log lines, so a test hook's count of sent events (IMGCLS_TEST_JOB_SIGNAL) lands on a known trial.
SEARCH_EVENTS = (ev.SearchStart, ev.TrialStart, ev.EpochEnd, ev.TrialEnd, ev.SearchEnd)


@dataclass(frozen=True)
class LrFindRun:
    """A sweep done in the child process: its result, and that process's id."""

    result: LrFindResult
    pid: int


@dataclass(frozen=True)
class SearchRun:
    """A search (or the part of it run before a Stop) done in the child process: its result, and that process's id."""

    result: SearchResult
    pid: int


class _StopOnly:
    """The app's requests for work that stops but has no pause (a search): pause and resume mean nothing."""

    def __init__(self, request_stop: Callable[[], None]) -> None:
        self.request_stop = request_stop

    def request_pause(self) -> None:
        pass

    def request_resume(self) -> None:
        pass


class _SlowSteps:
    """Test hook ``lr_step_delay_s``: each sweep step waits, so a Cancel lands mid-sweep."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds

    def on_event(self, event: object) -> None:
        if isinstance(event, ev.LrFindStep):
            time.sleep(self.seconds)


class _Only:
    """A callback passing on only the events of ``kinds`` (the rest stay in the child)."""

    def __init__(self, job: Any, kinds: tuple[type, ...]) -> None:
        self.job, self.kinds = job, kinds

    def on_event(self, event: object) -> None:
        if isinstance(event, self.kinds):
            self.job.emit(event)


def lr_find_job(job: Any) -> dict[str, Any]:
    """Child-process handler of kind "lr_find" (payload: config, output folder, dataset, sweep range): ``find_lr``
    with every event sent to the app; the app's Stop ends it between steps (``JobStopped``, nothing saved)."""
    from .lr_find import find_lr

    payload = job.payload
    job.raise_if_stopped()  # a Cancel sent while the child was still warming up
    callbacks: list[Any] = [job]
    if job.hooks.get("lr_step_delay_s"):
        callbacks.append(_SlowSteps(float(job.hooks["lr_step_delay_s"])))
    try:
        result = find_lr(RunConfig.from_dict(payload["config"]), payload["out_dir"],
                         dataset=wire.dataset_from_dict(payload["dataset"]), callbacks=callbacks,
                         should_stop=lambda: job.stopped, start_lr=payload["start_lr"], end_lr=payload["end_lr"],
                         steps=payload["steps"])
    except StopRequested:
        raise JobStopped("The learning-rate sweep was stopped before it finished; nothing was saved.") from None
    return {"result": wire.to_plain(result), "pid": os.getpid()}


def lr_find_in_child(child: Any, config: RunConfig, out_dir: str | Path, dataset: LabeledDataset,
                     on_event: Callable[[object], None], control: Any, interrupted: Callable[[], bool] = lambda: False,
                     *, start_lr: float = DEFAULT_START_LR, end_lr: float = DEFAULT_END_LR, steps: int = DEFAULT_STEPS,
                     hooks: dict[str, Any] | None = None) -> LrFindRun:
    """``find_lr`` of ``config`` on ``dataset`` into ``out_dir``, run in ``child`` (a ``TrainingChild``): its
    ``LrFindStep``/``LogLine`` events go to ``on_event`` as they come; a Stop raises ``JobStopped``."""
    payload = {"config": config.to_dict(), "out_dir": str(out_dir), "dataset": wire.dataset_to_dict(dataset),
               "start_lr": start_lr, "end_lr": end_lr, "steps": steps}
    value = child.run_job("lr_find", payload, on_event, control, interrupted, hooks=hooks)
    return LrFindRun(wire.from_plain(LrFindResult, value["result"]), int(value["pid"]))


def search_job(job: Any) -> dict[str, Any]:
    """Child-process handler of kind "search" (payload: folder, dataset, and for a new search its base config,
    space mapping and settings; ``resume`` continues the one in folder): the trial events go to the app; the
    app's Stop ends the running trial after its batch and starts no other (the result says ``stopped``)."""
    from .search import Search
    from .search_space import parse_space

    payload = job.payload
    dataset = wire.dataset_from_dict(payload["dataset"]) if payload.get("dataset") else None
    search = Search(payload["folder"], callbacks=[_Only(job, SEARCH_EVENTS)], dataset=dataset)
    job.attach(_StopOnly(search.request_stop))  # a Stop already asked is applied here, before the first trial
    try:
        if payload["resume"]:
            result = search.resume()
        else:
            result = search.start(RunConfig.from_dict(payload["base"]), parse_space(payload["space"], "Search space"),
                                  SearchSettings(**payload["settings"]))
    finally:
        job.attach(None)
    return {"result": wire.to_plain(result), "pid": os.getpid()}


def search_in_child(child: Any, folder: str | Path, dataset: LabeledDataset | None, base: RunConfig,
                    space: dict[str, Any], settings: SearchSettings, on_event: Callable[[object], None], control: Any,
                    interrupted: Callable[[], bool] = lambda: False) -> SearchRun:
    """A new search in ``folder`` from ``base`` over ``space`` (a space file's mapping), run in ``child``: its
    trial events go to ``on_event``; ``control``'s Stop ends it early with the finished trials kept."""
    payload = {"folder": str(folder), "dataset": wire.dataset_to_dict(dataset) if dataset is not None else None,
               "resume": False, "base": base.to_dict(), "space": space, "settings": wire.to_plain(settings)}
    return _search_run(child.run_job("search", payload, on_event, control, interrupted))


def resume_search_in_child(child: Any, folder: str | Path, dataset: LabeledDataset | None,
                           on_event: Callable[[object], None], control: Any,
                           interrupted: Callable[[], bool] = lambda: False) -> SearchRun:
    """Continue the search in ``folder`` with its own space and settings, run in ``child`` (see ``search_in_child``)."""
    payload = {"folder": str(folder), "dataset": wire.dataset_to_dict(dataset) if dataset is not None else None,
               "resume": True}
    return _search_run(child.run_job("search", payload, on_event, control, interrupted))


def _search_run(value: dict[str, Any]) -> SearchRun:
    return SearchRun(wire.from_plain(SearchResult, value["result"]), int(value["pid"]))
