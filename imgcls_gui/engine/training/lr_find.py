"""Learning-rate range test (Smith 2015; fastai's ``lr_find``): which rate to train at, measured not guessed.

The rate grows exponentially from ``start_lr`` to ``end_lr`` over a few hundred optimizer steps
while the training loss is recorded and smoothed (an exponential moving average, debiased). The
sweep stops once the smoothed loss exceeds ``diverge`` times its minimum. A good rate lies where
the loss still falls steeply, well before the minimum; three usual rules pick one
(``suggest_lrs``). The model, the optimizer and the random streams are put back afterwards, so a
sweep leaves a run exactly as it found it.

It runs on the run's own setup (``prepare_run``: data, split, model, freezing, optimizer) and on
cached backbone features while the backbone is frozen, as training does, so a head-only sweep
costs seconds once the features exist.
"""

from __future__ import annotations

import dataclasses
import json
import math
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .. import events as ev
from ..checkpoint import atomic_write_text
from ..config import RunConfig, check_config
from ..errors import CheckpointError, ConfigError, StopRequested
from .state import RunControl, RunState, capture_rng, restore_rng, seed_everything

if TYPE_CHECKING:
    from ..data.samples import LabeledDataset

DEFAULT_START_LR = 1e-7
DEFAULT_END_LR = 10.0
DEFAULT_STEPS = 200
DIVERGE_FACTOR = 4.0  # stop once the smoothed loss is this many times its minimum (fastai's rule)
SMOOTHING = 0.98  # weight of the past in the loss's moving average
RESULT_FILE = "lr_find.json"
PLOT_FILE = "lr_find.png"
# The rules, in the order they are shown; the first is the one recommended.
RULES = ("valley", "steepest", "minimum/10")


@dataclass(frozen=True)
class LrFindResult:
    """One sweep: the rates tried, the raw and smoothed losses, and the rates each rule suggests."""

    lrs: list[float]
    losses: list[float]
    smoothed: list[float]
    suggestions: dict[str, float]  # rule -> learning rate (empty when too few steps ran to judge)
    diverged: bool  # True when the loss blew up before end_lr (the usual end of a sweep)
    start_lr: float
    end_lr: float
    steps: int  # planned steps; len(lrs) ran
    current_lr: float  # the config's rate, for comparison
    on_features: bool  # True when the sweep trained the head on cached backbone features
    seconds: float = 0.0
    model: str = ""
    freeze: str = ""
    optimizer: str = ""
    notes: list[str] = field(default_factory=list)

    @property
    def recommended(self) -> float | None:
        """The rate of the first rule that gave one (valley, the most robust, when it did)."""
        return next((self.suggestions[rule] for rule in RULES if rule in self.suggestions), None)

    def to_json(self) -> str:
        return json.dumps({**asdict(self), "recommended": self.recommended}, indent=2)

    @classmethod
    def from_json(cls, text: str) -> "LrFindResult":
        data = json.loads(text)
        data.pop("recommended", None)
        known = set(cls.__dataclass_fields__)
        return cls(**{k: v for k, v in data.items() if k in known})

    def save(self, folder: Path) -> tuple[Path, Path]:
        """Write ``lr_find.json`` and the ``lr_find.png`` plot into ``folder``; returns both paths."""
        from .lr_plot import render_lr_plot

        folder.mkdir(parents=True, exist_ok=True)
        json_path, png_path = folder / RESULT_FILE, folder / PLOT_FILE
        atomic_write_text(json_path, self.to_json())
        render_lr_plot(self, png_path)
        return json_path, png_path


def read_lr_find(folder: str | Path) -> LrFindResult:
    """The sweep saved in ``folder`` (its ``lr_find.json``)."""
    path = Path(folder) / RESULT_FILE
    try:
        return LrFindResult.from_json(path.read_text(encoding="utf-8"))
    except (OSError, ValueError, TypeError) as exc:
        raise CheckpointError(f"{path}: not a learning-rate sweep imgcls wrote ({exc}); run the finder again.") from exc


