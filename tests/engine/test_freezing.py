"""Freezing by layer groups, frozen BatchNorm, discriminative rates, and one train step per backbone."""

from __future__ import annotations

import pytest
import torch

from imgcls_gui.engine.config import FreezeConfig, ModelConfig
from imgcls_gui.engine.errors import ConfigError, ModelError
from imgcls_gui.engine.models.freezing import (
    apply_freeze_mode,
    describe_layer_groups,
    freeze_layer_groups,
    freeze_plan,
    layer_groups,
    set_frozen_batchnorm_eval,
    trainable_parameter_groups,
    unfreeze_all_groups,
)
from imgcls_gui.engine.models.build import build_model, count_parameters, head_module
from imgcls_gui.engine.models.registry import BackboneSpec, get_backbone, is_under, list_backbones

# Small inputs keep the sweep fast; alexnet needs >= 63 px, inception_v3 >= 75 (its auxiliary
# classifier needs 299, so at 75 px it is built without one).
IMAGE_SIZE = {"alexnet": 64, "inception_v3": 75}


def _resnet18(**overrides) -> torch.nn.Module:
    return build_model(ModelConfig("resnet18", weights="none", **overrides), 3)


def _frozen_names(model: torch.nn.Module) -> list[str]:
    return [info.name for info in describe_layer_groups(model) if info.trainable == 0]


