"""Choosing the compute device (auto = CUDA, then Apple MPS, then CPU) and what a CPU run may speed up with."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
import typing
from typing import Any

from .config import CpuSpeedName
from .errors import ConfigError


ALL_GPUS = "cuda:all"  # every CUDA GPU, one process each: the app launches such a run data-parallel


def resolve_device(name: str = "auto"):
    """A ``torch.device`` for ``auto``/``cpu``/``cuda``/``cuda:N``/``cuda:all``/``mps``; a clear error when absent.

    ``cuda:all`` in one process is its first GPU; the app trains it on all of them (``training/launch_job.py``),
    and a torchrun launch gives each process its own GPU either way (``distributed.rank_device``)."""
    import torch

    name = (name or "auto").lower()
    if name == ALL_GPUS:
        if fake_cuda_devices() is not None:
            return torch.device("cpu")  # the test hook's GPUs are CPU processes (Gloo)
        if not torch.cuda.is_available():
            raise ConfigError(f"device '{name}' (all GPUs) was asked for, but no CUDA GPU is available here; "
                              "use cpu or auto.")
        return torch.device("cuda")
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    if name.startswith("cuda"):
        if not torch.cuda.is_available():
            raise ConfigError(f"device '{name}' was asked for, but no CUDA GPU is available here; use --device cpu or auto.")
        device = torch.device(name)
        if device.index is not None and device.index >= torch.cuda.device_count():
            raise ConfigError(f"device '{name}' does not exist: this machine has {torch.cuda.device_count()} GPU(s).")
        return device
    if name == "mps":
        if not (getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available()):
            raise ConfigError("device 'mps' was asked for, but Apple Metal is not available; use --device cpu.")
        return torch.device("mps")
    if name == "cpu":
        return torch.device("cpu")
    raise ConfigError(f"unknown device '{name}'; use auto, cpu, cuda, cuda:N, cuda:all or mps.")


def describe_device(name: str = "auto") -> str:
    """A short human name: 'NVIDIA H100 (cuda:0)', 'Apple GPU (mps)' or 'CPU (8 threads)'."""
    import torch

    device = resolve_device(name)
    if device.type == "cuda":
        index = device.index or 0
        return f"{torch.cuda.get_device_name(index)} (cuda:{index})"
    if device.type == "mps":
        return "Apple GPU (mps)"
    return f"CPU ({torch.get_num_threads()} threads)"


FAKE_CUDA_DEVICES_ENV = "IMGCLS_TEST_FAKE_CUDA_DEVICES"


def fake_cuda_devices() -> int | None:
    """Test hook (only with IMGCLS_TEST_HOOKS=1): ``IMGCLS_TEST_FAKE_CUDA_DEVICES=N`` makes the app see N CUDA
    GPUs, and an "all GPUs" run train in N CPU processes with Gloo, so CI without a GPU can drive that path."""
    raw = os.environ.get(FAKE_CUDA_DEVICES_ENV, "") if os.environ.get("IMGCLS_TEST_HOOKS") == "1" else ""
    return int(raw) if raw.isdigit() else None


def cuda_device_count() -> int:
    """How many CUDA GPUs this process sees (0 without CUDA); the test hook's count when set."""
    fake = fake_cuda_devices()
    if fake is not None:
        return fake
    import torch

    return torch.cuda.device_count() if torch.cuda.is_available() else 0


@dataclass(frozen=True)
class ComputeDevice:
    """What the app's device probe found: the device a run with device auto uses, and the CUDA GPU count
    (more than one: the Training panel offers every GPU, data-parallel)."""

    description: str  # 'NVIDIA H200 (cuda:0)', 'CPU (16 threads)'
    cuda_devices: int = 0


def probe_compute_device() -> ComputeDevice:
    """``describe_device("auto")`` and the CUDA GPU count (naming a GPU initialises CUDA: call it in a child)."""
    return ComputeDevice(describe_device("auto"), cuda_device_count())


