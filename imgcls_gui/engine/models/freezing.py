"""Freezing by named layer groups, BatchNorm handling, and discriminative learning rates.

Layer groups come from the registry entry (earliest first) plus the head. Freezing sets
``requires_grad``; the optimizer is built only from trainable parameters (PyTorch Lightning's
BaseFinetuning style), and unfreezing adds parameter groups to the existing optimizer.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..errors import ConfigError, ModelError
from .build import spec_of
from .registry import BackboneSpec

if TYPE_CHECKING:
    import torch

HEAD_GROUP = "head"
FREEZE_MODES = ("none", "head", "first-n", "two-phase")


@dataclass(frozen=True)
class LayerGroupInfo:
    """One layer group as the GUI shows it: parameter counts (elements, not tensors)."""

    index: int
    name: str
    trainable: int
    frozen: int
    is_head: bool


def layer_groups(model: "torch.nn.Module") -> list[tuple[str, list["torch.nn.Parameter"]]]:
    """The registry's groups in order (earliest first), then ("head", head + aux head parameters)."""
    spec = spec_of(model)
    names = [*spec.group_names, HEAD_GROUP]
    members: dict[str, list["torch.nn.Parameter"]] = {name: [] for name in names}
    for param_name, param in model.named_parameters():
        members[_group_of(param_name, spec)].append(param)
    return [(name, members[name]) for name in names]


def describe_layer_groups(model: "torch.nn.Module") -> list[LayerGroupInfo]:
    """Per group: how many parameters train and how many are frozen."""
    infos = []
    for index, (name, params) in enumerate(layer_groups(model)):
        trainable = sum(p.numel() for p in params if p.requires_grad)
        frozen = sum(p.numel() for p in params if not p.requires_grad)
        infos.append(LayerGroupInfo(index, name, trainable, frozen, name == HEAD_GROUP))
    return infos


def freeze_layer_groups(model: "torch.nn.Module", frozen: Iterable[str]) -> None:
    """Freeze the named groups and make every other group trainable."""
    groups = layer_groups(model)
    frozen = set(frozen)
    unknown = frozen - {name for name, _ in groups}
    if unknown:
        raise ConfigError(
            f"unknown layer group(s) {', '.join(sorted(unknown))} for {spec_of(model).name}; "
            f"groups are: {', '.join(name for name, _ in groups)}."
        )
    for name, params in groups:
        for param in params:
            param.requires_grad_(name not in frozen)


def apply_freeze_mode(model: "torch.nn.Module", mode: str, groups: int = 0) -> None:
    """none: train all; head / two-phase: train only the head; first-n: freeze the first ``groups`` groups."""
    body = list(spec_of(model).group_names)
    if mode == "none":
        freeze_layer_groups(model, ())
    elif mode in ("head", "two-phase"):
        freeze_layer_groups(model, body)
    elif mode == "first-n":
        freeze_layer_groups(model, body[: max(0, min(groups, len(body)))])
    else:
        raise ConfigError(f"freeze.mode: unknown mode '{mode}'; use one of {', '.join(FREEZE_MODES)}.")


def set_frozen_batchnorm_eval(model: "torch.nn.Module") -> None:
    """After ``model.train()``: normalisation layers of frozen groups use and keep their running stats.

    A frozen layer whose statistics still moved would no longer match the weights around it.
    """
    spec = spec_of(model)
    frozen_groups = {name for name, params in layer_groups(model) if params and not any(p.requires_grad for p in params)}
    for module_name, module in model.named_modules():
        if getattr(module, "running_mean", None) is None:  # BatchNorm/InstanceNorm with running stats
            continue
        own = list(module.parameters(recurse=False))
        if own:
            frozen = not any(p.requires_grad for p in own)
        else:  # affine=False: no parameters of its own, so follow its layer group
            frozen = _group_of(module_name, spec) in frozen_groups
        if frozen:
            module.eval()


def trainable_parameter_groups(model: "torch.nn.Module", lr: float, lr_decay: float = 1.0) -> list[dict]:
    """Optimizer parameter groups, one per layer group with trainable parameters.

    Group ``i`` of ``n`` (head = ``n - 1``) gets ``lr * lr_decay ** (n - 1 - i)``: the head trains
    at ``lr``, earlier layers, whose features are more generic, progressively slower.
    """
    return _param_groups(layer_groups(model), lr, lr_decay, skip=set())


def unfreeze_all_groups(model: "torch.nn.Module", optimizer: "torch.optim.Optimizer", lr: float, lr_decay: float) -> None:
    """Make everything trainable and add the newly trainable parameters to ``optimizer``.

    Parameters already in the optimizer (the head) keep their group and rate; the others join as
    new groups at discriminative rates, as ``trainable_parameter_groups`` would give them.
    """
    groups = layer_groups(model)
    for _, params in groups:
        for param in params:
            param.requires_grad_(True)
    known = {id(p) for group in optimizer.param_groups for p in group["params"]}
    for group in _param_groups(groups, lr, lr_decay, skip=known):
        optimizer.add_param_group(group)


def _param_groups(
    groups: list[tuple[str, list["torch.nn.Parameter"]]], lr: float, lr_decay: float, skip: set[int]
) -> list[dict]:
    last = len(groups) - 1
    result = []
    for index, (name, params) in enumerate(groups):
        chosen = [p for p in params if p.requires_grad and id(p) not in skip]
        if chosen:
            result.append({"params": chosen, "lr": lr * lr_decay ** (last - index), "name": name})
    return result


def _group_of(name: str, spec: BackboneSpec) -> str:
    """The layer group a parameter or module name belongs to (module-name prefix match)."""
    if _under(name, spec.head) or (spec.aux_head is not None and _under(name, spec.aux_head)):
        return HEAD_GROUP
    for group, prefixes in spec.groups:
        if any(_under(name, prefix) for prefix in prefixes):
            return group
    raise ModelError(f"registry error: {name} of {spec.name} is in no layer group; add its prefix to the entry.")


def _under(name: str, prefix: str) -> bool:
    # "features.1" must not claim "features.10": match whole dotted components only.
    return name == prefix or name.startswith(prefix + ".")
