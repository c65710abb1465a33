from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from imgcls_gui.engine.config import AugmentConfig
from imgcls_gui.engine.errors import ConfigError
from imgcls_gui.engine.data.preprocess import Preprocessing, eval_transform
from imgcls_gui.engine.data.transforms import blur_kernel_size, train_transform

OFF = AugmentConfig(random_resized_crop=False, hflip=False, vflip=False, rotation_degrees=0, color_jitter=0, gaussian_blur=0)


def _noise(width: int, height: int, seed: int = 0) -> Image.Image:
    return Image.fromarray(np.random.default_rng(seed).integers(0, 256, (height, width, 3), dtype=np.uint8))


def _left_dark_right_bright(size: int = 32) -> Image.Image:
    pixels = np.zeros((size, size, 3), dtype=np.uint8)
    pixels[:, size // 2 :] = 255
    return Image.fromarray(pixels)


@pytest.mark.parametrize(
    "aug",
    [
        AugmentConfig(),
        AugmentConfig(vflip=True, rotation_degrees=20, color_jitter=0.4, gaussian_blur=1.0, crop_scale_min=0.5),
        OFF,
    ],
)
def test_output_is_a_normalised_float_tensor_of_the_crop_size(aug):
    pre = Preprocessing.for_size(40)
    out = train_transform(pre, aug)(_noise(70, 50))
    assert out.shape == (3, 40, 40) and out.dtype == torch.float32
    assert torch.isfinite(out).all()
    assert out.min() < 0  # normalised, not [0, 1]


def test_with_augmentation_off_it_matches_the_eval_rule_on_a_square_image():
    pre = Preprocessing(image_size=32, resize_size=32)
    image = _noise(48, 48, seed=2)
    assert torch.allclose(train_transform(pre, OFF)(image), eval_transform(pre)(image), atol=1e-6)


def test_horizontal_flip_happens_only_when_enabled():
    pre = Preprocessing(image_size=32, resize_size=32)
    image = _left_dark_right_bright()
    torch.manual_seed(0)
    flipping = train_transform(pre, AugmentConfig(random_resized_crop=False, hflip=True))
    left_is_bright = {bool(flipping(image)[0, :, 0].mean() > 0) for _ in range(30)}
    assert left_is_bright == {True, False}
    steady = train_transform(pre, OFF)
    assert {bool(steady(image)[0, :, 0].mean() > 0) for _ in range(10)} == {False}


def test_seeded_runs_repeat():
    transform = train_transform(Preprocessing.for_size(32), AugmentConfig(color_jitter=0.3, rotation_degrees=10))
    image = _noise(50, 40, seed=1)
    torch.manual_seed(5)
    first = transform(image)
    torch.manual_seed(5)
    assert torch.equal(first, transform(image))


@pytest.mark.parametrize("size, expected", [(32, 3), (64, 3), (100, 5), (224, 11), (299, 15), (400, 21)])
def test_blur_kernel_is_odd_and_scales_with_the_image(size, expected):
    assert blur_kernel_size(size) == expected


@pytest.mark.parametrize(
    "aug",
    [AugmentConfig(crop_scale_min=0), AugmentConfig(crop_scale_min=1.5), AugmentConfig(gaussian_blur=2), AugmentConfig(rotation_degrees=-5)],
)
def test_invalid_settings_are_config_errors(aug):
    with pytest.raises(ConfigError):
        train_transform(Preprocessing.for_size(32), aug)


def test_augmentation_preview_returns_seeded_uint8_tiles_and_leaves_torch_random_state(tmp_path):
    from imgcls_gui.engine.data.transforms import augmentation_preview

    paths = []
    for i in range(2):
        paths.append(tmp_path / f"{i}.png")
        _noise(60, 50, seed=i).save(paths[-1])
    (tmp_path / "broken.png").write_bytes(b"not an image")
    paths.insert(1, tmp_path / "broken.png")
    pre = Preprocessing.for_size(32)
    aug = AugmentConfig(color_jitter=0.4, rotation_degrees=20)
    before = torch.random.get_rng_state()
    tiles = augmentation_preview(paths, pre, aug, views=3, seed=7)
    assert torch.equal(torch.random.get_rng_state(), before)
    assert [name for name, _ in tiles] == ["0.png"] * 3 + ["1.png"] * 3  # the unreadable file is skipped
    assert all(p.shape == (32, 32, 3) and p.dtype == np.uint8 for _, p in tiles)
    again = augmentation_preview(paths, pre, aug, views=3, seed=7)
    assert all(np.array_equal(a, b) for (_, a), (_, b) in zip(tiles, again))
    other = augmentation_preview(paths, pre, aug, views=3, seed=8)
    assert not all(np.array_equal(a, b) for (_, a), (_, b) in zip(tiles, other))


def test_augmentation_preview_shows_the_pixels_not_the_normalised_values(tmp_path):
    from imgcls_gui.engine.data.transforms import augmentation_preview

    Image.new("RGB", (40, 40), (200, 40, 90)).save(tmp_path / "flat.png")
    tiles = augmentation_preview([tmp_path / "flat.png"], Preprocessing.for_size(32), OFF, views=1, seed=0)
    assert np.abs(tiles[0][1].astype(int) - (200, 40, 90)).max() <= 1


def test_augmentation_preview_stops_when_asked(tmp_path):
    from imgcls_gui.engine.data.transforms import augmentation_preview

    _noise(40, 40).save(tmp_path / "a.png")
    asked = []
    tiles = augmentation_preview([tmp_path / "a.png"] * 3, Preprocessing.for_size(32), OFF, views=1, seed=0,
                                 should_stop=lambda: asked.append(1) or len(asked) > 2)
    assert len(tiles) == 2
