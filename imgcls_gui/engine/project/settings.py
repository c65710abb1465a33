"""Per-project settings: what the user chose in the app (model, freezing, training options), kept in
``project.sqlite`` so they come back when the project is reopened, on any machine.

A key/value table of JSON texts; each write is one transaction. Projects made before the table
existed get it on their first write; until then (and when opened read-only) reads find nothing.
``ProjectSettings`` is given the project's database; ``Project.get_setting``/``set_setting`` delegate here.
"""

from __future__ import annotations

import json
import sqlite3
from typing import Any

from .connection import ProjectDatabase

SETTINGS_TABLE = "CREATE TABLE IF NOT EXISTS settings(key TEXT PRIMARY KEY, value TEXT NOT NULL)"
RUN_CONFIG_KEY = "run_config"  # the RunConfig the Model and Training panels edit, as a dict


class ProjectSettings:
    """The app's per-project choices, each a JSON value under a key."""

    def __init__(self, db: ProjectDatabase) -> None:
        self._db = db

    def get(self, key: str, default: Any = None) -> Any:
        """The JSON value stored under ``key``, or ``default`` when there is none (or it is unreadable)."""
        try:
            row = self._db.execute("SELECT value FROM settings WHERE key = ?", (key,)).fetchone()
        except sqlite3.OperationalError:  # no settings table yet (an older project, opened read-only)
            return default
        if row is None:
            return default
        try:
            return json.loads(row[0])
        except (TypeError, ValueError):
            return default

    def set(self, key: str, value: Any) -> None:
        """Store ``value`` (JSON-serialisable) under ``key``, replacing what was there, in one transaction."""
        text = json.dumps(value, sort_keys=True, ensure_ascii=False)
        with self._db.transaction() as conn:
            conn.execute(SETTINGS_TABLE)
            conn.execute("INSERT INTO settings(key, value) VALUES (?, ?) "
                         "ON CONFLICT(key) DO UPDATE SET value = excluded.value", (key, text))
