"""Shared pieces of the robustness tests: permissions that hold even for root, tiny runs, the CLI in a child."""

from __future__ import annotations

import contextlib
import ctypes
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

from imgcls_gui.engine.config import AugmentConfig, DataConfig, FreezeConfig, ModelConfig, OptimConfig, RunConfig, TrainConfig

REPO = Path(__file__).resolve().parents[2]

_CAP_DAC_OVERRIDE, _CAP_DAC_READ_SEARCH = 1, 2
_CAPABILITY_VERSION_3 = 0x20080522


class _CapHeader(ctypes.Structure):
    _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]


class _CapData(ctypes.Structure):
    _fields_ = [("effective", ctypes.c_uint32), ("permitted", ctypes.c_uint32), ("inheritable", ctypes.c_uint32)]


@contextlib.contextmanager
def permissions_enforced() -> Iterator[bool]:
    """Make file permissions bind this thread (and threads it starts) even when the tests run as root.

    Root ignores permission bits through CAP_DAC_OVERRIDE; we drop it (and CAP_DAC_READ_SEARCH) from the
    thread's effective set and raise it again afterwards. Yields False where that is impossible, so
    callers skip rather than pass a test that proved nothing.
    """
    if not hasattr(os, "geteuid") or os.geteuid() != 0:
        yield True
        return
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        header, data = _CapHeader(_CAPABILITY_VERSION_3, 0), (_CapData * 2)()
        if libc.capget(ctypes.byref(header), data) != 0:
            raise OSError(ctypes.get_errno(), "capget")
        saved = data[0].effective
        data[0].effective &= ~((1 << _CAP_DAC_OVERRIDE) | (1 << _CAP_DAC_READ_SEARCH))
        if libc.capset(ctypes.byref(header), data) != 0:
            raise OSError(ctypes.get_errno(), "capset")
    except (OSError, AttributeError):
        yield False
        return
    try:
        yield True
    finally:
        data[0].effective = saved
        libc.capset(ctypes.byref(header), data)


def tiny_config(data: Path | str, *, val_fraction: float = 0.25, **train) -> RunConfig:
    """A run that takes about a second on two CPU cores: 32 px mobilenet_v3_small, no pretrained weights."""
    return RunConfig(
        data=DataConfig(path=str(data), num_workers=0, val_fraction=val_fraction),
        augment=AugmentConfig(random_resized_crop=False),
        model=ModelConfig(name="mobilenet_v3_small", weights="none", image_size=32),
        freeze=FreezeConfig(mode="none"),
        optim=OptimConfig(optimizer="adamw", lr=3e-3, scheduler="constant"),
        train=TrainConfig(**{"epochs": 1, "batch_size": 8, "seed": 1, "device": "cpu", **train}),
    )


TINY_TRAIN_FLAGS = (
    "--model", "mobilenet_v3_small", "--weights", "none", "--image-size", "32", "--freeze", "none",
    "--workers", "0", "--device", "cpu", "--batch-size", "8", "--seed", "1", "--no-crop",
    "--scheduler", "constant", "--lr", "0.003", "--val-fraction", "0.25", "--quiet",
)


def cli_command(*args: str) -> list[str]:
    return [sys.executable, "-m", "imgcls_gui.cli", *args]


def child_env() -> dict[str, str]:
    """The environment for a child imgcls: this checkout first on the path, offline, one thread per op."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH", "")]))
    env["IMGCLS_OFFLINE"] = "1"
    return env


def run_cli(*args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    """``imgcls ARGS`` in a child process, as a user runs it."""
    return subprocess.run(cli_command(*args), capture_output=True, text=True, env=child_env(), timeout=timeout)


_CAPPED_CHILD = """
import contextlib, io, json, resource, sys
import onnxruntime, torch  # what every command loads anyway, before the cap
from imgcls_gui import cli
cap = int(open("/proc/self/status").read().split("VmSize:")[1].split()[0]) * 1024 + int(sys.argv[2])
resource.setrlimit(resource.RLIMIT_AS, (cap, cap))
results = {}
for command, argv in json.loads(sys.argv[1]).items():
    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        results[command] = [cli.main(argv), err.getvalue()]
print(json.dumps(results))
"""


def run_cli_capped(commands: dict[str, list[str]], headroom: int = 1 << 30) -> tuple[dict[str, tuple[int, str]], str]:
    """Each ``imgcls ARGV`` in one child whose address space may grow only ``headroom`` bytes past what torch
    and onnxruntime take (RLIMIT_AS): a file that balloons fails there instead of exhausting the machine.
    Returns command → (exit status, what it printed to stderr), and the child's own stderr (C++ logs)."""
    import json

    env = {**child_env(), "MALLOC_ARENA_MAX": "2", "OMP_NUM_THREADS": "1"}  # keep the address space honest
    child = subprocess.run([sys.executable, "-c", _CAPPED_CHILD, json.dumps(commands), str(headroom)],
                           capture_output=True, text=True, env=env, timeout=600)
    assert child.returncode == 0, child.stderr[-2000:]
    results = json.loads(child.stdout.strip().splitlines()[-1])
    return {command: (code, err) for command, (code, err) in results.items()}, child.stderr
