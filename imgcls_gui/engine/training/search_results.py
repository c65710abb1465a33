"""A search's bookkeeping: the table of its trials (``trials.csv``), each trial's ``trial.json``, the
parameters' importance (``importance.json``) and the best trial's settings (``best/config.yaml``).
``search.py`` runs the study and calls these after each trial and at the end."""

from __future__ import annotations

import csv
import io
import json
import math
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .. import events as ev
from ..checkpoint import atomic_write_bytes, atomic_write_text
from ..project.runs import TRIAL_FILE

if TYPE_CHECKING:
    import optuna

TRIALS_CSV, IMPORTANCE_FILE, BEST_DIR = "trials.csv", "importance.json", "best"
CSV_COLUMNS = ("trial", "state", "pruned", "metric", "value", "duration_s", "epochs_run", "run_dir")


def write_trials(folder: Path, records: list[ev.TrialEnd], metric: str) -> None:
    """trials.csv of the search in ``folder``, written again (atomically) with every trial so far."""
    atomic_write_text(folder / TRIALS_CSV, trials_csv(records, metric, folder))


def write_outcome(folder: Path, importance: dict[str, float], best: ev.TrialEnd | None) -> None:
    """At the end: importance.json, and the best trial's config.yaml copied into ``best/``."""
    atomic_write_text(folder / IMPORTANCE_FILE, json.dumps(importance, indent=1))
    if best is not None:
        (folder / BEST_DIR).mkdir(exist_ok=True)
        atomic_write_bytes(folder / BEST_DIR / "config.yaml", (Path(best.run_dir) / "config.yaml").read_bytes())


def trial_records(study: "optuna.Study") -> list[ev.TrialEnd]:
    """Every trial of ``study`` as a table row: state, settings, metric (a pruned trial's last report), time."""
    records = []
    for trial in study.get_trials(deepcopy=False):
        state = trial.state.name.lower()
        if state == "fail" and trial.user_attrs.get("interrupted"):
            state = "stopped"
        elif state == "fail":
            state = "failed"
        value = trial.value
        if value is None and trial.intermediate_values:
            value = trial.intermediate_values[max(trial.intermediate_values)]
        seconds = trial.duration.total_seconds() if trial.duration is not None else 0.0
        records.append(ev.TrialEnd(trial.number, state, dict(trial.params), value, seconds,
                                   len(trial.intermediate_values), str(trial.user_attrs.get("run_dir", ""))))
    return records


def trials_csv(records: list[ev.TrialEnd], metric: str, folder: Path | None = None) -> str:
    """trials.csv: one row per trial, then one column per parameter (in the order they first appear); run
    folders relative to the search ``folder``, so the table still reads after the folder moved."""
    names: list[str] = []
    for record in records:
        names += [name for name in record.params if name not in names]
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow([*CSV_COLUMNS, *names])
    for r in records:
        value = "" if r.value is None else f"{r.value:.6g}"
        run_dir = Path(r.run_dir) if r.run_dir else None
        if run_dir is not None and folder is not None and run_dir.is_relative_to(folder):
            run_dir = run_dir.relative_to(folder)
        writer.writerow([r.number, r.state, str(r.state == "pruned").lower(), metric, value, f"{r.seconds:.2f}",
                         r.epochs_run, run_dir or "", *(r.params.get(name, "") for name in names)])
    return out.getvalue()


def parameter_importance(study: "optuna.Study") -> dict[str, float]:
    """Optuna's fANOVA importance of each searched parameter (sums to 1); {} until two trials completed
    with different settings."""
    import optuna
    from optuna.trial import TrialState

    completed = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
    if len(completed) < 2:
        return {}
    try:
        importance = optuna.importance.get_param_importances(
            study, evaluator=optuna.importance.FanovaImportanceEvaluator(seed=0))
    except (RuntimeError, ValueError):  # every trial had the same settings, or a value was not finite
        return {}
    return {name: float(value) for name, value in importance.items()}


def write_trial_file(run_dir: Path, number: int, state: str, params: dict[str, Any], value: float | None = None) -> None:
    record = {"trial": number, "state": state, "params": params, "value": value, "search": str(run_dir.parent.parent)}
    atomic_write_text(run_dir / TRIAL_FILE, json.dumps(record, indent=1, default=str))


def best_trial(records: list[ev.TrialEnd], direction: str) -> ev.TrialEnd | None:
    complete = [r for r in records if r.state == "complete" and r.value is not None and math.isfinite(r.value)]
    if not complete:
        return None
    pick = min if direction == "minimize" else max
    return pick(complete, key=lambda r: (r.value, -r.number) if direction != "minimize" else (r.value, r.number))


def finished_trials(study: "optuna.Study") -> int:
    from optuna.trial import TrialState

    return len(study.get_trials(deepcopy=False, states=(TrialState.COMPLETE, TrialState.PRUNED)))
