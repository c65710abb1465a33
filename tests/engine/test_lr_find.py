"""The learning-rate finder: an exponential sweep that stops when the loss diverges, leaves the run as it
found it, and suggests rates inside the range it swept."""

from __future__ import annotations

import dataclasses
import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from imgcls_gui.engine import events as ev
from imgcls_gui.engine.config import FreezeConfig, OptimConfig, RunConfig
from imgcls_gui.engine.errors import ConfigError, StopRequested
from imgcls_gui.engine.training.loop import enter_phase_for
from imgcls_gui.engine.training.lr_find import (RULES, LrFindResult, find_lr, lr_range_test, read_lr_find,
                                                suggest_lrs)
from imgcls_gui.engine.training.setup import prepare_run
from imgcls_gui.engine.training.state import RunControl, seed_everything

from .test_training import tiny_config
from .tiny_data import make_class_folders


def sweep_config(data: Path, tmp_path: Path, freeze: str = "head") -> RunConfig:
    """The tiny training config with SGD, whose loss blows up at large rates (AdamW's steps stay bounded)."""
    cfg = tiny_config(data, feature_cache_dir=str(tmp_path / "features"))
    return cfg.replace(freeze=FreezeConfig(mode=freeze), optim=OptimConfig(optimizer="sgd", lr=0.01, scheduler="constant"))


class Steps:
    """Records the sweep's steps; remembers a weight as it was at the last step (the sweep did change it)."""

    def __init__(self, model: torch.nn.Module | None = None) -> None:
        self.model = model
        self.steps: list[ev.LrFindStep] = []
        self.weight_during: torch.Tensor | None = None

    def on_event(self, event: object) -> None:
        if isinstance(event, ev.LrFindStep):
            self.steps.append(event)
            if self.model is not None:
                self.weight_during = next(self.model.parameters()).detach().clone()


def state_of(run) -> tuple[dict, dict]:
    model = {k: v.detach().clone() for k, v in run.model.state_dict().items()}
    optimizer = run.optimizer.state_dict()
    return model, {"state": {k: {n: t.clone() if torch.is_tensor(t) else t for n, t in s.items()}
                             for k, s in optimizer["state"].items()},
                   "param_groups": [dict(g) for g in optimizer["param_groups"]]}


def test_whole_model_sweep_grows_exponentially_stops_on_divergence_and_restores_everything(tmp_path: Path):
    data = make_class_folders(tmp_path / "data", per_class=8)
    cfg = sweep_config(data, tmp_path, freeze="none")  # every layer trains: BatchNorm statistics move too
    seed_everything(0)
    recorder = Steps()
    control = RunControl(recorder.on_event, lambda: None)
    (tmp_path / "out").mkdir()
    run = prepare_run(cfg, tmp_path / "out", None, None, control)
    enter_phase_for(run, 0, control)
    assert run.feature_loaders is None
    # One ordinary step first, so the optimizer has momentum buffers to restore, not just an empty state.
    images, targets, _ = next(iter(run.plan.train_loader))
    run.plan.criterion(run.model(images), targets).backward()
    run.optimizer.step()
    run.step = 5
    before_model, before_optimizer = state_of(run)
    torch_rng = torch.get_rng_state()
    recorder.model = run.model

    result = lr_range_test(run, control, start_lr=1e-5, end_lr=1e5, steps=24)

    assert result.diverged and 5 <= len(result.lrs) < 24  # stopped before the planned end
    lrs = np.array(result.lrs)
    assert lrs[0] == pytest.approx(1e-5) and np.all(np.diff(lrs) > 0)
    ratios = lrs[1:] / lrs[:-1]
    assert np.allclose(ratios, (1e5 / 1e-5) ** (1 / 23))  # the same factor at every step: exponential
    assert [s.lr for s in recorder.steps] == result.lrs and recorder.steps[-1].steps == 24
    assert not torch.equal(recorder.weight_during, before_model[next(iter(before_model))])  # it did train
    after_model, after_optimizer = state_of(run)
    assert after_model.keys() == before_model.keys()
    assert all(torch.equal(after_model[k], before_model[k]) for k in before_model)  # weights and BN buffers
    assert after_optimizer["param_groups"] == before_optimizer["param_groups"]  # rates put back
    assert after_optimizer["state"].keys() == before_optimizer["state"].keys()
    for key, state in before_optimizer["state"].items():
        assert all(torch.equal(after_optimizer["state"][key][n], t) for n, t in state.items())
    assert run.step == 5 and torch.equal(torch.get_rng_state(), torch_rng)
    low, high = min(result.lrs), max(result.lrs)
    assert set(result.suggestions) == set(RULES)
    assert all(low <= lr <= high for lr in result.suggestions.values())
    assert result.recommended == result.suggestions["valley"]


