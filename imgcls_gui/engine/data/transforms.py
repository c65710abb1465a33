"""Training-time augmentation (torchvision.transforms.v2), ending in the same normalisation as evaluation.

The evaluation pipeline is ``preprocess.eval_transform``: one rule shared with export and prediction,
so it is deliberately not rebuilt here. torch is imported inside the functions (the GUI imports this
module at start-up to show the augmentation settings).

``augmentation_preview`` shows what the training loop sees: the same transform, un-normalised back
to 8-bit pixels, so the GUI only has to paint arrays.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from ..config import AugmentConfig
from ..errors import ConfigError, ImgclsError
from .images import load_image
from .preprocess import Preprocessing, eval_transform

__all__ = ["train_transform", "eval_transform", "blur_kernel_size", "augmentation_preview", "to_uint8_pixels"]


def blur_kernel_size(image_size: int) -> int:
    """An odd Gaussian kernel about 1/20 of the image side (3 at least), so blur looks alike at any size."""
    size = max(3, image_size // 20)
    return size if size % 2 else size + 1


def train_transform(pre: Preprocessing, aug: AugmentConfig):
    """PIL image → augmented, normalised float tensor of shape (3, pre.image_size, pre.image_size)."""
    import torch
    from torchvision.transforms import v2

    _validate(aug)
    steps: list = [v2.ToImage()]  # augment uint8 tensors: faster than PIL and identical on every platform
    if aug.random_resized_crop:
        steps.append(v2.RandomResizedCrop(pre.image_size, scale=(aug.crop_scale_min, 1.0), antialias=True))
    else:
        steps += [v2.Resize(pre.resize_size, antialias=True), v2.RandomCrop(pre.image_size)]
    if aug.hflip:
        steps.append(v2.RandomHorizontalFlip())
    if aug.vflip:
        steps.append(v2.RandomVerticalFlip())
    if aug.rotation_degrees > 0:
        steps.append(v2.RandomRotation(aug.rotation_degrees))
    if aug.color_jitter > 0:
        strength = aug.color_jitter
        steps.append(v2.ColorJitter(brightness=strength, contrast=strength, saturation=strength, hue=min(strength / 4, 0.5)))
    if aug.gaussian_blur > 0:
        steps.append(v2.RandomApply([v2.GaussianBlur(blur_kernel_size(pre.image_size))], p=aug.gaussian_blur))
    steps += [v2.ToDtype(torch.float32, scale=True), v2.Normalize(list(pre.mean), list(pre.std))]
    return v2.Compose(steps)


def to_uint8_pixels(tensor, pre: Preprocessing) -> np.ndarray:
    """A normalised (3, H, W) float tensor back to the H×W×3 uint8 pixels it shows (clipped to [0, 255])."""
    import torch

    mean = torch.tensor(pre.mean, dtype=tensor.dtype).view(3, 1, 1)
    std = torch.tensor(pre.std, dtype=tensor.dtype).view(3, 1, 1)
    pixels = ((tensor * std + mean).clamp(0, 1) * 255).round().to(torch.uint8)
    return pixels.permute(1, 2, 0).contiguous().numpy().copy()


def augmentation_preview(paths: Sequence[Path], pre: Preprocessing, aug: AugmentConfig, views: int, seed: int,
                         should_stop: Callable[[], bool] | None = None) -> list[tuple[str, np.ndarray]]:
    """``views`` augmented versions of each image as training would see them: (file name, H×W×3 uint8).

    The same ``seed`` gives the same tiles; torch's global random state is left as it was (a training
    run seeds it for reproducibility). Unreadable files are skipped (the health check reports them).
    When ``should_stop()`` turns true, the tiles made so far are returned.
    """
    import torch

    transform = train_transform(pre, aug)
    tiles: list[tuple[str, np.ndarray]] = []
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        for path in paths:
            if should_stop is not None and should_stop():
                break
            try:
                image = load_image(path, draft_size=pre.resize_size)
            except ImgclsError:
                continue
            tiles += [(Path(path).name, to_uint8_pixels(transform(image), pre)) for _ in range(views)]
    return tiles


def _validate(aug: AugmentConfig) -> None:
    if not 0.0 < aug.crop_scale_min <= 1.0:
        raise ConfigError(f"augment.crop_scale_min must be in (0, 1], got {aug.crop_scale_min}.")
    if aug.rotation_degrees < 0 or aug.color_jitter < 0:
        raise ConfigError("augment.rotation_degrees and augment.color_jitter must not be negative.")
    if not 0.0 <= aug.gaussian_blur <= 1.0:
        raise ConfigError(f"augment.gaussian_blur is a probability in [0, 1], got {aug.gaussian_blur}.")
