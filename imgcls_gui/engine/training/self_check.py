"""The installation as the app's child process finds it: what ``imgcls-gui --smoke-test`` checks where torch runs.

A frozen (PyInstaller) app starts its child by running its own executable again, and
``multiprocessing.freeze_support()`` at the entry point turns that start into the child rather than a
second app. ``self_check_job`` (kind "self_check" in ``child.JOB_HANDLERS``) answers from inside that
child: its pid; torchvision's compiled operators, run once (their absence is the classic way a bundle of
torchvision breaks); and the Qt GUI modules it has loaded, which must be none: a child that loaded them
could open a window. ``self_check_in_child`` is the app's side.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from . import wire
from .child_process import JobControl

QT_GUI_MODULES = ("PySide6.QtGui", "PySide6.QtWidgets")  # what a window needs (QtCore alone shows nothing)


@dataclass(frozen=True)
class ChildCheck:
    """What the child process reports about itself."""

    pid: int
    torchvision_ops: str  # "nms+image ok"
    qt_gui_modules: tuple[str, ...]  # Qt GUI modules loaded in the child: none expected


def check_torchvision_ops() -> str:
    """Run one compiled torchvision operator and say which extensions loaded; raise if one is missing."""
    import torch
    import torchvision
    from torchvision.extension import _has_ops
    from torchvision.io.image import _has_image_ops

    if not _has_ops():
        raise RuntimeError("torchvision's compiled operators (_C_stable) did not load; the bundle misses them")
    if not _has_image_ops():
        raise RuntimeError("torchvision's image extension (image_stable) did not load; the bundle misses it")
    boxes = torch.tensor([[0.0, 0.0, 10.0, 10.0], [1.0, 1.0, 10.0, 10.0], [20.0, 20.0, 30.0, 30.0]])
    kept = torchvision.ops.nms(boxes, torch.tensor([0.9, 0.8, 0.7]), iou_threshold=0.5)
    if kept.tolist() != [0, 2]:
        raise RuntimeError(f"torchvision.ops.nms returned {kept.tolist()}, expected [0, 2]")
    return "nms+image ok"


def self_check_job(job: Any) -> dict[str, Any]:
    """Child-process handler of kind "self_check" (no payload): a ``ChildCheck``'s fields."""
    loaded = tuple(name for name in QT_GUI_MODULES if name in sys.modules)
    return wire.to_plain(ChildCheck(os.getpid(), check_torchvision_ops(), loaded))  # type: ignore[no-any-return]


def self_check_in_child(child: Any, interrupted: Callable[[], bool] = lambda: False) -> ChildCheck:
    """Run the self-check in ``child`` (a ``TrainingChild``); a missing torchvision extension raises."""
    value = child.run_job("self_check", {}, lambda event: None, JobControl(), interrupted)
    return wire.from_plain(ChildCheck, value)  # type: ignore[no-any-return]