def find_lr(
    config: RunConfig,
    out_dir: str | Path,
    *,
    dataset: "LabeledDataset | None" = None,
    callbacks: list[Any] | tuple[Any, ...] = (),
    should_stop: Callable[[], bool] | None = None,
    start_lr: float = DEFAULT_START_LR,
    end_lr: float = DEFAULT_END_LR,
    steps: int = DEFAULT_STEPS,
) -> LrFindResult:
    """Set the run up as training would (into ``out_dir``: config.yaml, split.json), sweep, save JSON + PNG there.

    ``callbacks`` get ``LrFindStep`` and ``LogLine`` events; ``should_stop`` returning True ends the
    sweep with ``StopRequested`` (nothing is saved then).
    """
    from .loop import enter_phase_for
    from .setup import prepare_run

    check_sweep(start_lr, end_lr, steps)
    check_config(config)
    out = Path(out_dir)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise CheckpointError(f"{out}: cannot create the folder ({exc.strerror or exc}); choose one you can write to.") from exc

    def emit(event: Any) -> None:
        for callback in callbacks:
            callback.on_event(event)

    def check() -> None:
        if should_stop is not None and should_stop():
            raise StopRequested()

    control = RunControl(emit, check)
    started = time.perf_counter()
    seed_everything(config.train.seed, config.train.deterministic)
    run = prepare_run(config, out, dataset, None, control)
    enter_phase_for(run, 0, control)  # cached features when the backbone starts frozen
    result = lr_range_test(run, control, start_lr=start_lr, end_lr=end_lr, steps=steps)
    cfg = run.plan.config
    result = dataclasses.replace(result, seconds=time.perf_counter() - started, model=cfg.model.name, freeze=cfg.freeze.mode,
                   optimizer=cfg.optim.optimizer)
    result.save(out)
    return result


def check_sweep(start_lr: float, end_lr: float, steps: int) -> None:
    """Refuse a sweep that cannot be run: a range that does not grow, or too few steps to judge."""
    if not (0 < start_lr < end_lr) or not math.isfinite(end_lr):
        raise ConfigError(f"learning-rate sweep from {start_lr:g} to {end_lr:g}: the start must be above 0 and below "
                          "the end (e.g. 1e-7 to 10).")
    if not 10 <= steps <= 10_000:
        raise ConfigError(f"learning-rate sweep of {steps} steps: use 10 to 10000 (a few hundred is usual).")


def lr_range_test(
    run: RunState,
    control: RunControl,
    *,
    start_lr: float = DEFAULT_START_LR,
    end_lr: float = DEFAULT_END_LR,
    steps: int = DEFAULT_STEPS,
    diverge: float = DIVERGE_FACTOR,
) -> LrFindResult:
    """Sweep ``run``'s rate exponentially and record the loss; the run's model, optimizer, step and RNG are restored.

    The swept rate is the config's ``optim.lr`` (the head's rate): every parameter group keeps its
    ratio to it, as two-phase freezing's smaller rates for earlier layers do in training.
    """
    import torch

    from ..models.freezing import set_frozen_batchnorm_eval
    from .loop import _active, _step

    check_sweep(start_lr, end_lr, steps)
    plan = run.plan
    saved = _Snapshot(run)
    module, loader, _ = _active(run)
    images_input = module is run.model
    reference_lr = plan.config.optim.lr
    growth = (end_lr / start_lr) ** (1 / (steps - 1))
    lrs: list[float] = []
    losses: list[float] = []
    smoothed: list[float] = []
    average, best, diverged = 0.0, math.inf, False
    try:
        module.train()
        set_frozen_batchnorm_eval(run.model)
        batches = _endless(loader)
        for step in range(steps):
            control.check_requests()
            lr = start_lr * growth**step
            for group in run.optimizer.param_groups:  # each group keeps its ratio to the head's rate
                group["lr"] = group.get("base_lr", group["lr"]) * lr / reference_lr
            inputs, targets, _index = next(batches)
            inputs = inputs.to(plan.device, non_blocking=True)
            if plan.channels_last and images_input:
                inputs = inputs.contiguous(memory_format=torch.channels_last)
            loss = float(_step(run, module, inputs, targets.to(plan.device, non_blocking=True)).item())
            if not math.isfinite(loss):
                diverged = True
                break
            average = SMOOTHING * average + (1 - SMOOTHING) * loss
            smooth = average / (1 - SMOOTHING ** (step + 1))
            lrs.append(lr)
            losses.append(loss)
            smoothed.append(smooth)
            best = min(best, smooth)
            control.emit(ev.LrFindStep(step, steps, lr, loss, smooth))
            if step > 0 and smooth > diverge * best:
                diverged = True
                break
    finally:
        saved.restore(run)
    notes = []
    suggestions = suggest_lrs(lrs, smoothed)
    if not suggestions:
        notes.append(f"the loss diverged after {len(lrs)} step(s): start the sweep lower than {start_lr:g}")
    elif not diverged:
        notes.append(f"the loss never diverged up to {end_lr:g}: a larger end rate may show where it does")
    return LrFindResult(lrs, losses, smoothed, suggestions, diverged, start_lr, end_lr, steps, reference_lr,
                        run.feature_loaders is not None, notes=notes)


