"""The search space of a hyper-parameter search: which run options a search varies, and over which values.

A space is a small YAML mapping, one line per parameter (``DEFAULT_SPACE_YAML`` is the default and
documents the format). Each parameter is a range ``{low, high[, log]}``, a list of choices, or one
fixed value written into every trial. Names are short aliases of run options (``lr`` is
``optim.lr``), two compound knobs (``freeze``: the freeze mode and depth; ``augment``: one
augmentation strength from 0 to 1), or any option by its config.yaml path (``optim.momentum``).
Values are checked against the option table's ranges before a trial runs, naming the key.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from ..config import RunConfig, check_config, option_spec
from ..errors import ConfigError, OptionValueError

DEFAULT_SPACE_YAML = """\
# imgcls search space. One line per parameter:
#   a range     {low: L, high: H}   (log: true searches on a log scale; whole numbers give whole values)
#   choices     [a, b, c]
#   one value   written into every trial, not searched
# A parameter left out keeps the run's own option. Besides the names below, any run option can be
# searched by its config.yaml path (optim.momentum, augment.hflip, train.batch_size...).
lr: {low: 1.0e-4, high: 1.0e-1, log: true}
weight_decay: {low: 1.0e-6, high: 1.0e-2, log: true}
optimizer: [adamw, sgd]
# head, none, two-phase, or N (the first N layer groups frozen). Head-only trials share the backbone's
# cached features, so each costs seconds; trials that train the backbone cost a full run each.
freeze: [head]
dropout: {low: 0.0, high: 0.5}
hidden_size: [0, 256, 512]
label_smoothing: {low: 0.0, high: 0.2}
# 0 to 1: random crop, colour jitter and rotation together. It changes training only where images pass
# through the backbone: a backbone that trains, or cached features with augmented views (train.feature_views).
augment: 0.0
image_size: 0  # 0 = the backbone's own; e.g. [160, 224]
# backbone: [resnet18, mobilenet_v3_small]
"""

# Short names for the options a search most often varies.
ALIASES = {
    "lr": "optim.lr", "weight_decay": "optim.weight_decay", "optimizer": "optim.optimizer",
    "dropout": "model.dropout", "hidden_size": "model.hidden_size", "label_smoothing": "optim.label_smoothing",
    "image_size": "model.image_size", "backbone": "model.name",
}
FREEZE_WORDS = ("head", "none", "two-phase")
# Options a search must not vary: the data and the split are fixed so that trials compare fairly.
NOT_SEARCHABLE = ("data.",)


@dataclass(frozen=True)
class Parameter:
    """One entry of a space: a range (``low``/``high``), ``choices``, or a ``fixed`` value."""

    name: str
    kind: str  # "float", "int", "choice" or "fixed"
    low: float = 0.0
    high: float = 0.0
    log: bool = False
    choices: tuple[Any, ...] = ()
    fixed: Any = None

    @property
    def searched(self) -> bool:
        return self.kind != "fixed"

    def suggest(self, trial: Any) -> Any:
        """The value an Optuna trial picks for this parameter."""
        if self.kind == "float":
            return trial.suggest_float(self.name, self.low, self.high, log=self.log)
        if self.kind == "int":
            return trial.suggest_int(self.name, int(self.low), int(self.high), log=self.log)
        return trial.suggest_categorical(self.name, list(self.choices))


@dataclass(frozen=True)
class SearchSpace:
    """The parameters of a search, in file order, and the mapping they were read from."""

    parameters: tuple[Parameter, ...]
    source: dict[str, Any]

    @property
    def searched(self) -> tuple[Parameter, ...]:
        return tuple(p for p in self.parameters if p.searched)

    def suggest(self, trial: Any) -> dict[str, Any]:
        """Every searched parameter's value for ``trial`` (fixed ones are applied by ``apply``)."""
        return {p.name: p.suggest(trial) for p in self.searched}

    def lowest(self) -> dict[str, Any]:
        """Each searched parameter's first choice or lowest value (to check a space against a config early)."""
        return {p.name: p.choices[0] if p.choices else (int(p.low) if p.kind == "int" else p.low) for p in self.searched}

    def apply(self, config: RunConfig, values: dict[str, Any]) -> RunConfig:
        """``config`` with the fixed values and ``values`` (a trial's) written into its options, range-checked."""
        merged = {p.name: p.fixed for p in self.parameters if not p.searched}
        merged.update(values)
        for name, value in merged.items():
            config = _set(config, name, value)
        check_config(config)
        return config

    def to_yaml(self) -> str:
        return yaml.safe_dump(self.source, sort_keys=False)


def default_space() -> SearchSpace:
    return parse_space(yaml.safe_load(DEFAULT_SPACE_YAML), "the default space")


def read_space(path: str | Path) -> SearchSpace:
    """The space in a YAML file, or a ``ConfigError`` naming the file and the entry at fault."""
    from ..config_file import read_config_yaml  # bounded: size, depth, no aliases

    try:
        return parse_space(read_config_yaml(path), str(path))
    except OptionValueError as exc:
        raise OptionValueError(f"{path}: {exc}", exc.option, exc.value, exc.reason) from exc
    except ConfigError as exc:
        raise ConfigError(f"{path}: {exc}") from exc


def parse_space(data: Any, where: str = "space") -> SearchSpace:
    """A ``SearchSpace`` from a mapping of parameter name to range, choices or value."""
    if not isinstance(data, dict) or not data:
        raise ConfigError(f"{where}: expected a mapping of parameters (lr: {{low: 1.0e-4, high: 0.1, log: true}}, ...).")
    parameters = tuple(_parameter(str(name), entry) for name, entry in data.items())
    return SearchSpace(parameters, dict(data))


