"""Sorting predicted images into per-class folders (``imgcls predict --sort-into``).

A name that is already taken gets a numbered suffix: nothing is ever overwritten, also not when
two runs sort into the same folder. Moving uses a hard link + unlink where it can, so the file
is never in neither place.
"""

from __future__ import annotations

import errno
import os
import re
import shutil
import tempfile
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import ImgclsError

if TYPE_CHECKING:
    from .predict import Prediction

UNCERTAIN = "uncertain"
_NO_HARD_LINKS = (errno.EPERM, errno.EMLINK, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EACCES)
_UNSAFE = re.compile(r'[\x00-\x1f<>:"/\\|?*]')  # not allowed in a folder name on some system


@dataclass(frozen=True)
class SortReport:
    placed: int  # files copied/moved into class folders or uncertain/
    uncertain: int  # of those, files in uncertain/
    skipped: int  # rows with an error (unreadable files): left where they are
    counts: dict[str, int] = field(default_factory=dict)  # folder name → files put there
    failed: tuple[tuple[str, str], ...] = ()  # (path, reason) for files that could not be copied/moved


def sort_into(
    predictions: Iterable["Prediction"], dest: str | os.PathLike[str], *, move: bool = False, min_confidence: float | None = None
) -> SortReport:
    """Copy (or move) each image into ``dest/<label>/``; a multi-label image into each of its labels'
    folders. Images with no label over threshold, or a score under ``min_confidence``, go to
    ``dest/uncertain/``."""
    dest = Path(dest)
    try:
        dest.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ImgclsError(f"{dest}: cannot create the folder to sort into ({exc.strerror or exc}).") from exc
    counts: Counter[str] = Counter()
    failed: list[tuple[str, str]] = []
    placed = skipped = 0
    for prediction in predictions:
        if prediction.error:
            skipped += 1
            continue
        folders = [folder_name(label) for label in prediction.labels_over_threshold]
        if not folders or (min_confidence is not None and (prediction.score or 0.0) < min_confidence):
            folders = [UNCERTAIN]
        try:
            for i, folder in enumerate(folders):
                place_file(prediction.path, dest / folder, move=move and i == len(folders) - 1)
                counts[folder] += 1
            placed += 1
        except OSError as exc:
            failed.append((str(prediction.path), exc.strerror or str(exc)))
    return SortReport(placed, counts[UNCERTAIN], skipped, dict(counts), tuple(failed))


def folder_name(label: str) -> str:
    """A class name made safe as one folder name on every system (no separators, no '..')."""
    name = _UNSAFE.sub("_", label).strip().rstrip(".")
    return name if name not in ("", ".", "..") else "_"


def place_file(source: Path, folder: Path, *, move: bool) -> Path:
    """Copy or move ``source`` into ``folder`` under a name not yet taken; returns the new path."""
    folder.mkdir(parents=True, exist_ok=True)
    for target in _candidate_names(folder, source.name):
        try:
            if move:
                _move_exclusive(source, target)
            else:
                _copy_exclusive(source, target)
            return target
        except FileExistsError:
            continue
    raise AssertionError("unreachable: candidate names never run out")


def _candidate_names(folder: Path, name: str) -> Iterable[Path]:
    stem, suffix = os.path.splitext(name)
    yield folder / name
    n = 1
    while True:
        yield folder / f"{stem}-{n}{suffix}"
        n += 1


def _copy_exclusive(source: Path, target: Path) -> None:
    """Copy into a temp file beside ``target``, then give it the name only if that is still free.

    The name appears complete or not at all, even if the process is killed mid-copy.
    """
    if os.path.lexists(target):  # known taken: skip the copy (the link below still decides races)
        raise FileExistsError(target)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        with os.fdopen(fd, "wb") as dst, open(source, "rb") as src:
            shutil.copyfileobj(src, dst, 1 << 20)
        shutil.copystat(source, tmp)
        try:
            os.link(tmp, target)  # refuses an existing target, like O_EXCL
        except FileExistsError:
            raise
        except OSError as exc:  # file systems without hard links (FAT, some network shares)
            if exc.errno not in _NO_HARD_LINKS:
                raise
            if os.path.lexists(target):
                raise FileExistsError(target) from exc
            os.replace(tmp, target)  # not exclusive, but the name was free a moment ago
    finally:
        if os.path.lexists(tmp):
            os.unlink(tmp)


def _move_exclusive(source: Path, target: Path) -> None:
    """A hard link refuses an existing target; across file systems, copy exclusively then delete."""
    try:
        os.link(source, target)
    except FileExistsError:
        raise
    except OSError as exc:
        if exc.errno not in (errno.EXDEV, *_NO_HARD_LINKS):
            raise
        _copy_exclusive(source, target)
    source.unlink()
