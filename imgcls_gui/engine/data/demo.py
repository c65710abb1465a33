"""The demo dataset: scikit-learn's 8x8 handwritten digits written out as a folder per class.

It ships inside scikit-learn (no download), and at 32x32 px with ~50 images per class a model trains
on it in seconds on a CPU, so the README's quick start works on any machine, offline.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

import numpy as np
from PIL import Image

from ..errors import DatasetError, ImgclsError

DEMO_FOLDER_NAME = "demo-digits"
_MARKER = ".imgcls-demo.json"  # hidden, so importers never take it for data


def default_data_dir() -> Path:
    """Per-user data folder: ``$IMGCLS_DATA_DIR``, else the platform's usual place for app data."""
    override = os.environ.get("IMGCLS_DATA_DIR")
    if override:
        return Path(override).expanduser()
    if sys.platform == "win32":
        base = Path(os.environ.get("LOCALAPPDATA") or Path.home() / "AppData" / "Local")
    elif sys.platform == "darwin":
        base = Path.home() / "Library" / "Application Support"
    else:
        base = Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share")
    return base / "imgcls"


def demo_dataset_dir(root: Path | None = None, *, per_class: int = 50, image_size: int = 32,
                     progress: Callable[[int, int], None] | None = None) -> Path:
    """The folder-per-class digits dataset at ``root`` (default: the data folder's demo-digits), written once.

    ``progress(classes_written, classes)`` follows the writing. The images are written into a temporary sibling folder that is renamed into place, so a crash or a
    second process never leaves half a dataset behind. Calling again returns the existing folder.
    """
    folder = Path(root) if root is not None else default_data_dir() / DEMO_FOLDER_NAME
    if (folder / _MARKER).is_file():
        return folder
    if folder.exists() and (not folder.is_dir() or any(folder.iterdir())):
        raise DatasetError(f"{folder}: exists and is not an imgcls demo folder; choose a new or empty folder for the demo.")
    try:
        folder.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{folder.name}.", suffix=".tmp", dir=folder.parent))
    except OSError as exc:
        raise ImgclsError(f"{folder}: cannot create the demo dataset here ({exc.strerror or exc}); set IMGCLS_DATA_DIR.") from exc
    try:
        counts = _write_digits(staging, per_class, image_size, progress)
        (staging / _MARKER).write_text(json.dumps({"source": "sklearn.datasets.load_digits", "per_class": counts}))
        if folder.is_dir():
            folder.rmdir()  # empty (checked above); Windows cannot rename onto an existing folder
        os.replace(staging, folder)
    except OSError as exc:
        if (folder / _MARKER).is_file():  # another process finished first: its copy is as good as ours
            return folder
        raise ImgclsError(f"{folder}: cannot write the demo dataset ({exc.strerror or exc}); set IMGCLS_DATA_DIR.") from exc
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return folder


def _write_digits(target: Path, per_class: int, image_size: int,
                  progress: Callable[[int, int], None] | None = None) -> dict[str, int]:
    """target/<digit>/<n>.png: the first ``per_class`` images of each digit, dark ink on white, RGB."""
    from sklearn.datasets import load_digits

    digits = load_digits()
    counts: dict[str, int] = {}
    for digit in range(10):
        folder = target / str(digit)
        folder.mkdir()
        chosen = np.flatnonzero(digits.target == digit)[:per_class]
        for n, index in enumerate(chosen):
            ink = digits.images[index] / 16.0  # load_digits values are 0..16
            gray = Image.fromarray((255 - np.rint(ink * 255)).astype(np.uint8))
            gray.resize((image_size, image_size), Image.Resampling.BILINEAR).convert("RGB").save(folder / f"{n:03d}.png")
        counts[str(digit)] = len(chosen)
        if progress is not None:
            progress(digit + 1, 10)
    return counts
