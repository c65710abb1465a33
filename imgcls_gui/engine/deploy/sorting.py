"""Sorting predicted images into per-class folders (``imgcls predict --sort-into``).

A name that is already taken gets a numbered suffix: nothing is ever overwritten, also not when
two runs sort into the same folder. The report says what really happened to each file (copied,
moved, or linked when a move could not remove the original). Moving uses a hard link + unlink where it can, so the file
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
from ..file_modes import copy_mode

if TYPE_CHECKING:
    from .predict import Prediction

UNCERTAIN = "uncertain"
_NO_HARD_LINKS = (errno.EPERM, errno.EMLINK, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EACCES)
_UNSAFE = re.compile(r'[\x00-\x1f<>:"/\\|?*]')  # not allowed in a folder name on some system


@dataclass(frozen=True)
class SortReport:
    placed: int  # files copied/moved into class folders or the low-confidence folder
    uncertain: int  # of those, files in the low-confidence folder
    skipped: int  # rows with an error (unreadable files): left where they are
    counts: dict[str, int] = field(default_factory=dict)  # folder name → files put there
    failed: tuple[tuple[str, str], ...] = ()  # (path, reason) for files that could not be copied/moved
    # what happened, truthfully: "copied", "moved", or "linked" (a move whose original could not be
    # removed: the file now has a second name in the sort folder) → how many times
    actions: dict[str, int] = field(default_factory=dict)
    uncertain_folder: str = UNCERTAIN  # its name: "uncertain" unless a class already has that folder name
    not_removed: tuple[tuple[str, str], ...] = ()  # (path, reason) of originals a move had to leave in place

    def summary(self) -> str:
        """'moved 3, linked 1 images' in words a user can trust."""
        done = ", ".join(f"{verb} {count}" for verb, count in sorted(self.actions.items())) or "sorted 0"
        return f"{done} image{'s' if self.placed != 1 else ''}"


def sort_into(
    predictions: Iterable["Prediction"], dest: str | os.PathLike[str], *, move: bool = False,
    min_confidence: float | None = None, classes: Iterable[str] = (),
) -> SortReport:
    """Copy (or move) each image into ``dest/<label>/``; a multi-label image into each of its labels'
    folders. Images with no label over threshold, or a score under ``min_confidence``, go to the
    low-confidence folder, ``dest/uncertain/`` unless one of ``classes`` (or a predicted label) would
    use that name, in which case it gets another name (``SortReport.uncertain_folder``)."""
    dest = Path(dest)
    predictions = list(predictions)
    try:
        dest.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ImgclsError(f"{dest}: cannot create the folder to sort into ({exc.strerror or exc}).") from exc
    known = set(classes)
    for prediction in predictions:  # a caller without the class list: the labels that occur
        known.update(label for label, _ in prediction.top_k)
        known.update(prediction.labels_over_threshold)
    uncertain = low_confidence_folder(folder_name(label) for label in known)
    counts: Counter[str] = Counter()
    actions: Counter[str] = Counter()
    failed: list[tuple[str, str]] = []
    not_removed: list[tuple[str, str]] = []
    placed = skipped = 0
    for prediction in predictions:
        if prediction.error:
            skipped += 1
            continue
        folders = [folder_name(label) for label in prediction.labels_over_threshold]
        if not folders or (min_confidence is not None and (prediction.score or 0.0) < min_confidence):
            folders = [uncertain]
        try:
            for i, folder in enumerate(folders):
                last = i == len(folders) - 1  # a multi-label image is copied, then moved into its last folder
                _, action = place_file_reporting(prediction.path, dest / folder, move=move and last)
                counts[folder] += 1
                actions[action.verb] += 1
                if action.left_behind:
                    not_removed.append((str(prediction.path), action.left_behind))
            placed += 1
        except OSError as exc:
            failed.append((str(prediction.path), exc.strerror or str(exc)))
    return SortReport(placed, counts[uncertain], skipped, dict(counts), tuple(failed), dict(actions), uncertain,
                      tuple(not_removed))


def low_confidence_folder(class_folders: Iterable[str]) -> str:
    """'uncertain', or the first free 'uncertain-low-confidence[-N]' when a class folder is called so
    (compared case-blind: macOS and Windows folders are)."""
    taken = {name.casefold() for name in class_folders}
    if UNCERTAIN not in taken:
        return UNCERTAIN
    for candidate in _candidate_names(Path(), f"{UNCERTAIN}-low-confidence"):
        if candidate.name.casefold() not in taken:
            return candidate.name
    raise AssertionError("unreachable: candidate names never run out")


def folder_name(label: str) -> str:
    """A class name made safe as one folder name on every system (no separators, no '..')."""
    name = _UNSAFE.sub("_", label).strip().rstrip(".")
    return name if name not in ("", ".", "..") else "_"


@dataclass(frozen=True)
class Placement:
    verb: str  # "copied" | "moved" | "linked"
    left_behind: str = ""  # why a moved file's original is still there ("" when it is gone)


def place_file(source: Path, folder: Path, *, move: bool) -> Path:
    """Copy or move ``source`` into ``folder`` under a name not yet taken; returns the new path."""
    return place_file_reporting(source, folder, move=move)[0]


def place_file_reporting(source: Path, folder: Path, *, move: bool) -> tuple[Path, Placement]:
    """``place_file``, also saying what was done (a move may end up a link or a copy)."""
    folder.mkdir(parents=True, exist_ok=True)
    for target in _candidate_names(folder, source.name):
        try:
            if move:
                return target, _move_exclusive(source, target)
            _copy_exclusive(source, target)
            return target, Placement("copied")
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
        os.chmod(tmp, copy_mode(source))  # as cp does: mkstemp's 0600 would hide the copy from the group
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


def _move_exclusive(source: Path, target: Path) -> Placement:
    """A hard link refuses an existing target; across file systems, copy exclusively then delete.
    An original that cannot be deleted (a read-only folder) stays: reported, never called moved."""
    verb = "moved"
    try:
        os.link(source, target)
    except FileExistsError:
        raise
    except OSError as exc:
        if exc.errno not in (errno.EXDEV, *_NO_HARD_LINKS):
            raise
        _copy_exclusive(source, target)
        verb = "copied"
    try:
        source.unlink()
    except OSError as exc:
        return Placement("linked" if verb == "moved" else "copied", exc.strerror or str(exc))
    return Placement("moved")
