"""The simple mode's choices: training presets and model sizes, as plain data over ``RunConfig`` fields.

A preset only writes the options it names (``"section.key"`` of the option table) into a copy of
the draft config; everything else, advanced edits included, stays as it was. Every preset names
the same options, so choosing one after another leaves nothing of the first behind, and a config
"is" a preset exactly when it holds all of that preset's values (what the panel highlights).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from ...engine import RunConfig, get_backbone, option_spec


@dataclass(frozen=True)
class Preset:
    """A named set of option values; ``purpose`` is the one line a newcomer reads first."""

    name: str
    purpose: str
    values: tuple[tuple[str, object], ...]  # ("train.epochs", 3), ...


PRESETS = (
    Preset("Quick look", "A first model in minutes: few epochs, small images, only the new head trains.", (
        ("train.epochs", 3), ("model.image_size", 160), ("freeze.mode", "head"), ("freeze.head_epochs", 1),
        ("augment.random_resized_crop", True), ("augment.crop_scale_min", 0.35), ("augment.hflip", True),
        ("augment.rotation_degrees", 0.0), ("augment.color_jitter", 0.0), ("optim.label_smoothing", 0.0),
        ("optim.warmup_epochs", 0.0), ("train.early_stopping_patience", 0))),
    Preset("Balanced", "A good model for most photo sets: the head first, then the whole network fine-tunes.", (
        ("train.epochs", 10), ("model.image_size", 0), ("freeze.mode", "two-phase"), ("freeze.head_epochs", 2),
        ("augment.random_resized_crop", True), ("augment.crop_scale_min", 0.2), ("augment.hflip", True),
        ("augment.rotation_degrees", 0.0), ("augment.color_jitter", 0.1), ("optim.label_smoothing", 0.0),
        ("optim.warmup_epochs", 0.0), ("train.early_stopping_patience", 0))),
    Preset("Best accuracy", "Longer training with stronger augmentation; stops early once validation stops improving.", (
        ("train.epochs", 30), ("model.image_size", 0), ("freeze.mode", "two-phase"), ("freeze.head_epochs", 3),
        ("augment.random_resized_crop", True), ("augment.crop_scale_min", 0.08), ("augment.hflip", True),
        ("augment.rotation_degrees", 10.0), ("augment.color_jitter", 0.2), ("optim.label_smoothing", 0.1),
        ("optim.warmup_epochs", 1.0), ("train.early_stopping_patience", 8))),
)

# (label, backbone): small is fast on a laptop CPU, large is slow there but the most accurate.
MODEL_SIZES = (("Small", "mobilenet_v3_small"), ("Medium", "resnet18"), ("Large", "convnext_tiny"))

_ZERO_TEXT = {"model.image_size": "the backbone's own"}  # what 0 means where it is not "off"
_UNITS = {"model.image_size": " px", "augment.rotation_degrees": "°", "optim.warmup_epochs": " epochs",
          "train.early_stopping_patience": " epochs"}


def _value(config: RunConfig, name: str) -> object:
    section, key = name.split(".")
    return getattr(getattr(config, section), key)


def apply_preset(config: RunConfig, preset: Preset) -> RunConfig:
    """``config`` with the preset's values written in; every other option kept."""
    changes: dict[str, dict[str, object]] = {}
    for name, value in preset.values:
        section, key = name.split(".")
        changes.setdefault(section, {})[key] = value
    return config.replace(**{section: dataclasses.replace(getattr(config, section), **values)
                             for section, values in changes.items()})


def matches(config: RunConfig, preset: Preset) -> bool:
    """Whether ``config`` holds every value the preset sets."""
    return all(_value(config, name) == value for name, value in preset.values)


def value_text(name: str, value: object) -> str:
    """A preset value as the tooltip says it: "on", "off", "160", "the backbone's own"."""
    if isinstance(value, bool):
        return "on" if value else "off"
    if value == 0 and isinstance(value, (int, float)):
        return _ZERO_TEXT.get(name, "off")
    number = f"{value:g}" if isinstance(value, float) else str(value)
    return number + _UNITS.get(name, "")


def preset_tooltip(preset: Preset) -> str:
    """The preset's purpose and, one per line, each option it sets (with the option table's label)."""
    lines = [f"{option_spec(name).option.label}: {value_text(name, value)}" for name, value in preset.values]
    return f"{preset.purpose}\nSets:\n  " + "\n  ".join(lines)


def size_tooltip(backbone: str) -> str:
    spec = get_backbone(backbone)
    return f"{spec.name}: {spec.params_millions:.1f} M parameters, {spec.input_size} px. {spec.description}".strip()
