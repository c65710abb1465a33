"""Permissions of the files imgcls writes: what a plain ``open(path, "w")`` would give.

Atomic writes go through ``tempfile.mkstemp``, which creates 0600 whatever the umask, and the rename
keeps that: exports, CSVs and copies a user shares came out unreadable to the group. A new file gets
``0o666 & ~umask``; a file being replaced keeps its own mode, as ``open`` would.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path


def current_umask() -> int:
    """The process umask, read without changing it where the system allows (changing it, even for a
    moment, would race with files other threads create)."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    mask = os.umask(0o022)  # no /proc (macOS, Windows): the classic read-and-restore
    os.umask(mask)
    return mask


def new_file_mode(path: str | os.PathLike[str]) -> int:
    """The mode a file written at ``path`` should get: the old file's, else 0o666 less the umask."""
    try:
        return stat.S_IMODE(os.stat(path).st_mode)
    except OSError:
        return 0o666 & ~current_umask()


def copy_mode(source: str | os.PathLike[str]) -> int:
    """The mode of a copy of ``source``, as ``cp`` makes it: the source's permissions less the umask."""
    return stat.S_IMODE(Path(source).stat().st_mode) & ~current_umask() & 0o777
