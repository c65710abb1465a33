"""The simple mode's wording over the engine's training presets (``engine/presets.py``, which
``imgcls train --preset`` uses too) and the model sizes it offers.
"""

from __future__ import annotations

from ...engine import PRESETS, Preset, apply_preset, get_backbone, matches, option_spec

__all__ = ["MODEL_SIZES", "PRESETS", "Preset", "apply_preset", "matches", "preset_tooltip", "size_tooltip", "value_text"]

# (label, backbone): small is fast on a laptop CPU, large is slow there but the most accurate.
MODEL_SIZES = (("Small", "mobilenet_v3_small"), ("Medium", "resnet18"), ("Large", "convnext_tiny"))

_ZERO_TEXT = {"model.image_size": "the backbone's own"}  # what 0 means where it is not "off"
_UNITS = {"model.image_size": " px", "augment.rotation_degrees": "°", "optim.warmup_epochs": " epochs",
          "train.early_stopping_patience": " epochs"}


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
