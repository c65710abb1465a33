"""CPU speed-ups (train.cpu_speed): what "auto" means on a given CPU, and that a forced choice really runs."""

from __future__ import annotations

import math

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
    assert (speed.channels_last, speed.bf16, speed.note) == (on, on, None)


@pytest.mark.parametrize(("choice", "channels_last", "bf16"), [
    ("off", False, False), ("channels-last", True, False), ("bf16", False, True), ("channels-last+bf16", True, True)])
def test_a_forced_choice_applies_whatever_the_cpu_and_warns_about_emulated_bf16(choice, channels_last, bf16):
    for capabilities in (AVX2, SAPPHIRE_RAPIDS):
        speed = resolve_cpu_speed(choice, capabilities)
        assert (speed.channels_last, speed.bf16) == (channels_last, bf16)
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