def _norm_stats(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {name: buf.clone() for name, buf in model.named_buffers() if "running_" in name}


def _loss(output, targets: torch.Tensor) -> torch.Tensor:
    loss = torch.nn.functional.cross_entropy(getattr(output, "logits", output), targets)
    aux = getattr(output, "aux_logits", None)
    return loss if aux is None else loss + 0.4 * torch.nn.functional.cross_entropy(aux, targets)


def _train_step(model: torch.nn.Module, size: int, batch: int = 2) -> tuple[torch.Tensor, torch.optim.Optimizer]:
    model.train()
    set_frozen_batchnorm_eval(model)
    optimizer = torch.optim.SGD(trainable_parameter_groups(model, lr=0.01), lr=0.01)
    images = torch.randn(batch, 3, size, size, generator=torch.Generator().manual_seed(0))
    loss = _loss(model(images), torch.arange(batch) % 3)
    loss.backward()
    optimizer.step()
    return loss.detach(), optimizer


@pytest.mark.parametrize("spec", list_backbones(), ids=lambda s: s.name)
def test_every_backbone_trains_one_step_in_each_freeze_mode(spec: BackboneSpec) -> None:
    torch.manual_seed(0)
    size = IMAGE_SIZE.get(spec.name, 64)
    model = build_model(ModelConfig(spec.name, weights="none", image_size=size), 3)
    assert model.get_submodule(spec.cam_layer) is not None  # Grad-CAM's layer (test_explain runs one per family)
    initial = {k: v.clone() for k, v in model.state_dict().items()}
    for mode in ("none", "head", "first-n"):
        model.load_state_dict(initial)  # each mode starts from the same weights and statistics
        apply_freeze_mode(model, mode, groups=2)
        groups = layer_groups(model)
        frozen_groups = [name for name, params in groups if not any(p.requires_grad for p in params)]
        assert len(frozen_groups) == {"none": 0, "head": len(groups) - 1, "first-n": 2}[mode]
        names = {id(p): n for n, p in model.named_parameters()}
        before = {n: p.detach().clone() for n, p in model.named_parameters()}
        stats_before = _norm_stats(model)
        model.zero_grad(set_to_none=True)

        loss, _ = _train_step(model, size)

        assert torch.isfinite(loss), mode
        for group, params in groups:
            changed = 0
            for p in params:
                name = names[id(p)]
                if not p.requires_grad:
                    assert p.grad is None, name
                    assert torch.equal(p.detach(), before[name]), f"frozen {name} moved ({mode})"
                    continue
                if p.grad is not None:
                    assert torch.isfinite(p.grad).all(), f"NaN/inf grad in {name} ({mode})"
                changed += not torch.equal(p.detach(), before[name])
            if group not in frozen_groups:
                assert changed, f"no parameter of trainable group {group} changed ({mode})"
        stats_after = _norm_stats(model)
        group_of = {n: g for g, params in groups for n in (names[id(p)] for p in params)}
        for buf_name, value in stats_before.items():
            owner = group_of.get(buf_name.rsplit(".", 1)[0] + ".weight")
            if owner in frozen_groups:
                assert torch.equal(stats_after[buf_name], value), f"running stats of frozen {buf_name} moved ({mode})"
        if mode == "none" and stats_before:  # the check above is not vacuous: unfrozen stats do move
            assert any(not torch.equal(stats_after[n], v) for n, v in stats_before.items())


def test_inception_v3_at_full_size_trains_its_auxiliary_head() -> None:
    model = build_model(ModelConfig("inception_v3", weights="none"), 3)
    apply_freeze_mode(model, "head")
    aux_head = model.get_submodule("AuxLogits.fc")
    assert all(p.requires_grad for p in aux_head.parameters())
    before = aux_head.weight.detach().clone()
    model.train()
    set_frozen_batchnorm_eval(model)
    assert type(model(torch.randn(2, 3, 299, 299))).__name__ == "InceptionOutputs"
    loss, _ = _train_step(model, 299)
    assert torch.isfinite(loss)
    assert not torch.equal(aux_head.weight.detach(), before)
    assert isinstance(model.eval()(torch.randn(1, 3, 299, 299)), torch.Tensor)


def test_freeze_modes_choose_the_right_groups() -> None:
    model = _resnet18()
    body = [name for name, _ in layer_groups(model)][:-1]
    apply_freeze_mode(model, "head")
    assert _frozen_names(model) == body
    assert count_parameters(model)[0] == sum(p.numel() for p in head_module(model).parameters())
    apply_freeze_mode(model, "first-n", groups=2)
    assert _frozen_names(model) == body[:2]
    apply_freeze_mode(model, "first-n", groups=99)  # clamped: the head always trains
    assert _frozen_names(model) == body
    apply_freeze_mode(model, "first-n", groups=-1)
    assert _frozen_names(model) == []
    apply_freeze_mode(model, "two-phase")
    assert _frozen_names(model) == body
    apply_freeze_mode(model, "none")
    assert count_parameters(model) == (sum(p.numel() for p in model.parameters()), 0)


def test_describe_layer_groups_counts_elements_and_marks_the_head() -> None:
    model = _resnet18(hidden_size=8)
    freeze_layer_groups(model, ["stem", "layer1"])
    infos = describe_layer_groups(model)
    assert [i.index for i in infos] == list(range(len(infos)))
    assert [i.is_head for i in infos] == [False] * (len(infos) - 1) + [True]
    assert infos[0].trainable == 0 and infos[0].frozen == sum(p.numel() for p in (model.conv1.weight, *model.bn1.parameters()))
    assert infos[-1].trainable == 512 * 8 + 8 + 8 * 3 + 3 and infos[-1].frozen == 0
    assert sum(i.trainable + i.frozen for i in infos) == sum(p.numel() for p in model.parameters())


def test_unknown_groups_and_modes_are_config_errors() -> None:
    model = _resnet18()
    with pytest.raises(ConfigError, match="layer4"):
        freeze_layer_groups(model, ["layer5"])
    with pytest.raises(ConfigError, match="unknown mode 'all'"):
        apply_freeze_mode(model, "all")


def test_models_not_built_by_imgcls_are_refused() -> None:
    with pytest.raises(ModelError, match="not built by imgcls"):
        layer_groups(torch.nn.Linear(2, 2))


def test_frozen_batchnorm_goes_to_eval_and_trainable_batchnorm_stays_in_train() -> None:
    model = _resnet18()
    model.bn1 = torch.nn.BatchNorm2d(64, affine=False)  # no parameters of its own: follows its group
    freeze_layer_groups(model, ["stem", "layer1"])
    model.train()
    set_frozen_batchnorm_eval(model)
    assert not model.bn1.training
    assert not model.layer1[0].bn1.training
    assert model.layer2[0].bn1.training
    assert model.training and model.layer1.training  # only the norm layers themselves change mode


def test_trainable_parameter_groups_skip_frozen_and_decay_with_depth() -> None:
    model = _resnet18()
    apply_freeze_mode(model, "first-n", groups=2)
    groups = trainable_parameter_groups(model, lr=1.0, lr_decay=0.5)
    assert [g["name"] for g in groups] == ["layer2", "layer3", "layer4", "head"]
    assert [g["lr"] for g in groups] == [0.125, 0.25, 0.5, 1.0]
    trainable = {id(p) for p in model.parameters() if p.requires_grad}
    assert {id(p) for g in groups for p in g["params"]} == trainable
    assert {g["lr"] for g in trainable_parameter_groups(model, lr=0.01)} == {0.01}


@pytest.mark.parametrize("optimizer_cls", [torch.optim.SGD, torch.optim.Adam, torch.optim.AdamW,
                                           torch.optim.RMSprop, torch.optim.Adagrad, torch.optim.Adadelta])
def test_unfreeze_all_groups_adds_early_layers_at_decayed_rates(optimizer_cls) -> None:
    torch.manual_seed(0)
    model = _resnet18()
    apply_freeze_mode(model, "head")
    optimizer = optimizer_cls(trainable_parameter_groups(model, lr=0.01, lr_decay=0.5), lr=0.01)
    images, targets = torch.randn(4, 3, 32, 32), torch.tensor([0, 1, 2, 0])
    model.train()
    _loss(model(images), targets).backward()
    optimizer.step()
    head_group = optimizer.param_groups[0]
    head_group["lr"] = 0.005  # as a schedule would have moved it: unfreezing must not reset it
    head_count = len(head_group["params"])

    unfreeze_all_groups(model, optimizer, lr=0.01, lr_decay=0.5)

    in_optimizer = [p for g in optimizer.param_groups for p in g["params"]]
    assert len(in_optimizer) == len(list(model.parameters())) > head_count
    assert len({id(p) for p in in_optimizer}) == len(in_optimizer), "no parameter added twice"
    assert optimizer.param_groups[0] is head_group and head_group["lr"] == 0.005
    added = optimizer.param_groups[1:]
    assert [g["name"] for g in added] == ["stem", "layer1", "layer2", "layer3", "layer4"]
    assert [g["lr"] for g in added] == pytest.approx([0.01 * 0.5**k for k in (5, 4, 3, 2, 1)])
    stem_before = model.conv1.weight.detach().clone()
    optimizer.zero_grad()
    _loss(model(images), targets).backward()
    optimizer.step()
    assert not torch.equal(model.conv1.weight.detach(), stem_before)


@pytest.mark.parametrize(("freeze", "frozen", "phases"), [
    (FreezeConfig("none"), 0, ("train", "train")),
    (FreezeConfig("head"), 5, ("train", "train")),
    (FreezeConfig("first-n", groups=2), 2, ("train", "train")),
    (FreezeConfig("first-n", groups=99), 5, ("train", "train")),  # clamped to the groups there are
    (FreezeConfig("two-phase", head_epochs=1, lr_decay=0.5), 5, ("head", "finetune")),
])
def test_freeze_plan_is_what_training_applies(freeze: FreezeConfig, frozen: int, phases: tuple[str, str]) -> None:
    spec = get_backbone("resnet18")
    plan = freeze_plan(spec, freeze)
    assert plan.frozen_count == frozen and plan.frozen_names == spec.group_names[:frozen]
    assert (plan.phase_at(0), plan.phase_at(1)) == phases
    assert [g.name for g in plan.groups] == [*spec.group_names, "head"] and plan.groups[-1].is_head
    assert not plan.groups[-1].frozen  # the head always trains
    model = _resnet18()
    apply_freeze_mode(model, freeze.mode, freeze.groups)
    assert _frozen_names(model) == list(plan.frozen_names)
    expected = [0.5 ** (5 - i) for i in range(6)] if freeze.mode == "two-phase" else [1.0] * 6
    assert [g.lr_factor for g in plan.groups] == pytest.approx(expected)
    assert freeze_plan(spec.group_names, freeze) == plan  # the Model panel passes the group names it shows
    assert plan.describe()


def test_unfreezing_by_a_plan_gives_the_plans_rates() -> None:
    model = _resnet18()
    plan = freeze_plan(get_backbone("resnet18"), FreezeConfig("two-phase", lr_decay=0.1))
    freeze_layer_groups(model, plan.frozen_names)
    optimizer = torch.optim.SGD(trainable_parameter_groups(model, lr=1.0), lr=1.0)
    unfreeze_all_groups(model, optimizer, lr=1.0, lr_factors=plan.lr_factors)
    rates = {g["name"]: g["lr"] for g in optimizer.param_groups}
    assert rates == pytest.approx(plan.lr_factors)


def test_freeze_plan_refuses_an_unknown_mode() -> None:
    with pytest.raises(ConfigError, match="freeze.mode"):
        freeze_plan(get_backbone("resnet18"), FreezeConfig("all"))  # type: ignore[arg-type]


def test_dotted_prefixes_match_whole_components() -> None:
    assert is_under("features.1.weight", "features.1") and is_under("features.1", "features.1")
    assert not is_under("features.10.weight", "features.1")
