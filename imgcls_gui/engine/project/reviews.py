"""Review decisions kept in the project: suspicions the user looked at and answered "keep the label".

The Review view's queue is rebuilt from a fresh diagnosis each time; without a memory of what was
kept, every kept image would come back. A kept suspicion is (image, kind) with the labels the image
had when it was kept: if its labels change later, the old answer no longer applies and the image may
be listed again. Rows go with their image (``ON DELETE CASCADE``). Each change is one committed
transaction. Projects made before the table existed get it on their first keep; until then (and
when opened read-only) nothing is kept. ``Project.kept_issues`` is this, given the project's database.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence

from .connection import ProjectDatabase

KEPT_TABLE = """CREATE TABLE IF NOT EXISTS kept_issues(
    image_id INTEGER NOT NULL REFERENCES images(id) ON DELETE CASCADE, kind TEXT NOT NULL, labels TEXT NOT NULL,
    PRIMARY KEY (image_id, kind)) WITHOUT ROWID"""


class KeptIssues:
    """(image id, issue kind) -> the labels the user kept it with."""

    def __init__(self, db: ProjectDatabase) -> None:
        self._db = db

    def all(self) -> dict[tuple[int, str], tuple[str, ...]]:
        try:
            rows = self._db.execute("SELECT image_id, kind, labels FROM kept_issues").fetchall()
        except sqlite3.OperationalError:  # no table yet (an older project, opened read-only)
            return {}
        return {(image_id, kind): tuple(json.loads(labels)) for image_id, kind, labels in rows}

    def is_kept(self, image_id: int, kind: str, labels: Sequence[str]) -> bool:
        """Whether this suspicion was kept with exactly these labels (a label changed since: no longer)."""
        return self.all().get((image_id, kind)) == tuple(labels)

    def keep(self, image_id: int, kind: str, labels: Sequence[str]) -> None:
        with self._db.transaction() as conn:
            conn.execute(KEPT_TABLE)
            conn.execute("INSERT OR REPLACE INTO kept_issues(image_id, kind, labels) VALUES (?, ?, ?)",
                         (image_id, kind, json.dumps(list(labels), ensure_ascii=False)))

    def forget(self, image_id: int, kind: str) -> None:
        """Undo ``keep``: the suspicion is open again."""
        with self._db.transaction() as conn:
            conn.execute(KEPT_TABLE)
            conn.execute("DELETE FROM kept_issues WHERE image_id = ? AND kind = ?", (image_id, kind))
