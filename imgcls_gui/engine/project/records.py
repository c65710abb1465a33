"""Plain records the project store hands out, and the Qt-free helpers that fill them lazily."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

SPLITS = ("train", "val", "test")


@dataclass(frozen=True)
class ImageRecord:
    """One image of the project as the GUI and the trainer see it."""

    id: int
    path: str  # as stored: relative to the project folder, or absolute
    file: Path  # absolute
    labels: tuple[str, ...]
    split: str | None
    sha1: str | None = None
    size: int | None = None
    width: int | None = None
    height: int | None = None


@dataclass(frozen=True)
class ImageInfo:
    """Facts about one file that are computed lazily (hashing 20,000 files must not slow an import)."""

    image_id: int
    sha1: str | None
    size: int | None
    width: int | None
    height: int | None


@dataclass(frozen=True)
class ImportSummary:
    added: int
    skipped: int  # already in the project (same path)
    classes_added: tuple[str, ...]
    added_ids: tuple[int, ...]


@dataclass(frozen=True)
class RemovedImages:
    """What ``remove_images`` took out, so ``restore_images`` can put it back (undo)."""

    rows: tuple[tuple, ...]  # (id, path, sha1, size, width, height, split, added)
    labels: tuple[tuple[int, str], ...]  # (image_id, class name)


def split_to_assignment(split: object, image_ids: Sequence[int]) -> dict[int, str]:
    """Turn an engine ``Split`` (train/val/test index tuples into a dataset) into image id -> split name."""
    return {image_ids[index]: name for name in SPLITS for index in getattr(split, name, ())}


def scan_image_info(
    records: Iterable[ImageRecord],
    progress: Callable[[int, int], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> list[ImageInfo]:
    """Hash each file and read its size from the header (no full decode); unreadable files are skipped.

    Run off the UI thread; the caller stores the result with ``Project.update_image_info``.
    """
    from ..data.images import check_dimensions, file_sha1, open_image_header, open_regular_file

    records = list(records)
    infos: list[ImageInfo] = []
    for done, record in enumerate(records, start=1):
        if should_stop is not None and should_stop():
            break
        try:
            size = os.stat(record.file).st_size
            with open_regular_file(record.file) as handle, open_image_header(handle) as image:  # header only
                width, height = image.size
                check_dimensions(record.file, width, height)
                if image.getexif().get(0x0112, 1) in (5, 6, 7, 8):  # EXIF rotation by 90 degrees
                    width, height = height, width
            infos.append(ImageInfo(record.id, file_sha1(record.file), size, width, height))
        except Exception:  # noqa: BLE001 - an unreadable file is the health check's business, not ours
            pass
        if progress is not None:
            progress(done, len(records))
    return infos


def sql_chunks(items: Sequence, size: int = 900) -> Iterator[Sequence]:
    """Slices of ``items`` small enough for one statement (SQLite limits the number of ``?``)."""
    for start in range(0, len(items), size):
        yield items[start:start + size]
