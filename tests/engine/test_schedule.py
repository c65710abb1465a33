from __future__ import annotations

import pytest
import torch

from imgcls_gui.engine.config import OptimConfig
from imgcls_gui.engine.errors import ConfigError
from imgcls_gui.engine.training.schedule import apply_lr, build_optimizer, lr_factor


@pytest.mark.parametrize("name", ["sgd", "adam", "adamw", "rmsprop", "adagrad", "adadelta"])
def test_every_optimizer_takes_a_step(name):
    layer = torch.nn.Linear(3, 2)
    opt = build_optimizer([{"params": list(layer.parameters()), "lr": 0.1}], OptimConfig(optimizer=name, lr=0.1))
    before = layer.weight.detach().clone()
    layer(torch.randn(4, 3)).pow(2).sum().backward()
    opt.step()
    assert not torch.equal(before, layer.weight)


def test_unknown_optimizer_is_a_config_error():
    with pytest.raises(ConfigError, match="unknown optimizer"):
        build_optimizer([{"params": [torch.nn.Parameter(torch.zeros(1))], "lr": 1}], OptimConfig(optimizer="lamb"))  # type: ignore[arg-type]


def test_cosine_with_warmup_rises_then_decays_to_zero():
    cfg = OptimConfig(scheduler="cosine", warmup_epochs=1)
    factors = [lr_factor(cfg, s, total_steps=100, steps_per_epoch=10) for s in range(100)]
    assert factors[0] < factors[5] < factors[9] <= 1.0
    assert factors[10] == pytest.approx(1.0)
    assert all(a >= b for a, b in zip(factors[10:], factors[11:]))
    assert factors[-1] < 0.01


def test_step_schedule_decays_every_step_size_epochs():
    cfg = OptimConfig(scheduler="step", step_size=2, gamma=0.5)
    assert [lr_factor(cfg, e * 10, 100, 10) for e in range(5)] == [1, 1, 0.5, 0.5, 0.25]


def test_onecycle_peaks_at_thirty_percent():
    cfg = OptimConfig(scheduler="onecycle")
    factors = [lr_factor(cfg, s, 100, 10) for s in range(100)]
    assert max(range(100), key=factors.__getitem__) == 30
    assert factors[0] < 0.1 and factors[-1] < 0.01


def test_apply_lr_scales_each_groups_base_rate():
    a, b = torch.nn.Parameter(torch.zeros(1)), torch.nn.Parameter(torch.zeros(1))
    opt = build_optimizer([{"params": [a], "lr": 0.01}, {"params": [b], "lr": 0.1}], OptimConfig(optimizer="sgd"))
    apply_lr(opt, 0.5)
    apply_lr(opt, 0.5)  # factors apply to the base rate, never compound
    assert [g["lr"] for g in opt.param_groups] == pytest.approx([0.005, 0.05])
