"""The demo project's starting options: a choice that trains out of the box, offline included.

The default options start from ImageNet weights. On a machine that never downloaded them (or is
offline), the first click of Start in the demo would stop at a missing-weights error. So the demo
starts from the default backbone's ImageNet weights when they are cached, else from the smallest
backbone whose weights are cached, else trains the default backbone from scratch: every layer
(a random backbone with a frozen body learns nothing) on small images (the digits are 32 px).
In every case augmentation suits digits: no mirroring (a mirrored 3 is no digit) and crops that
keep most of the digit.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

from ..config import FreezeConfig, RunConfig
from ..models.registry import list_backbones

SCRATCH_IMAGE_SIZE = 64  # from scratch on 32 px digits: small inputs train in seconds per epoch on a CPU
DIGIT_CROP_SCALE_MIN = 0.5


def demo_run_config(base: RunConfig | None = None, is_cached: Callable[[str], bool] | None = None) -> RunConfig:
    """``base`` (default: the default options) with digit-friendly augmentation, changed only as far as
    needed to train without a download.

    ``is_cached(backbone)`` says whether its ImageNet weights are on disk (default: torchvision's
    cache, which imports torch).
    """
    base = base if base is not None else RunConfig()
    augment = dataclasses.replace(base.augment, hflip=False, vflip=False,
                                  crop_scale_min=max(base.augment.crop_scale_min, DIGIT_CROP_SCALE_MIN))
    base = base.replace(augment=augment)
    if is_cached is None:
        from ..models.build import weights_cached as is_cached
    model = base.model
    if model.weights != "imagenet" or is_cached(model.name):
        return base
    cached = sorted((spec for spec in list_backbones() if is_cached(spec.name)), key=lambda s: s.params_millions)
    if cached:
        return base.replace(model=dataclasses.replace(model, name=cached[0].name, image_size=0))
    return base.replace(model=dataclasses.replace(model, weights="none", image_size=SCRATCH_IMAGE_SIZE),
                        freeze=FreezeConfig(mode="none"))
