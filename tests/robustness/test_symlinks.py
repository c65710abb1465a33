"""What imgcls follows when a dataset holds symlinks, as README and docs/robustness.md state it (issue 12).

Policy: follow and say so. A symlinked *class folder* (top level of a dataset) is followed: it is the usual
way to assemble a dataset from folders kept elsewhere. Symlinked folders *below* that are not followed (no
loops, no surprise trees); ``imgcls predict`` follows no symlinked folder at all. A symlinked *file* is read
wherever it points, but only as an image: a target that is not a regular, decodable image file is refused by
name and its content never shown. CSV paths may name any file the user can read (absolute or ``../``).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from imgcls_gui.engine.data.datasets import load_dataset
from imgcls_gui.engine.data.health import health_report
from imgcls_gui.engine.deploy.predict_io import iter_image_paths

from .corpus import noise

pytestmark = pytest.mark.timeout(120, method="thread")

SECRET = "ssh-rsa AAAAB3NzaC1yc2EAAAADAQAB secret-key-material"


@pytest.fixture
def tree(tmp_path) -> Path:
    """data/{red,blue} plus a class folder, a nested folder and files linked in from outside, and loops."""
    for folder in ("data/red", "data/blue", "outside", "elsewhere"):
        (tmp_path / folder).mkdir(parents=True)
    for i in range(3):
        for seed, folder in enumerate(("data/red", "data/blue", "outside", "elsewhere")):
            noise((16, 16), seed=10 * seed + i).save(tmp_path / folder / f"{i}.png")
    (tmp_path / "secret.txt").write_text(SECRET)
    data = tmp_path / "data"
    os.symlink(tmp_path / "outside", data / "green")  # a class folder kept elsewhere
    os.symlink(tmp_path / "elsewhere", data / "red" / "nested")  # a folder linked in below a class
    os.symlink("..", data / "blue" / "loop")  # a loop back to the dataset root
    os.symlink(data, data / "red" / "root-again")
    os.symlink(tmp_path / "secret.txt", data / "red" / "key.jpg")  # a non-image behind an image name
    os.symlink(tmp_path / "elsewhere" / "0.png", data / "red" / "linked.png")
    return data


def _names(paths, root: Path) -> set[str]:
    return {Path(p).relative_to(root).as_posix() for p in paths}


def test_import_follows_a_symlinked_class_folder_and_no_folder_below(tree):
    ds = load_dataset(tree)
    assert ds.classes == ["blue", "green", "red"]
    assert _names((s.path for s in ds.samples), tree) == {
        *(f"{c}/{i}.png" for c in ("red", "blue", "green") for i in range(3)), "red/linked.png", "red/key.jpg",
    }  # nothing from red/nested, no second copy through the loops


def test_predict_follows_no_symlinked_folder(tree):
    assert _names(iter_image_paths([tree]), tree) == {
        *(f"{c}/{i}.png" for c in ("red", "blue") for i in range(3)), "red/linked.png", "red/key.jpg",
    }


def test_a_linked_file_is_read_only_as_an_image_and_its_content_never_shown(tree):
    report = health_report(load_dataset(tree))
    reasons = {Path(p.path).name: p.reason for p in report.problems}
    assert reasons["key.jpg"].startswith("not a supported image")
    assert "linked.png" not in reasons  # an image linked in from elsewhere is used
    assert SECRET not in report.to_text() and "secret-key" not in repr(report.to_dict())


@pytest.mark.parametrize("style", ["absolute", "dot-dot"])
def test_csv_paths_may_name_images_outside_the_csv_folder(tree, style):
    outside = tree.parent / "elsewhere" / "1.png"
    cell = str(outside) if style == "absolute" else "../elsewhere/1.png"
    csv = tree / "labels.csv"
    csv.write_text("path,label\n" + "".join(f"red/{i}.png,red\nblue/{i}.png,blue\n" for i in range(3)) + f"{cell},blue\n")
    ds = load_dataset(csv)
    assert outside in {s.path for s in ds.samples}