# CPU speed-ups (train.cpu_speed): channels-last layout and bfloat16 autocast for training and feature
# extraction on the CPU. The figures from a CPU with bf16 instructions: resnet18 training 14 -> 33
# img/s with both. On this project's AVX2 machine without them (benchmarks/RESULTS.md, issue 16) bf16 is
# emulated (mobilenet_v3_small training 6x slower) and channels-last was slower too, so "auto" leaves both off there.
# Forward passes alone (frozen-backbone feature extraction, prediction from a checkpoint) are another
# matter: channels-last made them faster on that AVX2 machine for every family but ConvNeXt (batch 32,
# 224 px, 2 threads, benchmarks/RESULTS.md: resnet18 1.18x, resnet50 1.5x, densenet121 1.49x, vgg11 1.40x,
# alexnet 1.24x, inception_v3 1.53x, googlenet, mobilenet 1.19x, efficientnet_b0 1.35x; convnext_tiny
# 0.93x, its LayerNorm works channels-first), so "auto" uses it there for these families.
FORWARD_CHANNELS_LAST_FAMILIES = frozenset({"AlexNet", "VGG", "ResNet", "DenseNet", "GoogLeNet", "Inception",
                                            "MobileNet", "EfficientNet"})
CPU_SPEED_CHOICES: tuple[str, ...] = typing.get_args(CpuSpeedName)
_NATIVE_BF16 = ("avx512_bf16", "amx_bf16", "bf16", "sve_bf16")  # x86 and Arm names in torch.cpu.get_capabilities()


@dataclass(frozen=True)
class CpuSpeed:
    """What a run does on the CPU: channels-last inputs and weights (when training, and in forward passes
    alone: feature extraction, prediction), bf16 autocast; ``note`` is a warning to show."""

    channels_last: bool = False
    bf16: bool = False
    note: str | None = None
    forward_channels_last: bool = False

    def describe(self) -> str:
        parts = [name for name, on in (("channels-last", self.channels_last), ("bf16 autocast", self.bf16)) if on]
        if self.forward_channels_last and not self.channels_last:
            parts.append("channels-last for feature extraction and prediction")
        return " + ".join(parts) if parts else "off (fp32, contiguous)"


def cpu_capabilities() -> dict[str, Any]:
    """This CPU's instruction-set flags as torch sees them (``torch.cpu.get_capabilities()``; older torch: a few)."""
    import torch

    get = getattr(torch.cpu, "get_capabilities", None)
    if get is not None:
        return dict(get())
    flags: dict[str, Any] = {"capability": torch.backends.cpu.get_cpu_capability()}
    for key, probe in (("avx512_bf16", "_is_avx512_bf16_supported"), ("amx_bf16", "_is_amx_tile_supported")):
        check = getattr(torch.cpu, probe, None)
        flags[key] = bool(check()) if check is not None else False
    return flags


def has_native_bf16(capabilities: Mapping[str, Any]) -> bool:
    """Whether the CPU computes bfloat16 in hardware (AVX512-BF16, AMX, Arm BF16); elsewhere it is emulated."""
    return any(bool(capabilities.get(flag)) for flag in _NATIVE_BF16)


def resolve_cpu_speed(choice: str, capabilities: Mapping[str, Any], family: str = "") -> CpuSpeed:
    """The CPU speed-ups that ``choice`` (one of ``CPU_SPEED_CHOICES``) means on a CPU with ``capabilities``
    for a backbone of ``family`` (the registry's family name; "" when unknown).

    auto: channels-last + bf16 where the CPU has bf16 instructions, neither elsewhere; forward passes alone
    channels-last also elsewhere for the families in ``FORWARD_CHANNELS_LAST_FAMILIES``. A forced bf16 on a
    CPU without them still runs (emulated, usually slower): the note says so.
    """
    if choice not in CPU_SPEED_CHOICES:
        raise ConfigError(f"unknown CPU speed-up '{choice}'; use one of {', '.join(CPU_SPEED_CHOICES)}.")
    native = has_native_bf16(capabilities)
    if choice == "auto":
        return CpuSpeed(channels_last=native, bf16=native,
                        forward_channels_last=native or family in FORWARD_CHANNELS_LAST_FAMILIES)
    bf16 = "bf16" in choice
    note = None
    if bf16 and not native:
        note = ("bf16 was chosen for CPU speed-ups, but this CPU has no bfloat16 instructions (AVX512-BF16, AMX or "
                "Arm BF16): bf16 autocast runs emulated, usually slower than fp32; choose auto or channels-last.")
    channels_last = "channels-last" in choice
    return CpuSpeed(channels_last=channels_last, bf16=bf16, note=note, forward_channels_last=channels_last)
