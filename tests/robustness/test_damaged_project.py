"""A damaged, foreign or newer ``project.sqlite`` is one clear error naming the file and the fix (issue 12).

Each case starts from a real project with images, labels and a split, then damages the file the way a
hand edit, another program or a newer imgcls would. Opening it (read-write and read-only, and through
``imgcls inspect``) must give one ``ProjectError`` line, release the lock and leave nothing half open.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from pathlib import Path

import pytest

from imgcls_gui import cli
from imgcls_gui.engine.data.datasets import load_dataset
from imgcls_gui.engine.project import schema
from imgcls_gui.engine.project.store import PROJECT_FILE, Project, ProjectError

from ..engine.tiny_data import make_class_folders

pytestmark = pytest.mark.timeout(120)

RESTORE = "Restore project.sqlite from a backup"


def _sql(*statements: str) -> Callable[[sqlite3.Connection], None]:
    def damage(conn: sqlite3.Connection) -> None:
        for statement in statements:
            conn.execute(statement)

    return damage


def _without_column(table: str, column: str) -> Callable[[sqlite3.Connection], None]:
    def damage(conn: sqlite3.Connection) -> None:
        columns = [row[1] for row in conn.execute(f"PRAGMA table_info({table})") if row[1] != column]
        kept = ", ".join(columns)
        conn.execute("PRAGMA foreign_keys = OFF")
        conn.execute(f"CREATE TABLE tmp AS SELECT {kept} FROM {table}")
        conn.execute(f"DROP TABLE {table}")
        conn.execute(f"ALTER TABLE tmp RENAME TO {table}")

    return damage


# name -> (damage, words the message must hold)
CASES: dict[str, tuple[Callable[[sqlite3.Connection], None], str]] = {
    "schema-version-text": (_sql("UPDATE meta SET value = 'one' WHERE key = 'schema_version'"), "schema_version is 'one'"),
    "schema-version-float": (_sql("UPDATE meta SET value = '1.5' WHERE key = 'schema_version'"), "not a whole number"),
    "schema-version-blob": (_sql("UPDATE meta SET value = x'00ff' WHERE key = 'schema_version'"), "not a whole number"),
    "schema-version-negative": (_sql("UPDATE meta SET value = '-3' WHERE key = 'schema_version'"), "not a whole number"),
    "schema-version-zero": (_sql("UPDATE meta SET value = '0' WHERE key = 'schema_version'"), "schema_version is 0"),
    "schema-version-missing": (_sql("DELETE FROM meta WHERE key = 'schema_version'"), "no schema_version"),
    "schema-version-newer": (_sql("UPDATE meta SET value = '7' WHERE key = 'schema_version'"), "made by a newer imgcls"),
    "table-missing-labels": (_sql("DROP TABLE labels"), "table 'labels' is missing"),
    "table-missing-meta": (_sql("DROP TABLE meta"), "table 'meta' is missing"),
    "column-missing-split": (_without_column("images", "split"), "table 'images' lacks column(s) split"),
    "column-missing-name": (_without_column("classes", "name"), "table 'classes' lacks column(s) name"),
    "view-in-place-of-table": (
        _sql("PRAGMA foreign_keys = OFF", "DROP TABLE classes",
             "CREATE VIEW classes AS SELECT 1 AS id, 'x' AS name, '#ff0000' AS colour, 0 AS position"),
        "'classes' is a view, not a table"),
    "unknown-split-name": (
        _sql("PRAGMA ignore_check_constraints = ON", "UPDATE images SET split = 'holdout' WHERE id = 1"),
        "unknown split name(s) 'holdout'"),
    "unknown-task": (_sql("UPDATE meta SET value = 'regression' WHERE key = 'task'"), "task is 'regression'"),
    "huge-meta-value": (_sql("INSERT INTO meta(key, value) VALUES ('notes2', printf('%.*c', 1500000, 'x'))"),
                        "longer than 1,000,000 characters"),
    "another-programs-database": (
        _sql("PRAGMA foreign_keys = OFF", "DROP TABLE labels", "DROP TABLE images", "DROP TABLE classes",
             "DROP TABLE meta", "CREATE TABLE contacts(name TEXT, phone TEXT)"), "table 'meta' is missing"),
}


@pytest.fixture
def project_folder(tmp_path) -> Path:
    data = make_class_folders(tmp_path / "data", classes=("red", "blue"), per_class=3, size=16)
    folder = tmp_path / "proj"
    with Project.create(folder) as project:
        project.import_dataset(load_dataset(data))
        ids = [record.id for record in project.images()]
        project.assign_split({ids[0]: "train", ids[1]: "val"})
    return folder


def _damage(folder: Path, damage: Callable[[sqlite3.Connection], None]) -> None:
    conn = sqlite3.connect(folder / PROJECT_FILE, isolation_level=None)
    try:
        damage(conn)
    finally:
        conn.close()


def _open_error(folder: Path, read_only: bool) -> str:
    with pytest.raises(ProjectError) as info:
        Project.open(folder, read_only=read_only)
    return str(info.value)


@pytest.mark.parametrize("name", CASES)
def test_a_damaged_project_file_is_one_clear_error(project_folder, name, capsys):
    damage, words = CASES[name]
    _damage(project_folder, damage)
    for read_only in (False, True):
        message = _open_error(project_folder, read_only)
        assert message.startswith(str(project_folder / PROJECT_FILE)) and words in message, message
        assert "\n" not in message and len(message) < 400
        assert ("update imgcls" in message) if name == "schema-version-newer" else (RESTORE in message)
    assert cli.main(["inspect", str(project_folder)]) == 2  # the CLI: one line, exit 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and words in err and "Traceback" not in err


def test_the_lock_is_released_after_a_refusal(project_folder):
    _damage(project_folder, CASES["unknown-task"][0])
    _open_error(project_folder, read_only=False)
    _damage(project_folder, _sql("UPDATE meta SET value = 'multiclass' WHERE key = 'task'"))
    with Project.open(project_folder) as project:  # repaired: opens, so no stale lock was left behind
        assert len(project.images()) == 6


@pytest.mark.parametrize("table, rows", [("images", 8), ("classes", 3), ("meta", 2)])
def test_tables_far_larger_than_any_project_are_refused_without_reading_them(project_folder, monkeypatch, table, rows):
    monkeypatch.setitem(schema.MAX_ROWS, table, rows - 1)  # 5 million real rows would take the test minutes
    if table == "images":
        _damage(project_folder, _sql(*(f"INSERT INTO images(path, added) VALUES ('x{i}.png', 'now')" for i in range(2))))
    if table == "classes":
        _damage(project_folder, _sql("INSERT INTO classes(name, colour, position) VALUES ('green', '#00ff00', 2)"))
    message = _open_error(project_folder, read_only=True)
    assert f"table '{table}' has more than" in message and RESTORE in message


@pytest.mark.parametrize("content", [b"", b"SQLite format 3\x00" + b"\xff" * 200, b"not a database at all\n" * 40])
def test_a_project_file_that_is_no_database_is_one_clear_error(project_folder, content):
    (project_folder / PROJECT_FILE).write_bytes(content)
    for suffix in ("-wal", "-shm"):
        (project_folder / (PROJECT_FILE + suffix)).unlink(missing_ok=True)
    message = _open_error(project_folder, read_only=True)
    assert message.startswith(str(project_folder / PROJECT_FILE)) and "\n" not in message
