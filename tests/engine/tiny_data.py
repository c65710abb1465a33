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


# -- fixtures shaped like real data: class orders that are not alphabetical, label columns found by name ----

# Each class order below differs from sorted() in every position, so a sort anywhere on the way shows up.
PROJECT_ORDER = ("red", "blue", "green")  # the order a user created the classes in (sorted: blue, green, red)
ONE_HOT_ORDER = ("wasp", "ant", "bee")  # a one-hot CSV's column order (sorted: ant, bee, wasp)
INSECT_COLOURS = {"wasp": (230, 200, 20), "ant": (120, 60, 20), "bee": (30, 160, 220)}


def colour_image(colour: tuple[int, int, int], *, size: int = 40, seed: int = 0) -> Image.Image:
    """A noisy image whose dominant colour is ``colour``."""
    rng = np.random.default_rng(seed)
    pixels = np.clip(np.array(colour, dtype=float) + rng.normal(0, 40, size=(size, size, 3)), 0, 255)
    return Image.fromarray(pixels.astype("uint8"))


def make_project_added_later(folder: Path, images: Path, per_class: int = 12, size: int = 40):
    """A project whose classes were created one import at a time in PROJECT_ORDER; returns the open Project.

    Each import brings one new colour folder, as a user adds a class after labelling the first ones.
    """
    from imgcls_gui.engine.data.datasets import import_folder
    from imgcls_gui.engine.project.store import Project

    project = Project.create(folder, "added later")
    for seed, name in enumerate(PROJECT_ORDER):
        batch = make_class_folders(images / f"import{seed}", classes=(name,), per_class=per_class, size=size, seed=seed)
        project.import_dataset(import_folder(batch))
    return project


def make_one_hot_csv(root: Path, *, n: int = 24, negative: str = "-1", size: int = 32, seed: int = 0) -> Path:
    """images/*.png and labels.csv with 0/1 columns in ONE_HOT_ORDER; absent labels are written ``negative``.

    The path column is neither first nor named "path" (``wasp,image,ant,bee``). Row i carries
    ONE_HOT_ORDER[i % 3], and every fourth row the next class too.
    """
    (root / "images").mkdir(parents=True, exist_ok=True)
    rows = ["wasp,image,ant,bee"]
    for i in range(n):
        present = {ONE_HOT_ORDER[i % 3]} | ({ONE_HOT_ORDER[(i + 1) % 3]} if i % 4 == 0 else set())
        colour = INSECT_COLOURS[ONE_HOT_ORDER[i % 3]]
        colour_image(colour, size=size, seed=seed + i).save(root / "images" / f"{i:03d}.png")
        cell = {name: "1" if name in present else negative for name in ONE_HOT_ORDER}
        rows.append(f"{cell['wasp']},images/{i:03d}.png,{cell['ant']},{cell['bee']}")
    (root / "labels.csv").write_text("\n".join(rows) + "\n")
    return root / "labels.csv"


def one_hot_csv_labels(n: int = 24) -> list[tuple[str, ...]]:
    """The labels ``make_one_hot_csv`` gives its rows, sorted as the importer stores them."""
    return [tuple(sorted({ONE_HOT_ORDER[i % 3]} | ({ONE_HOT_ORDER[(i + 1) % 3]} if i % 4 == 0 else set())))
            for i in range(n)]


def make_label_column_csv(root: Path, *, per_class: int = 6, size: int = 32) -> Path:
    """A CSV whose label column is the last of four, chosen by its header: ``photographer,file,notes,class``.

    The columns before it hold text too (photographer names, free notes), so a reader that takes the first
    column after the path gets photographer names as classes.
    """
    (root / "images").mkdir(parents=True, exist_ok=True)
    rows = ["photographer,file,notes,class"]
    photographers = ("kim", "lee", "ada")
    i = 0
    for name in PROJECT_ORDER:
        for k in range(per_class):
            colour_image(COLOURS[name], size=size, seed=100 + i).save(root / "images" / f"p{i:03d}.png")
            rows.append(f"{photographers[i % 3]},images/p{i:03d}.png,shot {k} outdoors,{name}")
            i += 1
    (root / "labels.csv").write_text("\n".join(rows) + "\n")
    return root / "labels.csv"