def option_of(name: str) -> str:
    """The run option a parameter name sets ("lr" -> "optim.lr"); the compound knobs name themselves."""
    return ALIASES.get(name, name)


def _parameter(name: str, entry: Any) -> Parameter:
    if name not in ("freeze", "augment"):
        target = option_of(name)
        try:
            option_spec(target)
        except KeyError:
            allowed = ", ".join([*ALIASES, "freeze", "augment"])
            raise ConfigError(f"{name}: not a parameter imgcls can search; use one of {allowed}, or a run option by "
                              "its config.yaml path (optim.momentum).") from None
        if target.startswith(NOT_SEARCHABLE):
            raise ConfigError(f"{name}: the data and its split stay the same in every trial, so they cannot be searched.")
    if isinstance(entry, dict):
        return _range(name, entry)
    if isinstance(entry, list):
        if not entry:
            raise ConfigError(f"{name}: an empty list of choices; give at least one value.")
        choices = tuple(_checked(name, value) for value in entry)
        if len(set(map(str, choices))) != len(choices):
            raise ConfigError(f"{name}: a choice is listed twice.")
        if len(choices) == 1:
            return Parameter(name, "fixed", fixed=choices[0])
        return Parameter(name, "choice", choices=choices)
    return Parameter(name, "fixed", fixed=_checked(name, entry))


def _range(name: str, entry: dict[str, Any]) -> Parameter:
    unknown = sorted(set(entry) - {"low", "high", "log"})
    if unknown or "low" not in entry or "high" not in entry:
        raise ConfigError(f"{name}: a range is {{low: L, high: H}}, optionally with log: true"
                          + (f" (unknown key {unknown[0]})." if unknown else "."))
    kind = _kind(name)
    if kind is str or kind is bool:
        raise ConfigError(f"{name}: takes choices, not a range; list them: [a, b].")
    low, high = (_checked(name, entry[key]) for key in ("low", "high"))
    log = entry.get("log", False)
    if not isinstance(log, bool):
        raise ConfigError(f"{name}: log is true or false, not {log!r}.")
    if not low < high:
        raise ConfigError(f"{name}: low ({low}) must be below high ({high}).")
    if log and low <= 0:
        raise ConfigError(f"{name}: a log range needs low above 0 (got {low}).")
    return Parameter(name, "int" if kind is int else "float", float(low), float(high), log)


def _kind(name: str) -> type:
    if name == "augment":
        return float
    if name == "freeze":
        return str
    return option_spec(option_of(name)).kind


def _checked(name: str, value: Any) -> Any:
    """``value`` as the parameter's type, refused with the valid range (or choices) when it does not fit."""
    if name == "freeze":
        return _freeze_choice(value)
    if name == "augment":
        strength = _number(name, value, float)
        if not 0.0 <= strength <= 1.0:
            raise ConfigError(f"augment: {value} is out of range; use a strength from 0 to 1.")
        return strength
    spec = option_spec(option_of(name))
    if spec.kind in (int, float):
        value = _number(name, value, spec.kind)
    elif spec.kind is bool and not isinstance(value, bool):
        raise ConfigError(f"{name}: expected true or false, got {value!r}.")
    elif spec.kind is str:
        value = str(value)
    if spec.choices and value not in spec.choices:
        raise ConfigError(f"{name}: {value!r} is not one of {', '.join(spec.choices)}.")
    if spec.name == "model.name":
        from ..errors import ModelError
        from ..models.registry import get_backbone

        try:
            get_backbone(value)
        except ModelError as exc:  # names the known backbones
            raise ConfigError(f"{name}: {exc}") from None
    why = spec.problem(value)
    if why:
        raise OptionValueError(f"{name}: {value} {why}.", spec.name, value, why)
    return value


def _number(name: str, value: Any, kind: type) -> Any:
    if isinstance(value, str):  # YAML reads 1e-4 (no dot) as text
        try:
            value = float(value)
        except ValueError:
            raise ConfigError(f"{name}: expected a number, got {value!r}.") from None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ConfigError(f"{name}: expected a number, got {value!r}.")
    if kind is int:
        if float(value) != int(value):
            raise ConfigError(f"{name}: expected a whole number, got {value!r}.")
        return int(value)
    return float(value)


def _freeze_choice(value: Any) -> str:
    """A freeze choice as text: head, none, two-phase, or a count of frozen layer groups ("2")."""
    text = str(value).strip()
    if text in FREEZE_WORDS or (text.isdigit() and not isinstance(value, bool)):
        return text
    raise ConfigError(f"freeze: {value!r} is not head, none, two-phase or a number of layer groups.")


def _set(config: RunConfig, name: str, value: Any) -> RunConfig:
    """``config`` with one parameter's value written into the option(s) it stands for."""
    if name == "freeze":
        text = _freeze_choice(value)
        freeze = (dataclasses.replace(config.freeze, mode="first-n", groups=int(text)) if text.isdigit()
                  else dataclasses.replace(config.freeze, mode=text))
        return config.replace(freeze=freeze)
    if name == "augment":
        return config.replace(augment=augmentation(config, float(value)))
    section, key = option_of(name).split(".")
    return config.replace(**{section: dataclasses.replace(getattr(config, section), **{key: value})})


def augmentation(config: RunConfig, strength: float):
    """One knob for augmentation: 0 = a plain crop, 1 = torchvision's usual random crop (8% to 100% of the
    image) with colour jitter 0.4 and rotation up to 15 degrees. Flips stay as the run has them."""
    return dataclasses.replace(
        config.augment, random_resized_crop=True, crop_scale_min=round(1.0 - 0.92 * strength, 4),
        color_jitter=round(0.4 * strength, 4), rotation_degrees=round(15.0 * strength, 2),
    )
