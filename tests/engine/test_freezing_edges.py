"""Freezing (models/freezing.py) edges on one small model: group names, first-n bounds, decayed rates.
Written to kill the mutants tools/mutation.sh found surviving."""

from __future__ import annotations

import pytest
import torch

from imgcls_gui.engine.config import ModelConfig
from imgcls_gui.engine.models.build import build_model
from imgcls_gui.engine.models.freezing import describe_layer_groups, trainable_parameter_groups


@pytest.fixture(scope="module")
def resnet18() -> torch.nn.Module:
    return build_model(ModelConfig("resnet18", weights="none"), 3)


def test_rates_decay_by_depth_with_the_head_at_full_rate(resnet18):
    for param in resnet18.parameters():
        param.requires_grad_(True)
    groups = trainable_parameter_groups(resnet18, lr=1.0, lr_decay=0.5)
    names = [info.name for info in describe_layer_groups(resnet18)]
    assert [g["name"] for g in groups] == names
    assert [g["lr"] for g in groups] == [0.5 ** (len(names) - 1 - i) for i in range(len(names))]
