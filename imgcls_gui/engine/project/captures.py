"""Frames captured from a camera become ordinary image files of the project.

A burst of frames for one class is written as JPEG files into ``<project>/images/<class>/`` (each
through a temporary file and a rename, so no half-written image is ever listed), and only then
added to the store in one transaction by the caller: a crash mid-burst leaves at most unlisted
files, never a listed image without its file. Qt-free: frames arrive as H x W x 3 uint8 arrays.
"""

from __future__ import annotations

import io
import re
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path

import numpy as np

from ..checkpoint import atomic_write_bytes
from ..data.samples import LabeledDataset, Sample

IMAGES_DIR = "images"
JPEG_QUALITY = 92
_NOT_IN_NAMES = re.compile(r'[\x00-\x1f<>:"/\\|?*]')


def capture_folder(project_folder: Path, class_name: str) -> Path:
    """``<project>/images/<class>``, the class name made safe as a folder name on every system."""
    safe = _NOT_IN_NAMES.sub("_", class_name).strip().rstrip(".") or "_"
    return Path(project_folder) / IMAGES_DIR / ("_" if safe in (".", "..") else safe)


def save_frames(frames: Sequence[np.ndarray], folder: Path, *, prefix: str = "capture") -> list[Path]:
    """Write each frame as ``<prefix>-<time>-<n>.jpg`` under ``folder`` (never over an existing file)."""
    from PIL import Image

    folder.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    written: list[Path] = []
    n = 0
    for frame in frames:
        while True:
            n += 1
            path = folder / f"{prefix}-{stamp}-{n:03d}.jpg"
            if not path.exists():
                break
        buffer = io.BytesIO()
        Image.fromarray(np.ascontiguousarray(frame, dtype=np.uint8), "RGB").save(buffer, format="JPEG",
                                                                                 quality=JPEG_QUALITY)
        atomic_write_bytes(path, buffer.getvalue())
        written.append(path)
    return written


def captured_dataset(paths: Sequence[Path], class_name: str, root: Path, task: str) -> LabeledDataset:
    """The saved frames as a dataset labeled ``class_name``, for ``Project.import_dataset``."""
    samples = [Sample(path, (class_name,)) for path in paths]
    return LabeledDataset(root, "files", samples, [class_name], task, [])  # type: ignore[arg-type]
