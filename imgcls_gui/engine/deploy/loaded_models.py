"""Models the child process keeps loaded between jobs (the next folder, the next image's Grad-CAM).

``RecentlyLoaded`` holds the last few objects loaded from files, each under the file's identity (its resolved
path, modification time and size, plus what else changes the load: a device, consent to run code), so a file
rewritten by a new run is loaded again and an unchanged one never twice.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Hashable
from pathlib import Path
from typing import Any


class RecentlyLoaded:
    """The last ``keep`` objects ``load()`` made, by file identity; the oldest goes first."""

    def __init__(self, keep: int) -> None:
        self.keep = keep
        self._items: dict[tuple[Any, ...], Any] = {}

    def get(self, path: str | os.PathLike[str], load: Callable[[], Any], *options: Hashable) -> Any:
        """What ``load()`` made of ``path`` with ``options``, loaded again only when the file changed."""
        path = Path(path)
        try:
            stat = path.stat()
            key: tuple[Any, ...] = (str(path.resolve()), stat.st_mtime_ns, stat.st_size, *options)
        except OSError:  # missing: let load() say so in its own words
            key = (str(path), 0, 0, *options)
        if key not in self._items:
            while len(self._items) >= self.keep:
                self._items.pop(next(iter(self._items)))
            self._items[key] = load()
        return self._items[key]
