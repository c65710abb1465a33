"""Opening a project's SQLite database and telling a write failure (read-only, disk full) from other errors."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from urllib.parse import quote


# SQLite result codes (low byte) that mean "cannot write here": read-only, I/O error, disk full, cannot open.
_WRITE_FAILURES = frozenset({8, 10, 13, 14})
_WRITE_FAILURE_WORDS = ("readonly", "disk is full", "disk i/o error", "unable to open")


def is_write_failure(exc: sqlite3.Error) -> bool:
    """Whether SQLite failed because it cannot write here (read-only, disk full, I/O error)."""
    code = getattr(exc, "sqlite_errorcode", None)  # Python 3.11+
    if code is not None:
        return code & 0xFF in _WRITE_FAILURES
    return any(words in str(exc).lower() for words in _WRITE_FAILURE_WORDS)


def open_connection(path: Path, read_only: bool) -> sqlite3.Connection:
    """A connection with explicit transactions, WAL and full syncs; read-only falls back to immutable."""
    if read_only:
        uri = f"file:{quote(str(path))}?mode=ro"
        conn = sqlite3.connect(uri, uri=True, isolation_level=None)
        try:
            conn.execute("PRAGMA schema_version").fetchone()  # opens the file (and the WAL index) now
        except sqlite3.OperationalError:
            # A WAL database in a read-only folder: no -shm file can be made, so nobody can be writing it.
            conn.close()
            conn = sqlite3.connect(uri + "&immutable=1", uri=True, isolation_level=None)
    else:
        conn = sqlite3.connect(path, isolation_level=None)  # transactions are explicit (BEGIN IMMEDIATE)
    conn.execute("PRAGMA busy_timeout = 5000")
    conn.execute("PRAGMA foreign_keys = ON")
    if not read_only:
        conn.execute("PRAGMA journal_mode = WAL")
        # FULL syncs the WAL at every commit: an acknowledged label survives a crash, not only kill -9.
        conn.execute("PRAGMA synchronous = FULL")
    return conn
