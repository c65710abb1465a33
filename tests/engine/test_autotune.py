from __future__ import annotations

from imgcls_gui.engine.training.autotune import MAX_BATCH, MIN_BATCH, auto_batch_size
from imgcls_gui.engine.models.registry import get_backbone


def test_gpu_batch_grows_with_free_memory_and_shrinks_with_image_area():
    spec = get_backbone("resnet50")
    small = auto_batch_size(spec, 224, "cuda", free_bytes=4 * 1024**3)
    large = auto_batch_size(spec, 224, "cuda", free_bytes=40 * 1024**3)
    bigger_images = auto_batch_size(spec, 448, "cuda", free_bytes=40 * 1024**3)
    assert MIN_BATCH <= small < large <= MAX_BATCH
    assert bigger_images < large
    assert all(b & (b - 1) == 0 for b in (small, large, bigger_images))  # powers of two


def test_cpu_batch_is_moderate():
    assert 8 <= auto_batch_size(get_backbone("resnet18"), 224, "cpu") <= 32
