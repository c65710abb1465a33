"""Worker tasks of the Model & Freezing panel (plain functions; torch is imported here, off the UI thread)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path

from ...engine import ModelConfig, is_under
from ..background import import_torch
from ..worker import TaskState


@dataclass(frozen=True)
class GroupSummary:
    """One layer group of a built model: its parameters and the modules (name prefixes) it spans."""

    name: str
    params: int
    is_head: bool
    parts: tuple[tuple[str, int], ...] = ()  # (module prefix, parameters)


def _params_under(named: dict[str, int], prefix: str) -> int:
    return sum(n for name, n in named.items() if is_under(name, prefix))


def layer_groups_task(task: TaskState, model_cfg: ModelConfig, num_classes: int) -> tuple[GroupSummary, ...]:
    """Build the backbone (random weights: the structure is all that matters) and size its layer groups."""
    import_torch()
    from ...engine import build_model, describe_layer_groups, spec_of

    model = build_model(dataclasses.replace(model_cfg, weights="none"), max(num_classes, 2))
    task.raise_if_interrupted()
    spec = spec_of(model)
    named = {name: p.numel() for name, p in model.named_parameters()}
    prefixes = dict(spec.groups)
    heads = tuple(h for h in (spec.head, spec.aux_head) if h and _params_under(named, h))
    summaries = []
    for info in describe_layer_groups(model):
        members = heads if info.is_head else prefixes.get(info.name, ())
        parts = tuple((prefix, _params_under(named, prefix)) for prefix in members)
        summaries.append(GroupSummary(info.name, info.trainable + info.frozen, info.is_head, parts))
    return tuple(summaries)


def weights_cache_task(task: TaskState, names: list[str]) -> dict[str, str]:
    """For each backbone with cached ImageNet weights, the file holding them."""
    import_torch()
    from ...engine import weights_cache_path

    cached = {}
    for name in names:
        path = weights_cache_path(name)
        if path.is_file():
            cached[name] = str(path)
    return cached


def prepare_weights_task(task: TaskState, model_cfg: ModelConfig, num_classes: int) -> str:
    """Build the model with its weights: downloads ImageNet weights (with progress) or checks a local file.

    Returns a line for the status label; raises the engine's ModelError/CheckpointError otherwise.
    """
    import_torch()
    from ...engine import build_model, weights_cache_path

    build_model(model_cfg, max(num_classes, 2), progress=task.set_progress)
    if model_cfg.weights == "imagenet":
        return f"ImageNet weights ready: {weights_cache_path(model_cfg.name)}"
    return f"Weights file fits {model_cfg.name}: {Path(model_cfg.weights).name}"
