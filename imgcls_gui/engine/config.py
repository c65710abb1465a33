"""Frozen dataclass configs that round-trip to JSON/YAML, so every run can be replayed headless.

A GUI run saves its ``RunConfig`` as ``config.yaml`` in the run folder; ``imgcls train --config
config.yaml`` replays it. Unknown keys in a file are an error (typos must not be ignored silently).
"""

from __future__ import annotations

import dataclasses
import json
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, TypeVar

import yaml

from .errors import ConfigError

DatasetFormat = Literal["auto", "folder", "split-folders", "csv", "voc"]
Task = Literal["auto", "multiclass", "multilabel"]
FreezeMode = Literal["none", "head", "first-n", "two-phase"]
OptimizerName = Literal["sgd", "adam", "adamw", "rmsprop", "adagrad", "adadelta"]
SchedulerName = Literal["constant", "step", "cosine", "onecycle"]


@dataclass(frozen=True)
class DataConfig:
    """Where the images are and how to split them."""

    path: str = ""
    format: DatasetFormat = "auto"
    images_root: str | None = None  # CSV paths are resolved against this (default: the CSV's folder)
    task: Task = "auto"
    val_fraction: float = 0.2
    test_fraction: float = 0.0
    split_seed: int = 0
    num_workers: int = -1  # -1: chosen from the machine
    cache_images: bool = False  # keep decoded, resized images in memory


@dataclass(frozen=True)
class AugmentConfig:
    """Training augmentation; each part can be switched off, strengths are 0..1 or degrees."""

    random_resized_crop: bool = True
    crop_scale_min: float = 0.08
    hflip: bool = True
    vflip: bool = False
    rotation_degrees: float = 0.0
    color_jitter: float = 0.0  # brightness/contrast/saturation strength; 0 = off
    gaussian_blur: float = 0.0  # probability of a blur; 0 = off


@dataclass(frozen=True)
class ModelConfig:
    """Which backbone, which weights, and what head."""

    name: str = "resnet18"
    weights: str = "imagenet"  # "imagenet" | "none" | path to a state dict or an imgcls checkpoint
    hidden_size: int = 0  # 0 = a single linear layer as head
    dropout: float = 0.0
    image_size: int = 0  # 0 = the backbone's own input size (299 for inception_v3)


@dataclass(frozen=True)
class FreezeConfig:
    """What to freeze. ``first-n`` freezes the first ``groups`` layer groups.

    ``two-phase`` trains the head for ``head_epochs`` with everything else frozen, then unfreezes
    all groups; group ``i`` of ``n`` (0 = earliest) then trains at ``lr * lr_decay ** (n - 1 - i)``.
    """

    mode: FreezeMode = "head"
    groups: int = 0
    head_epochs: int = 1
    lr_decay: float = 0.3


@dataclass(frozen=True)
class OptimConfig:
    """Optimizer, regularisation and learning-rate schedule."""

    optimizer: OptimizerName = "adamw"
    lr: float = 1e-3
    momentum: float = 0.9
    nesterov: bool = False
    weight_decay: float = 1e-4
    l1: float = 0.0
    label_smoothing: float = 0.0
    scheduler: SchedulerName = "cosine"
    warmup_epochs: float = 0.0
    step_size: int = 10
    gamma: float = 0.1


@dataclass(frozen=True)
class TrainConfig:
    """The loop itself."""

    epochs: int = 10
    batch_size: int = 32  # 0 = chosen from the device's memory (autotune.py)
    seed: int = 0
    device: str = "auto"  # auto | cpu | cuda | cuda:N | mps
    amp: bool = True  # only used on CUDA
    channels_last: bool = True  # only used on CUDA
    early_stopping_patience: int = 0  # 0 = off
    monitor: str = "auto"  # validation metric to select best.pt / stop early; auto: accuracy or map
    deterministic: bool = False
    # Frozen backbone: compute its features once and train the head on them (see feature_cache.py).
    feature_cache: bool = True
    feature_views: int = 0  # augmented views cached per training image; 0 = the eval view (benchmarks/RESULTS.md)
    feature_cache_ram_mb: int = 2048  # above this, cached features live in a memory-mapped file
    feature_cache_dir: str = ""  # "" = the per-user cache folder (IMGCLS_CACHE_DIR overrides)


