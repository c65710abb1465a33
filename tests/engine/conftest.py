"""Helpers that generate tiny images on disk, so engine tests never need real photos to be fast."""

from __future__ import annotations

from pathlib import Path
from typing import Callable

import numpy as np
import pytest
from PIL import Image

MakeImage = Callable[..., Path]


def write_image(path: Path, *, size: tuple[int, int] = (24, 16), seed: int = 0, color: tuple[int, int, int] | None = None,
                mode: str = "RGB", **save_kwargs) -> Path:
    """Write a small image: random noise from ``seed`` (so files differ) or a flat ``color``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    width, height = size
    if color is not None:
        image = Image.new("RGB", size, color)
    else:
        pixels = np.random.default_rng(seed).integers(0, 256, (height, width, 3), dtype=np.uint8)
        image = Image.fromarray(pixels)
    if mode != "RGB":
        image = image.convert(mode)
    image.save(path, **save_kwargs)
    return path


@pytest.fixture
def make_image() -> MakeImage:
    """``make_image(path, size=(w, h), seed=..., color=..., mode=..., **save_kwargs) -> path``."""
    return write_image


def write_folder_dataset(root: Path, classes: dict[str, int], *, size: tuple[int, int] = (24, 16), ext: str = ".png") -> Path:
    """root/<class>/<i><ext> with ``classes[name]`` distinct noise images per class."""
    seed = 0
    for name, count in classes.items():
        for i in range(count):
            seed += 1
            write_image(root / name / f"{i:03d}{ext}", size=size, seed=seed)
    return root


@pytest.fixture
def folder_dataset(tmp_path: Path) -> Path:
    """A folder-per-class dataset: 3 classes (cat 6, dog 6, fox 4) of distinct 24x16 PNGs."""
    return write_folder_dataset(tmp_path / "pets", {"cat": 6, "dog": 6, "fox": 4})


@pytest.fixture
def make_folder_dataset() -> Callable[..., Path]:
    """``make_folder_dataset(root, {"cat": 3, ...}, size=(w, h), ext=".png") -> root`` (fixture form: no import paths)."""
    return write_folder_dataset
