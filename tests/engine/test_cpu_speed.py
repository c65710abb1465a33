"""CPU speed-ups (train.cpu_speed): what "auto" means on a given CPU, and that a forced choice really runs."""

from __future__ import annotations

import math

import numpy as np

import pytest
import torch

from imgcls_gui.engine import events as ev
from imgcls_gui.engine.config import RunConfig
from imgcls_gui.engine.device import cpu_capabilities, has_native_bf16, resolve_cpu_speed
from imgcls_gui.engine.errors import ConfigError
from imgcls_gui.engine.training.loop import train_one_epoch
from imgcls_gui.engine.training.setup import prepare_run
from imgcls_gui.engine.training.state import RunControl

from .test_training import tiny_config
from .tiny_data import make_class_folders

AVX2 = {"architecture": "x86_64", "avx2": True, "avx512": False, "avx512_bf16": False, "amx_bf16": False}
ZEN4 = {**AVX2, "avx512": True, "avx512_vnni": True, "avx512_bf16": True}
SAPPHIRE_RAPIDS = {**ZEN4, "amx_tile": True, "amx_bf16": True}
ARM_BF16 = {"architecture": "aarch64", "neon": True, "bf16": True}


@pytest.mark.parametrize(("capabilities", "on"), [(AVX2, False), ({}, False), (ZEN4, True), (SAPPHIRE_RAPIDS, True),
                                                  ({**AVX2, "amx_bf16": True}, True), (ARM_BF16, True)])
def test_auto_turns_both_speed_ups_on_only_where_the_cpu_computes_bf16(capabilities, on):
    speed = resolve_cpu_speed("auto", capabilities)
    assert (speed.channels_last, speed.bf16, speed.note, speed.forward_channels_last) == (on, on, None, on)


@pytest.mark.parametrize(("family", "forward"), [("ResNet", True), ("MobileNet", True), ("DenseNet", True),
                                                 ("ConvNeXt", False), ("", False)])
def test_auto_extracts_and_predicts_channels_last_per_family_without_bf16_instructions(family, forward):
    speed = resolve_cpu_speed("auto", AVX2, family)
    assert (speed.channels_last, speed.bf16, speed.forward_channels_last) == (False, False, forward)
    assert ("feature extraction" in speed.describe()) == forward
    assert resolve_cpu_speed("auto", ZEN4, family).forward_channels_last  # bf16 CPUs: everything channels-last
    assert not resolve_cpu_speed("off", AVX2, family).forward_channels_last
    assert resolve_cpu_speed("channels-last", AVX2, family).forward_channels_last


@pytest.mark.parametrize(("choice", "channels_last", "bf16"), [
    ("off", False, False), ("channels-last", True, False), ("bf16", False, True), ("channels-last+bf16", True, True)])
def test_a_forced_choice_applies_whatever_the_cpu_and_warns_about_emulated_bf16(choice, channels_last, bf16):
    for capabilities in (AVX2, SAPPHIRE_RAPIDS):
        speed = resolve_cpu_speed(choice, capabilities)
        assert (speed.channels_last, speed.bf16, speed.forward_channels_last) == (channels_last, bf16, channels_last)
        warned = bf16 and not has_native_bf16(capabilities)
        assert (speed.note is not None) == warned
        if warned:
            assert "no bfloat16 instructions" in speed.note and "choose auto or channels-last" in speed.note
    with pytest.raises(ConfigError, match="auto, off, channels-last, bf16, channels-last"):
        resolve_cpu_speed("fast", AVX2)
    with pytest.raises(ConfigError, match="train.cpu_speed"):
        RunConfig.from_dict({"train": {"cpu_speed": "fast"}})


def _prepared(tmp_path, cpu_speed: str):
    data = make_class_folders(tmp_path / "data", per_class=4, size=32)  # one training batch: few kernel shapes
    events: list[object] = []
    control = RunControl(events.append, lambda: None)
    cfg = tiny_config(data, epochs=1, batch_size=8, cpu_speed=cpu_speed)
    (tmp_path / "run").mkdir()
    return prepare_run(cfg, tmp_path / "run", None, None, control), control, events


