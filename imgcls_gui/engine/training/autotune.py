"""Batch size chosen from the machine when the user leaves it on auto (``train.batch_size = 0``).

Training memory is dominated by activations, which grow with the image area. The per-image
figures below are rough training footprints at 224 px with mixed precision (measured orders of
magnitude, not exact): we aim to use about half of the free GPU memory, and on the CPU we keep
batches moderate because larger ones do not speed up a CPU and cost RAM.
"""

from __future__ import annotations

import os

from ..models.registry import BackboneSpec

# Approximate activation memory (MiB) per training image at 224 px, by family.
_MIB_PER_IMAGE = {
    "AlexNet": 8, "VGG": 120, "ResNet": 60, "DenseNet": 110, "GoogLeNet": 40, "Inception": 90,
    "MobileNet": 35, "EfficientNet": 70, "ConvNeXt": 90,
}
CPU_BATCH = 32
MIN_BATCH, MAX_BATCH = 8, 256


def auto_batch_size(spec: BackboneSpec, image_size: int, device_type: str, free_bytes: int | None = None) -> int:
    """A power-of-two batch size that fits the device (``free_bytes``: free accelerator memory)."""
    if device_type != "cuda":
        return CPU_BATCH if _ram_bytes() >= 8 * 1024**3 else CPU_BATCH // 2
    if free_bytes is None:
        import torch

        free_bytes, _total = torch.cuda.mem_get_info()
    per_image = _MIB_PER_IMAGE.get(spec.family, 100) * 1024**2 * (image_size / 224) ** 2
    fits = int(free_bytes * 0.5 / per_image)
    batch = MIN_BATCH
    while batch * 2 <= min(fits, MAX_BATCH):
        batch *= 2
    return batch


def _ram_bytes() -> int:
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return 8 * 1024**3
