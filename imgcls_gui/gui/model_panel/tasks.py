"""Worker tasks of the Model & Freezing panel (plain functions; torch is imported here, off the UI thread)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from ...engine import ModelConfig, is_under
from ..background import import_torch
from ..common.weights import prepare_weights_task, weights_cache_task  # noqa: F401 - used by this panel
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
