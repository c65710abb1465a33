"""Choosing the compute device: auto = CUDA, then Apple MPS, then CPU."""

from __future__ import annotations

from .errors import ConfigError


def resolve_device(name: str = "auto"):
    """A ``torch.device`` for ``auto``/``cpu``/``cuda``/``cuda:N``/``mps``; a clear error when absent."""
    import torch

    name = (name or "auto").lower()
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
    raise ConfigError(f"unknown device '{name}'; use auto, cpu, cuda, cuda:N or mps.")


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