@dataclass(frozen=True)
class RunConfig:
    """Everything that defines a training run."""

    data: DataConfig = field(default_factory=DataConfig)
    augment: AugmentConfig = field(default_factory=AugmentConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    freeze: FreezeConfig = field(default_factory=FreezeConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    train: TrainConfig = field(default_factory=TrainConfig)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "RunConfig":
        return _from_dict(cls, data, "config")

    def to_yaml(self) -> str:
        return yaml.safe_dump(self.to_dict(), sort_keys=False)

    @classmethod
    def from_file(cls, path: str | Path) -> "RunConfig":
        path = Path(path)
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise ConfigError(f"{path}: cannot read config file ({exc.strerror or exc}).") from exc
        try:
            data = json.loads(text) if path.suffix.lower() == ".json" else yaml.safe_load(text)
        except (yaml.YAMLError, json.JSONDecodeError) as exc:
            raise ConfigError(f"{path}: not valid YAML/JSON ({' '.join(str(exc).split())[:300]}).") from exc
        if not isinstance(data, dict):
            raise ConfigError(f"{path}: expected a mapping of sections (data, model, train...).")
        return cls.from_dict(data)

    def replace(self, **sections: Any) -> "RunConfig":
        """Return a copy with some sections replaced: ``cfg.replace(train=cfg.train.__class__(...))``."""
        return dataclasses.replace(self, **sections)


T = TypeVar("T")


def override(obj: T, **changes: Any) -> T:
    """``dataclasses.replace`` that ignores ``None`` values (handy for optional CLI flags)."""
    return dataclasses.replace(obj, **{k: v for k, v in changes.items() if v is not None})  # type: ignore[type-var]


def _from_dict(cls: type[T], data: dict[str, Any], where: str) -> T:
    if not isinstance(data, dict):
        raise ConfigError(f"{where}: expected a mapping, got {type(data).__name__}.")
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    unknown = sorted(set(data) - set(fields))
    if unknown:
        raise ConfigError(f"{where}: unknown key(s) {', '.join(unknown)}; allowed: {', '.join(fields)}.")
    kwargs: dict[str, Any] = {}
    for name, value in data.items():
        kwargs[name] = _coerce(hints[name], value, f"{where}.{name}")
    return cls(**kwargs)


def _coerce(hint: Any, value: Any, where: str) -> Any:
    if dataclasses.is_dataclass(hint):
        return _from_dict(hint, value or {}, where)
    origin = typing.get_origin(hint)
    if origin is Literal:
        allowed = typing.get_args(hint)
        if value not in allowed:
            raise ConfigError(f"{where}: {value!r} is not one of {', '.join(map(str, allowed))}.")
        return value
    if origin in (typing.Union, types.UnionType):
        args = typing.get_args(hint)
        if value is None and type(None) in args:
            return None
        for arg in args:
            if arg is type(None):
                continue
            try:
                return _coerce(arg, value, where)
            except ConfigError:
                continue
        raise ConfigError(f"{where}: {value!r} has the wrong type.")
    if hint is bool:
        if isinstance(value, bool):
            return value
        raise ConfigError(f"{where}: expected true/false, got {value!r}.")
    if hint in (int, float):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(f"{where}: expected a number, got {value!r}.")
        if hint is int and float(value) != int(value):
            raise ConfigError(f"{where}: expected a whole number, got {value!r}.")
        return hint(value)
    if hint is str:
        if not isinstance(value, str):
            raise ConfigError(f"{where}: expected text, got {value!r}.")
        return value
    return value
