"""A project's SQLite database: opening it, one committed transaction per change (``ProjectDatabase``),
and telling a write failure (read-only, disk full) from other errors.

``ProjectDatabase`` is what the store's parts (class list, labels, settings) are given: reads through
``execute`` and every change through ``transaction()``, so none of them needs the ``Project`` itself.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import quote

from .lock import ProjectError


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


class ProjectReadOnlyError(ProjectError):
    """A change was asked of a project opened read-only."""


class ProjectDatabase:
    """The open connection of one project file: reads, and changes as one committed transaction each."""

    def __init__(self, path: Path, connection: sqlite3.Connection, read_only: bool) -> None:
        self.path = path
        self.folder = path.parent  # error messages name the project folder
        self.connection: sqlite3.Connection | None = connection
        self.read_only = read_only

    @property
    def closed(self) -> bool:
        return self.connection is None

    def close(self) -> None:
        if self.connection is not None:
            self.connection.close()
            self.connection = None

    def execute(self, query: str, params: Sequence[object] = ()) -> sqlite3.Cursor:
        """Run a read (or a statement inside the caller's ``transaction()``)."""
        return self._open().execute(query, params)

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """One ``BEGIN IMMEDIATE`` ... ``COMMIT``: committed (and synced) when the block ends, rolled back on error."""
        if self.read_only:
            raise ProjectReadOnlyError(
                f"{self.folder}: opened read-only (another window has it open); changes are not possible here."
            )
        conn = self._open()
        try:
            conn.execute("BEGIN IMMEDIATE")
            yield conn
            conn.execute("COMMIT")  # can fail too (disk full): the transaction is then still open
        except sqlite3.OperationalError as exc:
            _rollback(conn)
            if not is_write_failure(exc):
                raise
            raise ProjectError(
                f"{self.path}: this change could not be saved ({exc}); everything saved before "
                "it is intact. Free disk space (or make the folder writable) and try again."
            ) from exc
        except BaseException:
            _rollback(conn)
            raise

    def _open(self) -> sqlite3.Connection:
        if self.connection is None:
            raise ProjectError(f"{self.folder}: the project is closed.")
        return self.connection


def _rollback(conn: sqlite3.Connection) -> None:
    # SQLite rolls back by itself after some errors (a full disk); a second ROLLBACK would mask the real one.
    if conn.in_transaction:
        conn.execute("ROLLBACK")