def suggest_lrs(lrs: list[float], smoothed: list[float]) -> dict[str, float]:
    """Rates picked from a sweep by the usual rules (fastai's), each within the swept range.

    valley: half way down the longest stretch over which the loss keeps falling; steepest: where
    the loss falls fastest per decade; minimum/10: a tenth of the rate at the lowest loss. The first
    tenth of the sweep (still warming the average) and its last steps (diverging) are left out.
    """
    import numpy as np

    if len(lrs) < 5:
        return {}
    lr = np.asarray(lrs, dtype=float)
    loss = np.asarray(smoothed, dtype=float)
    first, last = len(lr) // 10, len(lr) - min(5, len(lr) // 10)
    if last - first >= 5:
        lr, loss = lr[first:last], loss[first:last]
    low, high = float(lr.min()), float(lr.max())

    def within(value: float) -> float:
        return float(min(high, max(low, value)))

    slopes = np.diff(loss) / np.diff(np.log(lr))
    return {
        "valley": within(lr[_valley_index(loss)]),
        "steepest": within(lr[int(np.argmin(slopes))]),
        "minimum/10": within(lr[int(np.argmin(loss))] / 10),
    }


def _valley_index(loss: Any) -> int:
    """fastai's valley rule: the longest decreasing subsequence of ``loss``, and the point half its length back from its end.

    The stretch is measured back from its end by its length, not from its first point: in a noisy
    flat start a decreasing subsequence picks a few points far apart, and counting from the first
    of them would put the suggestion at rates where the loss has not begun to fall.
    """
    n = len(loss)
    length = [1] * n  # length of the longest decreasing subsequence ending at i
    end = 0
    for i in range(1, n):
        for j in range(i):
            if loss[i] < loss[j] and length[j] + 1 > length[i]:
                length[i] = length[j] + 1
        if length[i] > length[end]:
            end = i
    start = max(0, end - length[end])
    third = (end - start) / 3
    return start + int(third) + int(third / 2)


def _endless(loader: Any) -> Iterator[tuple[Any, Any, Any]]:
    """Batches of ``loader`` epoch after epoch (a sweep may outlast one pass over a small dataset)."""
    epoch = 0
    while True:
        loader.set_epoch(epoch)
        empty = True
        for batch in loader:
            empty = False
            yield batch
        if empty:
            raise ConfigError("the training part has no batch to sweep over; add images or lower the batch size.")
        epoch += 1


class _Snapshot:
    """What a sweep changes and must put back: weights and buffers, optimizer state and rates, modes, step, RNG."""

    def __init__(self, run: RunState) -> None:
        self.model = {k: v.detach().clone() for k, v in run.model.state_dict().items()}
        self.optimizer = _clone(run.optimizer.state_dict())
        self.scaler = run.scaler.state_dict() if run.scaler is not None else None
        self.modes = {name: module.training for name, module in run.model.named_modules()}
        self.step = run.step
        self.rng = capture_rng()

    def restore(self, run: RunState) -> None:
        run.model.load_state_dict(self.model)
        run.optimizer.load_state_dict(self.optimizer)
        if self.scaler is not None and run.scaler is not None:
            run.scaler.load_state_dict(self.scaler)
        for name, module in run.model.named_modules():
            module.train(self.modes.get(name, module.training))
        run.step = self.step
        restore_rng(self.rng)


def _clone(value: Any) -> Any:
    """A deep copy of an optimizer state dict (tensors cloned, containers rebuilt)."""
    import torch

    if isinstance(value, torch.Tensor):
        return value.detach().clone()
    if isinstance(value, dict):
        return {k: _clone(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(_clone(v) for v in value)
    return value
