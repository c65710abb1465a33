"""Freezing by named layer groups, BatchNorm handling, and discriminative learning rates.

Layer groups come from the registry entry (earliest first) plus the head. ``freeze_plan`` is the
one place a ``FreezeConfig`` is interpreted (which groups start frozen, when two-phase unfreezes,
each group's rate factor afterwards); training, the CLI and the Model panel all read the plan.
Freezing sets ``requires_grad``; the optimizer is built only from trainable parameters (PyTorch
Lightning's BaseFinetuning style), and unfreezing adds parameter groups to the existing optimizer.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..config import FreezeConfig
from ..errors import ConfigError, ModelError
from .build import spec_of
from .registry import BackboneSpec, is_under

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


@dataclass(frozen=True)
class GroupFreeze:
    """What the freeze settings do to one layer group."""

    name: str
    is_head: bool
    frozen: bool  # frozen from the first epoch (two-phase: until the head epochs are done)
    lr_factor: float  # times the learning rate once the group trains (two-phase: lr_decay per group down)


@dataclass(frozen=True)
class FreezePlan:
    """A ``FreezeConfig`` resolved for one backbone: per group, frozen at the start and its rate factor."""

    mode: str
    groups: tuple[GroupFreeze, ...]  # body groups earliest first, then the head
    head_epochs: int  # two-phase: epochs before everything unfreezes; 0 for the other modes

    @property
    def frozen_names(self) -> tuple[str, ...]:
        """Groups frozen from the first epoch."""
        return tuple(group.name for group in self.groups if group.frozen)

    @property
    def frozen_count(self) -> int:
        """How many body groups, counted from the input, start frozen."""
        return len(self.frozen_names)

    @property
    def body_count(self) -> int:
        return sum(not group.is_head for group in self.groups)

    @property
    def lr_factors(self) -> dict[str, float]:
        return {group.name: group.lr_factor for group in self.groups}

    @property
    def unfreezes(self) -> bool:
        """Whether the frozen groups join training mid-run (two-phase)."""
        return self.mode == "two-phase"

    def phase_at(self, epoch: int) -> str:
        """"head" while two-phase trains the head alone, "finetune" after it; "train" for the other modes."""
        if not self.unfreezes:
            return "train"
        return "head" if epoch < self.head_epochs else "finetune"

    def describe(self) -> str:
        """One line for a log: what is frozen, and for how long."""
        body, frozen = self.body_count, self.frozen_count
        if self.unfreezes:
            return (f"two-phase: the head trains alone for {self.head_epochs} epoch(s), then all {body} layer groups "
                    f"join at rate factors {', '.join(f'{g.lr_factor:.3g}' for g in self.groups)} (earliest first)")
        if frozen == 0:
            return f"every layer trains ({body} layer groups and the head)"
        if frozen == body:
            return f"only the head trains (all {body} layer groups frozen)"
        return f"{frozen} of {body} layer groups frozen ({', '.join(self.frozen_names)}); the rest and the head train"


def freeze_plan(spec: BackboneSpec | Sequence[str], freeze: FreezeConfig) -> FreezePlan:
    """Interpret ``freeze`` for ``spec``'s layer groups (or its body group names, earliest first).

    First-n counts are clamped to the groups there are.

    none: everything trains; head: only the head; first-n: the first ``groups`` body groups stay
    frozen; two-phase: the head alone for ``head_epochs``, then every group, group ``i`` of ``n``
    (head last) at ``lr * lr_decay ** (n - 1 - i)``.
    """
    body = tuple(spec.group_names if isinstance(spec, BackboneSpec) else spec)
    if freeze.mode == "none":
        count = 0
    elif freeze.mode in ("head", "two-phase"):
        count = len(body)
    elif freeze.mode == "first-n":
        count = max(0, min(freeze.groups, len(body)))
    else:
        raise ConfigError(f"freeze.mode: unknown mode '{freeze.mode}'; use one of {', '.join(FREEZE_MODES)}.")
    names = (*body, HEAD_GROUP)
    factors = decay_factors(len(names), freeze.lr_decay if freeze.mode == "two-phase" else 1.0)
    groups = tuple(GroupFreeze(name, name == HEAD_GROUP, index < count, factors[index])
                   for index, name in enumerate(names))
    return FreezePlan(freeze.mode, groups, freeze.head_epochs if freeze.mode == "two-phase" else 0)


def decay_factors(count: int, lr_decay: float) -> tuple[float, ...]:
    """Rate factor of each of ``count`` groups (last = the head = 1): ``lr_decay`` per group further down."""
    return tuple(lr_decay ** (count - 1 - index) for index in range(count))


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
    """Freeze what ``freeze_plan`` freezes at the start of a run (two-phase: everything but the head)."""
    plan = freeze_plan(spec_of(model), FreezeConfig(mode=mode, groups=groups))  # type: ignore[arg-type]
    freeze_layer_groups(model, plan.frozen_names)


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
    groups = layer_groups(model)
    factors = decay_factors(len(groups), lr_decay)
    return _param_groups(groups, lr, {name: factors[i] for i, (name, _) in enumerate(groups)}, skip=set())


def unfreeze_all_groups(
    model: "torch.nn.Module", optimizer: "torch.optim.Optimizer", lr: float, lr_decay: float = 1.0, *,
    lr_factors: Mapping[str, float] | None = None,
) -> None:
    """Make everything trainable and add the newly trainable parameters to ``optimizer``.

    Parameters already in the optimizer (the head) keep their group and rate; the others join as
    new groups at ``lr`` times their factor: ``lr_factors`` (a ``FreezePlan``'s) when given, else
    ``lr_decay`` per group down, as ``trainable_parameter_groups`` gives them.
    """
    groups = layer_groups(model)
    if lr_factors is None:
        decay = decay_factors(len(groups), lr_decay)
        lr_factors = {name: decay[i] for i, (name, _) in enumerate(groups)}
    for _, params in groups:
        for param in params:
            param.requires_grad_(True)
    known = {id(p) for group in optimizer.param_groups for p in group["params"]}
    for group in _param_groups(groups, lr, lr_factors, skip=known):
        optimizer.add_param_group(group)


def _param_groups(
    groups: list[tuple[str, list["torch.nn.Parameter"]]], lr: float, factors: Mapping[str, float], skip: set[int]
) -> list[dict]:
    result = []
    for name, params in groups:
        chosen = [p for p in params if p.requires_grad and id(p) not in skip]
        if chosen:
            result.append({"params": chosen, "lr": lr * factors[name], "name": name})
    return result


def _group_of(name: str, spec: BackboneSpec) -> str:
    """The layer group a parameter or module name belongs to (module-name prefix match)."""
    if is_under(name, spec.head) or (spec.aux_head is not None and is_under(name, spec.aux_head)):
        return HEAD_GROUP
    for group, prefixes in spec.groups:
        if any(is_under(name, prefix) for prefix in prefixes):
            return group
    raise ModelError(f"registry error: {name} of {spec.name} is in no layer group; add its prefix to the entry.")