def test_channels_last_forced_on_the_cpu_trains_the_model_in_channels_last(tmp_path):
    run, control, _ = _prepared(tmp_path, "channels-last")
    assert run.plan.device.type == "cpu" and run.plan.channels_last and run.plan.amp_dtype is None
    first_conv = next(m for m in run.model.modules() if isinstance(m, torch.nn.Conv2d))
    seen: list[torch.Tensor] = []
    hook = first_conv.register_forward_pre_hook(lambda _m, args: seen.append(args[0]))
    try:
        train_one_epoch(run, 0, control)
    finally:
        hook.remove()
    assert seen and all(x.is_contiguous(memory_format=torch.channels_last) and x.shape[1] == 3 for x in seen)
    assert first_conv.weight.is_contiguous(memory_format=torch.channels_last)  # still, after the optimizer's steps
    assert not first_conv.weight.is_contiguous()


def test_bf16_forced_on_the_cpu_runs_autocast_with_a_finite_loss_and_says_when_it_is_emulated(tmp_path):
    run, control, events = _prepared(tmp_path, "bf16")
    assert run.plan.amp_dtype == torch.bfloat16 and not run.plan.channels_last
    first_conv = next(m for m in run.model.modules() if isinstance(m, torch.nn.Conv2d))
    dtypes: list[torch.dtype] = []
    hook = first_conv.register_forward_hook(lambda _m, _args, out: dtypes.append(out.dtype))
    try:
        stats = train_one_epoch(run, 0, control)
    finally:
        hook.remove()
    assert dtypes and set(dtypes) == {torch.bfloat16}
    assert math.isfinite(stats["train_loss"])
    assert first_conv.weight.dtype == torch.float32  # autocast: the weights stay full precision
    warnings = [e.message for e in events if isinstance(e, ev.LogLine) and e.level == "warning"]
    emulated = not has_native_bf16(cpu_capabilities())
    assert any("no bfloat16 instructions" in w for w in warnings) == emulated


def test_auto_extracts_frozen_features_channels_last_then_trains_the_head_in_the_usual_layout(tmp_path):
    """On a CPU without bf16 instructions a frozen MobileNet's features come from channels-last passes (measured
    faster there), equal to contiguous ones; the model then trains as before."""
    from imgcls_gui.engine.config import FreezeConfig
    from imgcls_gui.engine.training.feature_cache import build_feature_loaders

    if has_native_bf16(cpu_capabilities()):
        pytest.skip("this CPU computes bf16: auto turns every speed-up on, tested above")
    data = make_class_folders(tmp_path / "data", per_class=4, size=32)
    features = {}
    for choice in ("auto", "off"):
        events: list[object] = []
        control = RunControl(events.append, lambda: None)
        cfg = tiny_config(data, epochs=1, batch_size=8, cpu_speed=choice, feature_cache_dir=str(tmp_path / choice))
        cfg = cfg.replace(freeze=FreezeConfig(mode="head"))
        (tmp_path / f"run-{choice}").mkdir()
        run = prepare_run(cfg, tmp_path / f"run-{choice}", None, None, control)
        assert run.plan.forward_channels_last == (choice == "auto") and not run.plan.channels_last
        first_conv = next(m for m in run.model.modules() if isinstance(m, torch.nn.Conv2d))
        layouts: list[bool] = []
        hook = first_conv.register_forward_pre_hook(
            lambda m, args: layouts.append(args[0].is_contiguous(memory_format=torch.channels_last)
                                           and m.weight.is_contiguous(memory_format=torch.channels_last)))
        try:
            train, val = build_feature_loaders(run, control)
        finally:
            hook.remove()
        assert layouts and set(layouts) == {choice == "auto"}
        assert first_conv.weight.is_contiguous()  # back to the layout the run trains in
        features[choice] = [np.asarray(v[np.arange(len(v))], dtype=np.float32) for v in (train.views[0], val.views[0])]
    for auto, off in zip(features["auto"], features["off"]):
        assert auto.shape == off.shape and np.allclose(auto, off, atol=2e-2, rtol=1e-2)