def test_head_only_sweep_runs_on_cached_features_and_saves_json_and_plot(tmp_path: Path):
    data = make_class_folders(tmp_path / "data", per_class=8)
    steps = Steps()
    result = find_lr(sweep_config(data, tmp_path), tmp_path / "out", callbacks=[steps], start_lr=1e-5, end_lr=1e5,
                     steps=60)
    assert result.on_features and result.diverged and len(result.lrs) < 60
    assert list(tmp_path.glob("features/*.npy"))  # the backbone ran once per image; the sweep trained the head
    assert result.model == "mobilenet_v3_small" and result.freeze == "head" and result.current_lr == 0.01
    saved = json.loads((tmp_path / "out" / "lr_find.json").read_text())
    assert saved["lrs"] == result.lrs and saved["recommended"] == result.recommended
    assert read_lr_find(tmp_path / "out") == result
    with Image.open(tmp_path / "out" / "lr_find.png") as plot:
        assert plot.format == "PNG" and plot.size[0] > 400
        colours = {colour for _count, colour in plot.getcolors(1_000_000)}
    assert (34, 139, 34) in colours  # the valley suggestion's line is drawn
    assert (tmp_path / "out" / "config.yaml").is_file()  # the setup it ran on replays with imgcls train --config


def test_a_stop_request_ends_the_sweep_and_still_restores_the_model(tmp_path: Path):
    data = make_class_folders(tmp_path / "data", per_class=6)
    recorder = Steps()

    def check() -> None:
        if len(recorder.steps) >= 3:
            raise StopRequested()

    control = RunControl(recorder.on_event, check)
    (tmp_path / "out").mkdir()
    run = prepare_run(sweep_config(data, tmp_path), tmp_path / "out", None, None, control)
    enter_phase_for(run, 0, control)
    before, _ = state_of(run)
    with pytest.raises(StopRequested):
        lr_range_test(run, control, steps=50)
    assert len(recorder.steps) == 3
    after, _ = state_of(run)
    assert all(torch.equal(after[k], before[k]) for k in before)


def _u_curve(points: int = 100) -> tuple[list[float], list[float]]:
    """A loss flat at first, falling fastest around 1e-3, lowest at 1e-1, then blowing up."""
    lrs = list(np.logspace(-7, 1, points))
    x = np.log10(lrs)
    loss = 2.0 - 1.5 / (1 + np.exp(-(x + 3) * 2.5)) + np.where(x > -1, (x + 1) ** 2 * 3, 0)
    return lrs, list(loss)


def test_suggestions_follow_the_usual_rules_on_a_known_curve():
    lrs, loss = _u_curve()
    found = suggest_lrs(lrs, loss)
    assert list(found) == list(RULES)
    assert 10**-3.3 < found["steepest"] < 10**-2.7  # where the loss falls fastest
    lowest = lrs[int(np.argmin(loss))]
    assert found["minimum/10"] == pytest.approx(lowest / 10)
    # valley: half way along the longest falling stretch, so before the bottom and near the steepest fall
    assert lrs[0] < found["valley"] < lowest and abs(math.log10(found["valley"] / found["steepest"])) < 1.5


def test_suggestions_stay_within_the_sweep_and_need_enough_points():
    lrs, loss = _u_curve(30)
    rising = [1.0 + i for i in range(30)]  # lowest at the very first rate: a tenth of it is outside the sweep
    for curve in (loss, rising):
        found = suggest_lrs(lrs, curve)
        assert all(min(lrs) <= lr <= max(lrs) for lr in found.values())
    assert suggest_lrs(lrs[:4], loss[:4]) == {}
    result = LrFindResult(lrs[:4], loss[:4], loss[:4], {}, True, 1e-7, 10.0, 100, 1e-3, False)
    assert result.recommended is None


@pytest.mark.parametrize("start, end, steps", [(0.0, 1.0, 100), (1.0, 0.1, 100), (1e-7, 10.0, 5)])
def test_a_sweep_that_cannot_run_is_refused_before_any_work(tmp_path: Path, start, end, steps):
    cfg = dataclasses.replace(RunConfig(), data=dataclasses.replace(RunConfig().data, path=str(tmp_path)))
    with pytest.raises(ConfigError, match="sweep"):
        find_lr(cfg, tmp_path / "out", start_lr=start, end_lr=end, steps=steps)
    assert not (tmp_path / "out").exists()
