"""Checkpoints: written atomically, read with ``weights_only=True`` (loading a file never runs code).

A checkpoint is a plain dict (torchvision references style) with these keys:

- ``format`` = "imgcls-checkpoint", ``version`` = ``CHECKPOINT_VERSION`` (files from before the key
  existed read as version 1), ``imgcls_version``, ``created`` (ISO date)
- ``model``: state dict; ``optimizer``, ``scheduler``, ``scaler``: state dicts (may be None)
- ``epoch``: epochs completed; ``step``: optimizer steps; ``phase``: freezing phase name
- ``best_metric``, ``best_epoch``, ``history`` (list of per-epoch metric dicts), ``metrics`` (this epoch's)
- ``rng``: torch/cuda/python/numpy RNG states (lists and tensors only)
- ``classes`` (list[str]), ``task`` ("multiclass"|"multilabel"), ``thresholds`` (list[float] or None)
- ``preprocessing`` (Preprocessing.to_dict()), ``config`` (RunConfig.to_dict())
- ``global_batch`` (images per optimizer step over all processes), ``world_size`` (processes that
  trained it); absent in older files, which read as one process of ``config``'s batch size

``load_checkpoint`` adds ``source`` (the file read, for messages); ``save_checkpoint`` never stores it.
``training/checkpointing.py`` is the one writer of a run's checkpoint (and its resume reader);
``CheckpointHeader`` is what every other reader takes from it besides the weights.
"""

from __future__ import annotations

import os
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .errors import CheckpointError, ImgclsError
from .file_modes import new_file_mode
from .model_files import screen_before_torch_load

CHECKPOINT_FORMAT = "imgcls-checkpoint"
CHECKPOINT_VERSION = 1  # raise when a key changes meaning; readers refuse newer files with a clear message
# What every reader (predict, evaluate, export, resume) needs; a file without them is not usable.
REQUIRED_KEYS = ("model", "classes", "task", "preprocessing", "config")


def atomic_write_bytes(path: str | Path, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temp file in the same folder + rename (never half a file)."""
    path = Path(path)
    tmp = ""
    try:
        # Inside the try: a read-only or missing folder fails here, and must read like a full disk does.
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
        if hasattr(os, "fchmod"):  # mkstemp makes 0600; the user's umask decides (Windows: no such bits)
            os.fchmod(fd, new_file_mode(path))
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except OSError as exc:
        _discard(tmp)
        raise ImgclsError(
            f"{path}: could not write ({exc.strerror or exc}); the previous file, if any, is unchanged. "
            "Free disk space or choose another folder."
        ) from exc
    except BaseException:
        _discard(tmp)
        raise


def atomic_write_text(path: str | Path, text: str) -> None:
    atomic_write_bytes(path, text.encode("utf-8"))


def save_checkpoint(state: dict[str, Any], path: str | Path) -> None:
    """Serialise ``state`` with torch.save into a temp file, then rename over ``path``."""
    import io

    import torch

    buffer = io.BytesIO()
    stored = {key: value for key, value in state.items() if key != "source"}  # a path of this machine
    torch.save({"format": CHECKPOINT_FORMAT, "version": CHECKPOINT_VERSION, **stored}, buffer)
    atomic_write_bytes(path, buffer.getvalue())


def load_checkpoint(path: str | Path, map_location: str = "cpu") -> dict[str, Any]:
    """Read an imgcls checkpoint (``.pt`` file or a run folder holding ``best.pt``)."""
    import torch

    path = Path(path)
    if path.is_dir():
        for name in ("best.pt", "last.pt"):
            if (path / name).is_file():
                path = path / name
                break
        else:
            raise CheckpointError(f"{path}: no best.pt or last.pt in this folder; is it an imgcls run folder?")
    if not path.is_file():
        raise CheckpointError(f"{path}: checkpoint file not found.")
    screen_before_torch_load(path, "an imgcls checkpoint")  # TorchScript runs code; bombs balloon
    try:
        state = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as exc:  # a damaged or hostile file makes the unpickler raise nearly any type
        raise CheckpointError(
            f"{path}: not a readable imgcls checkpoint ({load_error_reason(exc)}). "
            "Files that need arbitrary code to load are refused for safety."
        ) from exc
    if not isinstance(state, dict) or state.get("format") != CHECKPOINT_FORMAT:
        raise CheckpointError(f"{path}: this is not an imgcls checkpoint (no 'format' marker).")
    version = state.get("version", 1)  # written before the key existed: the first layout
    if not isinstance(version, int) or version > CHECKPOINT_VERSION:
        raise CheckpointError(
            f"{path}: written by a newer imgcls (checkpoint format version {version}, this one reads up to "
            f"{CHECKPOINT_VERSION}); update imgcls to use it."
        )
    missing = [key for key in REQUIRED_KEYS if key not in state]
    if missing:
        raise CheckpointError(
            f"{path}: this is not an imgcls checkpoint anyone can use (it lacks {', '.join(missing)}); "
            "it is damaged or was written by another program."
        )
    state["source"] = str(path)
    return state


@dataclass(frozen=True)
class CheckpointHeader:
    """What a reader of a run checkpoint needs besides the weights: classes, task, preprocessing, config."""

    source: str
    classes: tuple[str, ...]
    task: str
    preprocessing: dict[str, Any]  # Preprocessing.to_dict()
    config: dict[str, Any]  # RunConfig.to_dict()
    thresholds: tuple[float, ...] | None  # multi-label decision thresholds of the best epoch

    @classmethod
    def of(cls, ckpt: dict[str, Any]) -> "CheckpointHeader":
        """The header of a dict from ``load_checkpoint``."""
        thresholds = ckpt.get("thresholds")
        return cls(
            source=str(ckpt.get("source", "checkpoint")),
            classes=tuple(str(c) for c in ckpt["classes"]),
            task=str(ckpt["task"]),
            preprocessing=dict(ckpt["preprocessing"]),
            config=dict(ckpt["config"]),
            thresholds=tuple(float(t) for t in thresholds) if thresholds is not None else None,
        )


def load_error_reason(exc: BaseException) -> str:
    """The one useful line of a ``torch.load`` failure, for a message a user reads.

    torch's own text runs to paragraphs, carries terminal colour codes and advises loading with
    ``weights_only=False``, which is exactly what a hostile file wants; keep only what is wrong.
    """
    text = re.sub(r"\x1b\[[0-9;]*m", "", str(exc))
    marker = "WeightsUnpickler error:"
    if marker in text:
        text = text.split(marker, 1)[1]
    text = text.split(" Please use `torch.serialization", 1)[0]
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    first = re.split(r"(?<=\.)\s", lines[0], maxsplit=1)[0] if lines else type(exc).__name__  # its first sentence
    return first.rstrip(".")[:200]


def _discard(tmp: str) -> None:
    if not tmp:
        return
    try:
        os.unlink(tmp)
    except OSError:
        pass
