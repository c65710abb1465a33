"""Frozen dataclass configs that round-trip to JSON/YAML, so every run can be replayed headless.

A GUI run saves its ``RunConfig`` as ``config.yaml`` in the run folder; ``imgcls train --config
config.yaml`` replays it. Unknown keys in a file are an error (typos must not be ignored silently).
"""

from __future__ import annotations

import dataclasses
import functools
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, TypeVar

import yaml

from .errors import ConfigError, OptionValueError
from .options import OptionSpec, describe_options, option, option_schema

DatasetFormat = Literal["auto", "folder", "split-folders", "csv", "voc"]
Task = Literal["auto", "multiclass", "multilabel"]
FreezeMode = Literal["none", "head", "first-n", "two-phase"]
OptimizerName = Literal["sgd", "adam", "adamw", "rmsprop", "adagrad", "adadelta"]
SchedulerName = Literal["constant", "step", "cosine", "onecycle"]
ClassWeights = Literal["none", "auto"]
SamplerName = Literal["natural", "balanced"]
CpuSpeedName = Literal["auto", "off", "channels-last", "bf16", "channels-last+bf16"]


@dataclass(frozen=True)
class DataConfig:
    """Where the images are and how to split them."""

    path: str = option("", "Dataset", "Class folders, train/val folders, a CSV, a VOC folder or an imgcls project.",
                       flag=None)
    format: DatasetFormat = option("auto", "Dataset format", "How the dataset is laid out; auto recognises it.")
    images_root: str | None = option(None, "Images root", "Folder that a CSV's image paths are relative to "
                                     "(default: the CSV's folder).")
    task: Task = option("auto", "Task", "One label per image (multiclass) or several (multilabel); auto reads it "
                        "from the labels.")
    val_fraction: float = option(0.2, "Validation share", "Share of labeled images kept aside to measure the model "
                                 "(images the dataset already splits keep their split).", minimum=0, maximum=1,
                                 max_open=True)
    test_fraction: float = option(0.0, "Test share", "Share kept for a final test, never used to pick the best "
                                  "epoch. 0 = no test set.", minimum=0, maximum=1, max_open=True)
    split_seed: int = option(0, "Split seed", "Seeds which images go to validation.", minimum=0, maximum=2**31 - 1)
    num_workers: int = option(-1, "Loader processes", "Processes decoding images while the model trains; "
                              "-1 = chosen from the machine, 0 = decode in the training process.", minimum=-1,
                              maximum=256, flag="--workers")
    cache_images: bool = option(False, "Keep images in memory", "Keep decoded, resized images in RAM between "
                                "epochs: faster epochs for datasets that fit.")


@dataclass(frozen=True)
class AugmentConfig:
    """Training augmentation; each part can be switched off, strengths are 0..1 or degrees."""

    random_resized_crop: bool = option(True, "Random crop", "Crop a random part (see the smallest crop) and resize "
                                       "it; off: a random crop after resizing.", flag="--crop")
    crop_scale_min: float = option(0.08, "Smallest crop", "Smallest share of the image a random crop may keep.",
                                   minimum=0, maximum=1, min_open=True)
    hflip: bool = option(True, "Mirror left-right", "Flip horizontally half of the time.")
    vflip: bool = option(False, "Flip upside down", "Flip vertically half of the time (aerial or microscope "
                         "images; not for photos of upright things).")
    rotation_degrees: float = option(0.0, "Rotation", "Rotate by a random angle up to this many degrees. 0 = off.",
                                     minimum=0, maximum=180, flag="--rotation")
    color_jitter: float = option(0.0, "Colour jitter", "Strength of random brightness, contrast, saturation and "
                                 "hue changes. 0 = off.", minimum=0, maximum=1)
    gaussian_blur: float = option(0.0, "Blur", "Probability of a Gaussian blur. 0 = off.", minimum=0, maximum=1,
                                  flag="--blur")


@dataclass(frozen=True)
class ModelConfig:
    """Which backbone, which weights, and what head."""

    name: str = option("resnet18", "Backbone", "The pretrained network to fine-tune (see `imgcls models`).",
                       flag="--model")
    weights: str = option("imagenet", "Starting weights", "imagenet, none (random) or the path of a state dict or "
                          "an imgcls checkpoint.")
    hidden_size: int = option(0, "Hidden layer", "Units of an extra hidden layer (ReLU) in the new head; 0 = a "
                              "single linear layer.", minimum=0, maximum=65536)
    dropout: float = option(0.0, "Dropout", "Dropout before the head's last layer: fights over-fitting on small "
                            "datasets. 0 = off.", minimum=0, maximum=1, max_open=True)
    image_size: int = option(0, "Image size", "Side of the square the images are cropped to; smaller trains "
                             "faster, larger sees more detail. 0 = the backbone's own (224, 299 for Inception).",
                             minimum=0, maximum=4096)


