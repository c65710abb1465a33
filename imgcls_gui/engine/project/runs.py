"""The runs of a project (``<project>/runs/<name>/``) as plain summaries: what the runs list shows.

Read from each run folder's ``config.yaml`` and ``metrics.json`` only (no torch, no checkpoints),
so listing a hundred runs is instant. A run folder that is half written or damaged is listed
with its problem instead of hiding the others.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

from ..config import RunConfig
from ..config_file import read_json_file
from ..errors import ImgclsError

RunStatus = Literal["finished", "stopped", "early-stopped", "pruned", "failed", "not started", "damaged"]
RUN_INFO_FILE = "run-info.json"  # the user's title and notes for the run (the folder keeps its name)
FAILURE_FILE = "failed.json"  # why a run ended in an error (written by whoever ran it; resuming removes it)
TRIAL_FILE = "trial.json"  # a run that is a trial of a hyper-parameter search: its number, parameters and state

_UNSAFE_NAME = re.compile(r"[^A-Za-z0-9._-]+")


@dataclass(frozen=True)
class RunSummary:
    """One run folder: its config, per-epoch history and best metrics."""

    name: str
    path: Path
    config: RunConfig | None
    history: tuple[dict[str, float], ...] = ()
    final: dict[str, float] = field(default_factory=dict)
    monitor: str = ""
    best_epoch: int = -1
    classes: tuple[str, ...] = ()
    task: str = ""
    has_checkpoint: bool = False
    problem: str = ""  # why the folder could not be read fully
    failure: str = ""  # why the run ended in an error (FAILURE_FILE), "" when it did not
    title: str = ""  # the user's name for the run (RUN_INFO_FILE); "" = the folder's name
    notes: str = ""
    trial_state: str = ""  # a search trial's state (TRIAL_FILE): complete, pruned, failed...; "" = not a trial

    @property
    def display_name(self) -> str:
        return self.title or self.name

    @property
    def epochs_run(self) -> int:
        return len(self.history)

    @property
    def epochs_planned(self) -> int:
        return self.config.train.epochs if self.config is not None else 0

    @property
    def status(self) -> RunStatus:
        if self.problem or self.config is None:
            return "damaged"
        if self.failure:
            return "failed"
        if self.trial_state == "pruned":  # the search stopped it early: its metric trailed the other trials'
            return "pruned"
        if not self.history:
            return "not started"
        if self.epochs_run >= self.epochs_planned:
            return "finished"
        patience = self.config.train.early_stopping_patience
        if patience > 0 and self.epochs_run - 1 - self.best_epoch >= patience:
            return "early-stopped"
        return "stopped"

    @property
    def resumable(self) -> bool:
        """A stopped (or failed, after an epoch) run continues from its last.pt (``Trainer.fit(resume=True)``)."""
        return self.status in ("stopped", "failed") and (self.path / "last.pt").is_file()

    @property
    def best_value(self) -> float:
        return float(self.final.get(self.monitor, math.nan))

    @property
    def backbone(self) -> str:
        return self.config.model.name if self.config is not None else "?"


def read_run(folder: str | Path) -> RunSummary:
    """The summary of one run folder (``problem`` says what could not be read)."""
    folder = Path(folder)
    config: RunConfig | None = None
    problem = ""
    try:
        config = RunConfig.from_file(folder / "config.yaml")
    except ImgclsError as exc:
        problem = str(exc)
    metrics: dict[str, Any] = {}
    metrics_file = folder / "metrics.json"
    if metrics_file.exists():  # not is_file(): a FIFO or folder in its place is named, not skipped
        try:
            metrics = read_json_file(metrics_file)
            if not isinstance(metrics, dict):
                raise ValueError("not a JSON object")
        except (OSError, ValueError) as exc:
            problem = problem or f"{metrics_file}: unreadable ({exc})."
            metrics = {}
    try:
        fields = _metrics_fields(metrics)
    except (TypeError, ValueError) as exc:  # valid JSON of the wrong shape (hand-edited or damaged)
        problem = problem or f"{metrics_file}: unreadable (unexpected content: {str(exc)[:100]})."
        fields = _metrics_fields({})
    return RunSummary(
        name=folder.name,
        path=folder,
        config=config,
        **fields,
        has_checkpoint=(folder / "best.pt").is_file(),
        problem=problem,
        failure=_read_failure(folder),
        trial_state=_read_trial_state(folder),
        **_read_info(folder),
    )


def _metrics_fields(metrics: dict[str, Any]) -> dict[str, Any]:
    return dict(
        history=tuple(h for h in metrics.get("history") or () if isinstance(h, dict)),
        final=dict(metrics.get("final") or {}),
        monitor=str(metrics.get("monitor") or ""),
        best_epoch=int(metrics.get("best_epoch", -1)),
        classes=tuple(metrics.get("classes") or ()),
        task=str(metrics.get("task") or ""),
    )


def set_run_info(folder: str | Path, *, title: str | None = None, notes: str | None = None) -> None:
    """Give a run a title and/or notes (``None`` keeps what is there); the folder is never renamed,
    so configs, checkpoints and the Inference panel keep finding it."""
    from ..checkpoint import atomic_write_text

    folder = Path(folder)
    info = _read_info(folder)
    if title is not None:
        info["title"] = " ".join(title.split())
    if notes is not None:
        info["notes"] = notes.strip()
    atomic_write_text(folder / RUN_INFO_FILE, json.dumps(info, ensure_ascii=False, indent=1) + "\n")


def delete_run(folder: str | Path) -> None:
    """Delete a run folder for good (the app moves it to the trash instead where it can)."""
    import shutil

    folder = Path(folder)
    if not (folder / "config.yaml").is_file():  # never remove a folder that is not a run
        raise ImgclsError(f"{folder}: not a run folder (no config.yaml); nothing was deleted.")
    try:
        shutil.rmtree(folder)
    except OSError as exc:
        raise ImgclsError(f"{folder}: could not delete the run ({exc.strerror or exc}).") from exc


def _read_info(folder: Path) -> dict[str, str]:
    try:
        info = read_json_file(folder / RUN_INFO_FILE)
    except (OSError, ValueError):
        return {}
    if not isinstance(info, dict):
        return {}
    return {key: str(info[key]) for key in ("title", "notes") if isinstance(info.get(key), str)}


def mark_failed(folder: str | Path, reason: str, config: RunConfig | None = None) -> None:
    """Record that the run in ``folder`` ended in an error, so run lists say "failed" and why. A run
    that failed before it wrote its config.yaml gets ``config`` written too, so it is listed at all."""
    from ..checkpoint import atomic_write_text

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    if config is not None and not (folder / "config.yaml").is_file():
        atomic_write_text(folder / "config.yaml", config.to_yaml())
    record = {"reason": reason, "time": datetime.now().isoformat(timespec="seconds")}
    atomic_write_text(folder / FAILURE_FILE, json.dumps(record, ensure_ascii=False) + "\n")


def _read_trial_state(folder: Path) -> str:
    try:
        record = read_json_file(folder / TRIAL_FILE)
    except (OSError, ValueError):
        return ""
    state = record.get("state") if isinstance(record, dict) else None
    return state if isinstance(state, str) else ""


def clear_failure(folder: str | Path) -> None:
    """A failed run is being resumed: it is no longer failed."""
    (Path(folder) / FAILURE_FILE).unlink(missing_ok=True)


def _read_failure(folder: Path) -> str:
    path = folder / FAILURE_FILE
    if not path.is_file():
        return ""
    try:
        record = read_json_file(path)
        return str(record.get("reason") or "unknown error")
    except (OSError, ValueError, AttributeError):
        return "unknown error (its failure record is unreadable)"


def list_runs(runs_dir: str | Path) -> list[RunSummary]:
    """Every run folder (one holding a config.yaml) under ``runs_dir``, newest first."""
    runs_dir = Path(runs_dir)
    if not runs_dir.is_dir():
        return []
    folders = [p for p in runs_dir.iterdir() if p.is_dir() and (p / "config.yaml").is_file()]
    folders.sort(key=lambda p: (p.stat().st_mtime, p.name), reverse=True)
    return [read_run(p) for p in folders]


def new_run_dir(runs_dir: str | Path, label: str = "", now: datetime | None = None) -> Path:
    """A fresh, not yet existing folder ``runs_dir/<YYYYmmdd-HHMMSS>[-label][-N]`` (not created)."""
    runs_dir = Path(runs_dir)
    stamp = (now or datetime.now()).strftime("%Y%m%d-%H%M%S")
    label = _UNSAFE_NAME.sub("-", label).strip("-.")
    base = f"{stamp}-{label}" if label else stamp
    candidate, n = runs_dir / base, 1
    while candidate.exists():
        n += 1
        candidate = runs_dir / f"{base}-{n}"
    return candidate
