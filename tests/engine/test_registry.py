"""The backbone registry: torch-free, complete, and in step with torchvision's own metadata."""

from __future__ import annotations

import subprocess
import sys

import pytest

from imgcls_gui.engine.config import ModelConfig
from imgcls_gui.engine.errors import ModelError
from imgcls_gui.engine.models.registry import BackboneSpec, get_backbone, list_backbones

SPECS = list_backbones()
REQUIRED = {
    "alexnet", "vgg11_bn", "vgg16_bn", "resnet18", "resnet50", "densenet121", "googlenet",
    "inception_v3", "mobilenet_v3_small", "mobilenet_v3_large", "efficientnet_b0", "convnext_tiny",
}


def _under(name: str, prefix: str) -> bool:
    return name == prefix or name.startswith(prefix + ".")


def test_registry_lists_the_required_backbones_once_each() -> None:
    names = [spec.name for spec in SPECS]
    assert len(names) == len(set(names))
    assert REQUIRED <= set(names)
    assert all(get_backbone(name) is spec for name, spec in zip(names, SPECS))


def test_unknown_backbone_names_the_available_ones() -> None:
    with pytest.raises(ModelError, match="unknown model 'resnet9000'") as info:
        get_backbone("resnet9000")
    assert "resnet18" in str(info.value) and "convnext_tiny" in str(info.value)


def test_registry_imports_without_torch() -> None:
    # The GUI lists backbones before torch (~5 s to import) has loaded.
    code = "import sys, imgcls_gui.engine.models.registry as r; r.list_backbones(); print('torch' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "False"


@pytest.mark.parametrize("spec", SPECS, ids=lambda s: s.name)
def test_metadata_matches_torchvision_weights(spec: BackboneSpec) -> None:
    import torchvision.models
    from torchvision.models import get_weight

    weights = get_weight(spec.weights)
    transforms = weights.transforms()
    assert callable(getattr(torchvision.models, spec.builder))
    assert list(transforms.crop_size) == [spec.input_size]
    assert list(transforms.resize_size) == [spec.resize_size]
    assert tuple(transforms.mean) == pytest.approx(spec.mean)
    assert tuple(transforms.std) == pytest.approx(spec.std)
    assert spec.min_size == weights.meta["min_size"][0]
    assert spec.params_millions == pytest.approx(weights.meta["num_params"] / 1e6, abs=0.05)


@pytest.mark.parametrize("spec", SPECS, ids=lambda s: s.name)
def test_every_parameter_is_in_exactly_one_group_or_the_head(spec: BackboneSpec) -> None:
    from imgcls_gui.engine.models.build import build_model

    model = build_model(ModelConfig(spec.name, weights="none", hidden_size=8, dropout=0.1), 3)
    prefixes = {name: prefixes for name, prefixes in spec.groups}
    heads = [spec.head] + ([spec.aux_head] if spec.aux_head else [])
    order = []
    for param_name, _ in model.named_parameters():
        owners = [g for g, ps in prefixes.items() if any(_under(param_name, p) for p in ps)]
        owners += ["head"] * sum(_under(param_name, h) for h in heads)
        assert len(owners) == 1, f"{param_name} is in {owners or 'no group'}"
        order.append(owners[0])
    # Groups are listed earliest first: walking the body's parameters never goes back to an
    # earlier group (the aux head sits mid-network, so heads are left out of this walk).
    rank = {name: i for i, name in enumerate(prefixes)}
    ranks = [rank[g] for g in order if g != "head"]
    assert ranks == sorted(ranks)
    assert set(order) == {*rank, "head"}, "every group has parameters"


@pytest.mark.parametrize("spec", SPECS, ids=lambda s: s.name)
def test_prefixes_and_head_name_real_modules(spec: BackboneSpec) -> None:
    import torch.nn as nn
    import torchvision.models

    kwargs = {**dict(spec.init_kwargs), "init_weights": False} if spec.init_kwargs else {}
    model = getattr(torchvision.models, spec.builder)(weights=None, **kwargs)
    head = model.get_submodule(spec.head)
    assert isinstance(head, nn.Linear) and head.out_features == 1000
    if spec.aux_head:
        assert isinstance(model.get_submodule(spec.aux_head), nn.Linear)
    for _, prefixes in spec.groups:
        for prefix in prefixes:  # a typo would silently cover nothing
            assert any(True for _ in model.get_submodule(prefix).parameters()), prefix
