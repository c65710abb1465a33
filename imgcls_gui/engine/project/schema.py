"""Checking that a ``project.sqlite`` someone hands us is the database imgcls wrote, before any use.

A project file may have been edited by hand, damaged, swapped for another program's database or made
by a newer imgcls. Without this check such a file fails later, deep inside a query, as a traceback
(``KeyError``, ``no such column``) or as wrong data (an unknown split name). Every finding becomes one
``ProjectError`` that names the file and what to do. The checks read the schema and a few aggregates
only, so opening a large project stays fast.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from .lock import ProjectError

SCHEMA_VERSION = 1
SPLIT_NAMES = ("train", "val", "test")
TASKS = ("multiclass", "multilabel")

# The columns imgcls reads from each table (a newer imgcls may add more; extra columns are fine).
REQUIRED_COLUMNS: dict[str, frozenset[str]] = {
    "meta": frozenset({"key", "value"}),
    "images": frozenset({"id", "path", "sha1", "size", "width", "height", "split", "added"}),
    "classes": frozenset({"id", "name", "colour", "position"}),
    "labels": frozenset({"image_id", "class_id"}),
}
# Far beyond any real project (the app is built for ~100k images); a table past this is not ours.
MAX_ROWS: dict[str, int] = {"meta": 1_000, "images": 5_000_000, "classes": 100_000, "labels": 50_000_000}
MAX_META_VALUE_CHARS = 1_000_000

_RESTORE = "Restore project.sqlite from a backup, or create a new project and import the images again."


def check_schema(conn: sqlite3.Connection, path: Path) -> None:
    """Raise ``ProjectError`` naming ``path`` unless it has imgcls's tables, columns and values."""
    _check_tables(conn, path)
    version = _schema_version(conn, path)
    if version > SCHEMA_VERSION:
        raise ProjectError(
            f"{path}: made by a newer imgcls (project schema {version}; this imgcls reads {SCHEMA_VERSION}); "
            "update imgcls to open it."
        )
    _check_rows(conn, path)


def _damaged(path: Path, what: str) -> ProjectError:
    return ProjectError(f"{path}: the project database is damaged ({what}). {_RESTORE}")


def _check_tables(conn: sqlite3.Connection, path: Path) -> None:
    kinds = dict(conn.execute("SELECT name, type FROM sqlite_master WHERE type IN ('table', 'view')"))
    for table, columns in REQUIRED_COLUMNS.items():
        if table not in kinds:
            raise _damaged(path, f"table '{table}' is missing")
        if kinds[table] != "table":
            raise _damaged(path, f"'{table}' is a {kinds[table]}, not a table")
        present = {row[1] for row in conn.execute(f"PRAGMA table_info({table})")}  # noqa: S608 - fixed names
        missing = sorted(columns - present)
        if missing:
            raise _damaged(path, f"table '{table}' lacks column(s) {', '.join(missing)}")


def _schema_version(conn: sqlite3.Connection, path: Path) -> int:
    row = conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
    if row is None:
        raise _damaged(path, "it has no schema_version")
    value = row[0]
    text = value if isinstance(value, str) else repr(value)
    if not (isinstance(value, (str, int)) and not isinstance(value, bool) and str(value).strip().isdigit()):
        raise _damaged(path, f"schema_version is {text[:40]!r}, not a whole number")
    version = int(str(value).strip())
    if version < 1:
        raise _damaged(path, f"schema_version is {version}")
    return version


def _check_rows(conn: sqlite3.Connection, path: Path) -> None:
    for table, limit in MAX_ROWS.items():
        # LIMIT makes the count stop early on a huge table instead of scanning all of it.
        count = conn.execute(f"SELECT count(*) FROM (SELECT 1 FROM {table} LIMIT ?)", (limit + 1,)).fetchone()[0]  # noqa: S608
        if count > limit:
            raise _damaged(path, f"table '{table}' has more than {limit:,} rows, far more than any imgcls project")
    long = conn.execute("SELECT key FROM meta WHERE length(value) > ? LIMIT 1", (MAX_META_VALUE_CHARS,)).fetchone()
    if long is not None:
        raise _damaged(path, f"meta value '{str(long[0])[:40]}' is longer than {MAX_META_VALUE_CHARS:,} characters")
    task = conn.execute("SELECT value FROM meta WHERE key = 'task'").fetchone()
    if task is not None and task[0] not in TASKS:
        raise _damaged(path, f"task is {str(task[0])[:40]!r}, not {' or '.join(TASKS)}")
    marks = ", ".join("?" * len(SPLIT_NAMES))
    odd = conn.execute(
        f"SELECT DISTINCT split FROM images WHERE split IS NOT NULL AND split NOT IN ({marks}) LIMIT 3",  # noqa: S608
        SPLIT_NAMES,
    ).fetchall()
    if odd:
        names = ", ".join(repr(str(row[0])[:40]) for row in odd)
        raise _damaged(path, f"unknown split name(s) {names}; imgcls uses {', '.join(SPLIT_NAMES)}")