@dataclass(frozen=True)
class FreezeConfig:
    """What to freeze. ``first-n`` freezes the first ``groups`` layer groups.

    ``two-phase`` trains the head for ``head_epochs`` with everything else frozen, then unfreezes
    all groups; group ``i`` of ``n`` (0 = earliest) then trains at ``lr * lr_decay ** (n - 1 - i)``
    (``models.freezing.freeze_plan`` reads these settings).
    """

    mode: FreezeMode = option("head", "Freezing", "none: every layer trains; head: only the new head; first-n: "
                              "the first N layer groups stay frozen; two-phase: the head alone, then everything.",
                              flag="--freeze")
    groups: int = option(0, "Frozen groups", "first-n: how many layer groups, counted from the input, stay frozen.",
                         minimum=0, flag=None)
    head_epochs: int = option(1, "Head epochs", "two-phase: epochs with only the head trained.", minimum=1)
    lr_decay: float = option(0.3, "Rate factor per group", "two-phase: each layer group trains at this factor times "
                             "the rate of the group above it.", minimum=0, maximum=1, min_open=True)


@dataclass(frozen=True)
class OptimConfig:
    """Optimizer, regularisation and learning-rate schedule."""

    optimizer: OptimizerName = option("adamw", "Optimizer", "AdamW suits most fine-tuning; SGD with momentum can "
                                      "generalise slightly better with a tuned schedule.")
    lr: float = option(1e-3, "Learning rate", "Step size of the optimizer for the head; frozen-then-unfrozen "
                       "layers get a fraction of it (two-phase). 0 trains nothing.", minimum=0)
    momentum: float = option(0.9, "Momentum", "SGD and RMSprop only.", minimum=0, maximum=1, max_open=True)
    nesterov: bool = option(False, "Nesterov", "Nesterov momentum (SGD only).")
    weight_decay: float = option(1e-4, "Weight decay", "L2 penalty on the weights (decoupled for AdamW). 0 = off.",
                                 minimum=0)
    l1: float = option(0.0, "L1 penalty", "Adds this times the sum of |weights| of trainable layers to the loss; "
                       "pushes weights to exactly zero. 0 = off.", minimum=0)
    label_smoothing: float = option(0.0, "Label smoothing", "Train towards 1 - e instead of 1 for the true class: "
                                    "less over-confident models. 0 = off.", minimum=0, maximum=1, max_open=True)
    scheduler: SchedulerName = option("cosine", "Schedule", "How the learning rate changes over the run: constant, "
                                      "step (x gamma every step-size epochs), cosine decay, or one-cycle.")
    warmup_epochs: float = option(0.0, "Warm-up", "Epochs of linear warm-up from 0 to the learning rate "
                                  "(fractions allowed). 0 = none.", minimum=0)
    step_size: int = option(10, "Step size", "Step schedule: epochs between rate drops.", minimum=1)
    gamma: float = option(0.1, "Gamma", "Step schedule: factor applied to the rate at each drop.", minimum=0,
                          maximum=1, min_open=True)


