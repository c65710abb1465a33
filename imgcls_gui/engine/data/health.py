"""A dataset health report: counts, unreadable files, duplicate files, class imbalance, tiny classes.

Used by ``imgcls inspect`` and the GUI's dataset panel before anyone spends time training. Pillow and
hashlib only; decoding and hashing run in a few threads because both release the GIL.
"""

from __future__ import annotations

import os
import stat
from collections import Counter, defaultdict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, TypeVar

from .images import check_image, file_sha1
from .samples import LabeledDataset, Problem

Progress = Callable[[int, int], None]
T = TypeVar("T")
R = TypeVar("R")

_MAX_LISTED = 50  # the text report lists this many problems; to_dict keeps all of them


@dataclass(frozen=True)
class HealthReport:
    total: int
    labeled: int
    unlabeled: int
    class_counts: dict[str, int]
    problems: tuple[Problem, ...]
    duplicates: tuple[tuple[str, ...], ...]  # groups of paths with identical bytes
    imbalance_ratio: float  # largest / smallest non-empty class; 0.0 when nothing is labeled
    tiny_classes: tuple[str, ...]  # fewer than min_per_class images
    min_per_class: int = 5

    @property
    def ok(self) -> bool:
        return not (self.problems or self.duplicates or self.tiny_classes)

    def to_text(self) -> str:
        """A plain-text summary for the terminal: what is there, then what to fix."""
        lines = [
            f"{self.total} images: {self.labeled} labeled, {self.unlabeled} unlabeled; {len(self.class_counts)} classes"
        ]
        width = max((len(name) for name in self.class_counts), default=0)
        lines += [f"  {name:<{width}}  {count}" for name, count in self.class_counts.items()]
        if self.imbalance_ratio > 1:
            lines.append(f"Imbalance: the largest class has {self.imbalance_ratio:.1f}x the images of the smallest.")
        if self.tiny_classes:
            lines.append(
                f"Classes with fewer than {self.min_per_class} images: {', '.join(self.tiny_classes)} "
                "(add images or merge them into another class)."
            )
        if self.problems:
            lines.append(f"Problems ({len(self.problems)}):")
            lines += [f"  [{p.kind}] {p.path}: {p.reason}" for p in self.problems[:_MAX_LISTED]]
            if len(self.problems) > _MAX_LISTED:
                lines.append(f"  ... and {len(self.problems) - _MAX_LISTED} more")
        if self.duplicates:
            lines.append(f"Identical files ({len(self.duplicates)} groups; keep one of each):")
            lines += [f"  {' = '.join(group)}" for group in self.duplicates[:_MAX_LISTED]]
            if len(self.duplicates) > _MAX_LISTED:
                lines.append(f"  ... and {len(self.duplicates) - _MAX_LISTED} more groups")
        if self.ok:
            lines.append("No problems found.")
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: lists instead of tuples, problems as dicts."""
        data = asdict(self)
        data["problems"] = [asdict(p) for p in self.problems]
        data["duplicates"] = [list(group) for group in self.duplicates]
        data["tiny_classes"] = list(self.tiny_classes)
        return data


def health_report(
    ds: LabeledDataset,
    *,
    check_images: bool = True,
    min_per_class: int = 5,
    progress: Progress | None = None,
) -> HealthReport:
    """Inspect ``ds``: import problems, plus (with ``check_images``) every file decoded, plus duplicate files."""
    problems = list(ds.problems)
    sizes: dict[Path, int] = {}
    for sample in ds.samples:
        try:
            info = sample.path.stat()
            # A FIFO or device has no meaningful size; 0 keeps it out of hashing, and check_image names it.
            sizes[sample.path] = info.st_size if stat.S_ISREG(info.st_mode) else 0
        except OSError as exc:
            kind = "missing" if isinstance(exc, FileNotFoundError) else "unreadable"
            problems.append(Problem(str(sample.path), f"cannot be read ({exc.strerror or exc})", kind))
    to_hash = _same_size_files(sizes)
    to_check = list(sizes) if check_images else []
    tick = _Ticker(progress, len(to_check) + len(to_hash))

    problems += [p for p in tick.each(_parallel(check_image, to_check)) if p is not None]
    duplicates = _identical_groups(to_hash, tick.each(_parallel(_sha1_or_none, to_hash)))

    counts = Counter({name: 0 for name in ds.classes})
    counts.update(label for sample in ds.samples for label in sample.labels)
    present = [count for count in counts.values() if count > 0]
    labeled = sum(1 for sample in ds.samples if sample.labels)
    return HealthReport(
        total=len(ds.samples),
        labeled=labeled,
        unlabeled=len(ds.samples) - labeled,
        class_counts=dict(counts),
        problems=tuple(problems),
        duplicates=duplicates,
        imbalance_ratio=max(present) / min(present) if present else 0.0,
        tiny_classes=tuple(name for name, count in counts.items() if count < min_per_class),
        min_per_class=min_per_class,
    )


class _Ticker:
    """Calls ``progress(done, total)`` once per finished item, across all phases."""

    def __init__(self, progress: Progress | None, total: int) -> None:
        self.progress, self.total, self.done = progress, total, 0

    def each(self, results: Iterable[T]) -> Iterator[T]:
        for result in results:
            self.done += 1
            if self.progress is not None:
                self.progress(self.done, self.total)
            yield result


def _parallel(function: Callable[[Path], R], paths: list[Path]) -> Iterator[R]:
    """``map`` over a few threads, results in input order; Pillow and hashlib release the GIL while working."""
    if len(paths) < 2:
        yield from map(function, paths)
        return
    with ThreadPoolExecutor(max_workers=min(8, os.cpu_count() or 1)) as pool:
        yield from pool.map(function, paths)


def _same_size_files(sizes: dict[Path, int]) -> list[Path]:
    """Only files sharing their size with another can be identical, so only those need hashing."""
    by_size: dict[int, list[Path]] = defaultdict(list)
    for path, size in sizes.items():
        if size > 0:  # empty files are reported as truncated, not as copies of each other
            by_size[size].append(path)
    return [path for group in by_size.values() if len(group) > 1 for path in group]


def _sha1_or_none(path: Path) -> str | None:
    try:
        return file_sha1(path)
    except OSError:  # vanished or unreadable since the stat: not a duplicate we can prove
        return None


def _identical_groups(paths: list[Path], digests: Iterable[str | None]) -> tuple[tuple[str, ...], ...]:
    by_digest: dict[str, list[str]] = defaultdict(list)
    for path, digest in zip(paths, digests):
        if digest is not None:
            by_digest[digest].append(str(path))
    return tuple(sorted(tuple(sorted(group)) for group in by_digest.values() if len(group) > 1))
