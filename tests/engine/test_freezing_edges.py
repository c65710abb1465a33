"""Freezing (models/freezing.py) edges: the freeze plan read from group names alone (no model), its log
line, phases and rate factors; then rates and BatchNorm on one small model. Written to kill the mutants
tools/mutation.sh found surviving."""

from __future__ import annotations

import pytest
import torch

from imgcls_gui.engine.config import FreezeConfig, ModelConfig
from imgcls_gui.engine.errors import ConfigError
from imgcls_gui.engine.models.build import build_model
from imgcls_gui.engine.models.freezing import (
    HEAD_GROUP,
    decay_factors,
    describe_layer_groups,
    freeze_plan,
    set_frozen_batchnorm_eval,
    trainable_parameter_groups,
    unfreeze_all_groups,
)

BODY = ("stem", "early", "late")


@pytest.fixture(scope="module")
def resnet18() -> torch.nn.Module:
    return build_model(ModelConfig("resnet18", weights="none"), 3)


def test_decay_factors_fall_by_the_decay_per_group_below_the_head():
    assert decay_factors(4, 0.5) == (0.125, 0.25, 0.5, 1.0)
    assert decay_factors(1, 0.1) == (1.0,)
    assert decay_factors(0, 0.5) == ()


@pytest.mark.parametrize("mode, groups, frozen", [
    ("none", 2, ()), ("head", 0, BODY), ("first-n", 2, BODY[:2]), ("first-n", 9, BODY), ("first-n", -3, ()),
    ("first-n", 0, ()), ("two-phase", 0, BODY),
])
def test_the_plan_freezes_what_each_mode_says(mode, groups, frozen):
    plan = freeze_plan(BODY, FreezeConfig(mode, groups=groups, head_epochs=3, lr_decay=0.5))
    assert plan.mode == mode
    assert plan.frozen_names == frozen and plan.frozen_count == len(frozen)
    assert [g.name for g in plan.groups] == [*BODY, HEAD_GROUP]
    assert [g.is_head for g in plan.groups] == [False, False, False, True]
    assert plan.body_count == 3
    assert not any(g.frozen for g in plan.groups if g.is_head)


def test_only_two_phase_unfreezes_decays_rates_and_counts_head_epochs():
    two = freeze_plan(BODY, FreezeConfig("two-phase", head_epochs=2, lr_decay=0.5))
    assert two.unfreezes and two.head_epochs == 2
    assert two.lr_factors == {"stem": 0.125, "early": 0.25, "late": 0.5, HEAD_GROUP: 1.0}
    assert [two.phase_at(epoch) for epoch in range(4)] == ["head", "head", "finetune", "finetune"]
    for mode in ("none", "head", "first-n"):
        plan = freeze_plan(BODY, FreezeConfig(mode, groups=1, head_epochs=2, lr_decay=0.5))
        assert not plan.unfreezes and plan.head_epochs == 0
        assert set(plan.lr_factors.values()) == {1.0}
        assert plan.phase_at(0) == plan.phase_at(5) == "train"


def test_each_plan_describes_itself_in_one_line():
    def line(mode, groups=0):
        return freeze_plan(BODY, FreezeConfig(mode, groups=groups, head_epochs=2, lr_decay=0.5)).describe()

    assert line("none") == "every layer trains (3 layer groups and the head)"
    assert line("head") == "only the head trains (all 3 layer groups frozen)"
    assert line("first-n", 2) == "2 of 3 layer groups frozen (stem, early); the rest and the head train"
    assert line("first-n", 3) == "only the head trains (all 3 layer groups frozen)"
    assert line("two-phase") == ("two-phase: the head trains alone for 2 epoch(s), then all 3 layer groups join at "
                                 "rate factors 0.125, 0.25, 0.5, 1 (earliest first)")


def test_an_unknown_mode_names_the_known_ones():
    with pytest.raises(ConfigError, match="freeze.mode: unknown mode 'all'; use one of none, head, first-n, two-phase."):
        freeze_plan(BODY, FreezeConfig("all"))  # type: ignore[arg-type]


def test_rates_decay_by_depth_with_the_head_at_full_rate(resnet18):
    for param in resnet18.parameters():
        param.requires_grad_(True)
    groups = trainable_parameter_groups(resnet18, lr=1.0, lr_decay=0.5)
    names = [info.name for info in describe_layer_groups(resnet18)]
    assert [g["name"] for g in groups] == names
    assert [g["lr"] for g in groups] == [0.5 ** (len(names) - 1 - i) for i in range(len(names))]
    assert [g["lr"] for g in trainable_parameter_groups(resnet18, lr=0.2)] == [0.2] * len(names)


def test_unfreezing_uses_the_plans_factors_when_given(resnet18):
    names = [info.name for info in describe_layer_groups(resnet18)]
    for name, param in resnet18.named_parameters():
        param.requires_grad_(name.startswith("fc."))
    optimizer = torch.optim.SGD(trainable_parameter_groups(resnet18, lr=1.0), lr=1.0)
    factors = {name: 0.1 * (i + 1) for i, name in enumerate(names)}
    unfreeze_all_groups(resnet18, optimizer, lr=2.0, lr_factors=factors)
    added = {g["name"]: g["lr"] for g in optimizer.param_groups[1:]}
    assert added == pytest.approx({name: 2.0 * factors[name] for name in names[:-1]})
    assert optimizer.param_groups[0]["lr"] == 1.0  # the head keeps its group and rate
    assert all(p.requires_grad for p in resnet18.parameters())


def test_unfreezing_without_factors_decays_from_the_head(resnet18):
    names = [info.name for info in describe_layer_groups(resnet18)]
    for name, param in resnet18.named_parameters():
        param.requires_grad_(name.startswith("fc."))
    optimizer = torch.optim.SGD(trainable_parameter_groups(resnet18, lr=1.0), lr=1.0)
    unfreeze_all_groups(resnet18, optimizer, lr=1.0, lr_decay=0.5)
    n = len(names)
    assert [g["lr"] for g in optimizer.param_groups[1:]] == [0.5 ** (n - 1 - i) for i in range(n - 1)]
    optimizer = torch.optim.SGD(trainable_parameter_groups(resnet18, lr=1.0), lr=1.0)
    unfreeze_all_groups(resnet18, optimizer, lr=1.0)
    assert len(optimizer.param_groups) == n  # nothing added: every parameter was already in the optimizer


def test_batchnorm_without_parameters_follows_its_frozen_group():
    model = build_model(ModelConfig("resnet18", weights="none"), 3)
    model.bn1 = torch.nn.BatchNorm2d(64, affine=False)  # stem norm with no parameters of its own
    stem = describe_layer_groups(model)[0].name
    for name, param in model.named_parameters():
        param.requires_grad_(not (name.startswith("conv1") or name.startswith("bn1")))
    model.train()
    set_frozen_batchnorm_eval(model)
    assert describe_layer_groups(model)[0].trainable == 0, stem
    assert not model.bn1.training
    assert model.layer4[0].bn1.training  # trainable norms keep updating their statistics