@dataclass(frozen=True)
class TrainConfig:
    """The loop itself."""

    epochs: int = option(10, "Epochs", "Passes over the training images.", minimum=1)
    batch_size: int = option(32, "Batch size", "Images per optimizer step; lower it if the GPU runs out of memory. "
                             "0 = chosen from the device's memory.", minimum=0, maximum=65536)
    seed: int = option(0, "Seed", "Seeds shuffling, augmentation and the head's initial weights: the same seed and "
                       "config give the same run.", minimum=0, maximum=2**31 - 1)
    device: str = option("auto", "Device", "auto (CUDA GPU, then Apple GPU, then CPU), cpu, cuda, cuda:N, mps, or "
                         "cuda:all: every GPU, one process each (the app; imgcls train uses the first GPU "
                         "unless --nproc-per-node N).")
    amp: bool = option(True, "Mixed precision", "Half-precision maths on CUDA GPUs: faster, less memory, same "
                       "accuracy in practice. Ignored on CPU (see CPU speed-ups).")
    channels_last: bool = option(True, "Channels-last", "Channels-last memory layout on CUDA GPUs (faster "
                                 "convolutions with mixed precision). Ignored on CPU (see CPU speed-ups).")
    cpu_speed: CpuSpeedName = option("auto", "CPU speed-ups", "Training and feature extraction on the CPU: "
                                     "channels-last memory layout and bfloat16 autocast. auto = both where the CPU "
                                     "has bfloat16 instructions (AVX512-BF16, AMX, Arm BF16); elsewhere only feature "
                                     "extraction runs channels-last, for the families measured faster so (all but "
                                     "ConvNeXt). The other choices force them. Ignored on GPUs.")
    early_stopping_patience: int = option(0, "Early stopping", "Stop when the validation metric has not improved "
                                          "for this many epochs. 0 = off.", minimum=0, flag="--early-stopping",
                                          metavar="PATIENCE")
    monitor: str = option("auto", "Best epoch by", "Validation metric that picks best.pt and drives early stopping "
                          "(accuracy, f1_macro, map, roc_auc_macro, val_loss); auto = accuracy or mAP.")
    class_weights: ClassWeights = option("none", "Class weights", "auto: each class's share of the loss is weighed "
                                         "by how rare it is among the training images (total / (classes x count); "
                                         "multi-label: a class's positives by negatives/positives); none: every "
                                         "image counts the same.")
    sampler: SamplerName = option("natural", "Sampling", "balanced: draw the training images of each epoch with "
                                  "replacement so every class comes up about equally often (rare ones repeat); "
                                  "natural: each image once per epoch.")
    sync_batchnorm: bool = option(False, "Sync BatchNorm", "In a run over several GPUs (torchrun), compute "
                                  "BatchNorm statistics over all GPUs' images together (SyncBatchNorm): steadier "
                                  "with small batches per GPU, a little slower. Ignored in other runs.")
    deterministic: bool = option(False, "Deterministic", "Use only deterministic GPU algorithms: bit-identical "
                                 "reruns, somewhat slower.")
    # Frozen backbone: compute its features once and train the head on them (see feature_cache.py).
    feature_cache: bool = option(True, "Cache frozen features", "With a frozen backbone, compute its features once "
                                 "and train only the head on them: many times faster.")
    feature_views: int = option(0, "Augmented views", "Cached features: augmented versions kept per training image; "
                                "0 = the plain view only (augmentation then does not apply).", minimum=0,
                                maximum=1000)
    feature_cache_ram_mb: int = option(2048, "Feature cache RAM", "Above this many MB, cached features live in a "
                                       "memory-mapped file.", minimum=0)
    feature_cache_dir: str = option("", "Feature cache folder", "Where memory-mapped features go; empty = the "
                                    "per-user cache folder (IMGCLS_CACHE_DIR overrides).")


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
        from .config_file import read_config_yaml  # bounded: size, depth, no aliases, UTF-8 only

        data = read_config_yaml(path)
        try:
            return cls.from_dict(data)
        except OptionValueError as exc:  # say which file holds the bad value
            raise OptionValueError(f"{path}: {exc}", exc.option, exc.value, exc.reason) from exc
        except ConfigError as exc:
            raise ConfigError(f"{path}: {exc}") from exc

    def replace(self, **sections: Any) -> "RunConfig":
        """Return a copy with some sections replaced: ``cfg.replace(train=cfg.train.__class__(...))``."""
        return dataclasses.replace(self, **sections)


T = TypeVar("T")


def run_options() -> tuple[OptionSpec, ...]:
    """The option table: every ``RunConfig`` field with its label, help, type, default and valid range."""
    return tuple(_option_specs().values())


def option_spec(name: str) -> OptionSpec:
    """The option table's entry for ``"section.key"`` (KeyError for a name that is no option)."""
    return _option_specs()[name]


def config_schema() -> dict[str, Any]:
    """A JSON Schema of config.yaml, derived from the option table (editors can complete and check with it)."""
    return option_schema(run_options())


def check_config(config: RunConfig) -> None:
    """Refuse a config with a value outside its option's range; the message names the key path."""
    for spec in run_options():
        value = getattr(getattr(config, spec.section), spec.key)
        why = spec.problem(value)
        if why:
            raise OptionValueError(f"{spec.name}: {value} {why}.", spec.name, value, why)


@functools.cache
def _option_specs() -> dict[str, OptionSpec]:
    return {spec.name: spec for spec in describe_options(RunConfig)}


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
        spec = _option_specs().get(f"{where.rsplit('.', 1)[-1]}.{name}")  # None for the sections themselves
        why = spec.problem(kwargs[name]) if spec is not None else None
        if why:
            raise OptionValueError(f"{where}.{name}: {value} {why}.", spec.name, value, why)
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
