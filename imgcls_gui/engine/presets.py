"""Training presets: named sets of option values over ``RunConfig`` fields ("section.key" of the
option table), shared by the Training panel's simple mode and ``imgcls train --preset NAME``.

A preset only writes the options it names into a copy of a config; everything else stays as it
was. Every preset names the same options, so choosing one after another leaves nothing of the
first behind, and a config "is" a preset exactly when it holds all of that preset's values.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from .config import RunConfig
from .errors import ConfigError


@dataclass(frozen=True)
class Preset:
    """A named set of option values; ``purpose`` is the one line a newcomer reads first."""

    name: str
    purpose: str
    values: tuple[tuple[str, object], ...]  # ("train.epochs", 3), ...

    @property
    def cli_name(self) -> str:
        """The name ``--preset`` takes: "quick-look" for "Quick look"."""
        return self.name.lower().replace(" ", "-")


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


def preset_named(name: str) -> Preset:
    """The preset called ``name`` ("quick-look" or "Quick look", any case); ConfigError listing the names otherwise."""
    wanted = name.strip().lower().replace("_", "-").replace(" ", "-")
    for preset in PRESETS:
        if preset.cli_name == wanted:
            return preset
    names = ", ".join(preset.cli_name for preset in PRESETS)
    raise ConfigError(f"--preset {name}: use one of {names}.")


def preset_value(config: RunConfig, name: str) -> object:
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
    return all(preset_value(config, name) == value for name, value in preset.values)
