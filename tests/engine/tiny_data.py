"""Tiny generated image datasets for training tests (colour decides the class, so models can learn fast)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

COLOURS = {"red": (220, 30, 30), "green": (30, 200, 40), "blue": (30, 40, 220)}


def make_class_folders(root: Path, classes=("red", "blue"), per_class: int = 12, size: int = 40, seed: int = 0) -> Path:
    """root/<class>/<n>.png noisy images whose dominant colour is the class."""
    rng = np.random.default_rng(seed)
    for name in classes:
        (root / name).mkdir(parents=True, exist_ok=True)
        for i in range(per_class):
            base = np.array(COLOURS[name], dtype=float)
            pixels = np.clip(base + rng.normal(0, 40, size=(size, size, 3)), 0, 255).astype("uint8")
            Image.fromarray(pixels).save(root / name / f"{i:03d}.png")
    return root


def make_multilabel_csv(root: Path, n: int = 30, size: int = 40, seed: int = 0) -> Path:
    """images/*.png with red and/or blue halves; labels.csv with 'path,labels' (';'-separated)."""
    rng = np.random.default_rng(seed)
    (root / "images").mkdir(parents=True, exist_ok=True)
    rows = ["path,labels"]
    for i in range(n):
        labels = [["red"], ["blue"], ["red", "blue"]][i % 3]
        pixels = np.clip(rng.normal(128, 30, size=(size, size, 3)), 0, 255)
        if "red" in labels:
            pixels[:, : size // 2] = COLOURS["red"]
        if "blue" in labels:
            pixels[:, size // 2 :] = COLOURS["blue"]
        Image.fromarray(pixels.astype("uint8")).save(root / "images" / f"{i:03d}.png")
        rows.append(f"images/{i:03d}.png,{';'.join(labels)}")
    (root / "labels.csv").write_text("\n".join(rows) + "\n")
    return root / "labels.csv"
