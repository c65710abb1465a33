"""The class list of a project: create, rename, recolour, delete (and restore, for undo).

``ClassList`` is given the project's database (reads, and one transaction per change) and is all
that knows the ``classes`` table; ``Project`` delegates its class methods here and the labels use
``ids()`` to turn names into rows.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from .connection import ProjectDatabase
from .lock import ProjectError

# Colour-blind friendly first (Okabe-Ito), then Tableau 10; cycled when a project has more classes.
PALETTE = (
    "#0072b2", "#e69f00", "#009e73", "#cc79a7", "#56b4e9", "#d55e00", "#f0e442", "#000000",
    "#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#edc948", "#b07aa1", "#ff9da7", "#9c755f",
)
_COLOUR = re.compile(r"^#[0-9a-fA-F]{6}$")


@dataclass(frozen=True)
class ClassInfo:
    id: int
    name: str
    colour: str  # "#rrggbb"
    position: int


@dataclass(frozen=True)
class DeletedClass:
    """What ``delete`` removed, so ``restore_class`` can put the class and its labels back."""

    info: ClassInfo
    image_ids: tuple[int, ...]


class ClassList:
    """The project's classes, in list order (position, then id)."""

    def __init__(self, db: ProjectDatabase) -> None:
        self._db = db

    def all(self) -> list[ClassInfo]:
        rows = self._db.execute("SELECT id, name, colour, position FROM classes ORDER BY position, id")
        return [ClassInfo(*row) for row in rows]

    def names(self) -> list[str]:
        return [info.name for info in self.all()]

    def image_counts(self) -> dict[str, int]:
        """class name -> number of images carrying it (0 included)."""
        query = ("SELECT c.name, COUNT(l.image_id) FROM classes c LEFT JOIN labels l ON l.class_id = c.id "
                 "GROUP BY c.id ORDER BY c.position, c.id")
        return dict(self._db.execute(query).fetchall())

    def add(self, name: str, colour: str | None = None) -> ClassInfo:
        name = self._valid_new_name(name)
        with self._db.transaction():
            return self.insert(name, colour)

    def rename(self, old: str, new: str) -> None:
        if new.strip() == old:
            return
        new = self._valid_new_name(new)
        with self._db.transaction() as conn:
            if conn.execute("UPDATE classes SET name = ? WHERE name = ?", (new, old)).rowcount != 1:
                raise ProjectError(f"{self._db.folder}: no class named {old!r}.")

    def recolour(self, name: str, colour: str) -> None:
        if not _COLOUR.match(colour):
            raise ProjectError(f"{self._db.folder}: colour {colour!r} is not of the form #rrggbb.")
        with self._db.transaction() as conn:
            if conn.execute("UPDATE classes SET colour = ? WHERE name = ?", (colour, name)).rowcount != 1:
                raise ProjectError(f"{self._db.folder}: no class named {name!r}.")

    def delete(self, name: str) -> DeletedClass:
        """Remove a class and its labels (images stay, possibly unlabeled)."""
        with self._db.transaction() as conn:
            row = conn.execute("SELECT id, name, colour, position FROM classes WHERE name = ?", (name,)).fetchone()
            if row is None:
                raise ProjectError(f"{self._db.folder}: no class named {name!r}.")
            ids = tuple(i for (i,) in conn.execute("SELECT image_id FROM labels WHERE class_id = ?", (row[0],)))
            conn.execute("DELETE FROM classes WHERE id = ?", (row[0],))  # labels go by ON DELETE CASCADE
        return DeletedClass(ClassInfo(*row), ids)

    def restore(self, deleted: DeletedClass) -> None:
        """Undo ``delete``: the class returns at its old place with its labels."""
        info = deleted.info
        with self._db.transaction() as conn:
            conn.execute(
                "INSERT INTO classes(id, name, colour, position) VALUES (?, ?, ?, ?)",
                (info.id, info.name, info.colour, info.position),
            )
            conn.executemany(
                "INSERT OR IGNORE INTO labels(image_id, class_id) SELECT id, ? FROM images WHERE id = ?",
                [(info.id, image_id) for image_id in deleted.image_ids],
            )

    def ids(self) -> dict[str, int]:
        """class name -> row id."""
        return dict(self._db.execute("SELECT name, id FROM classes").fetchall())

    def insert(self, name: str, colour: str | None) -> ClassInfo:
        """Insert inside the caller's transaction, at the end of the list, with the next free colour."""
        if colour is not None and not _COLOUR.match(colour):
            raise ProjectError(f"{self._db.folder}: colour {colour!r} is not of the form #rrggbb.")
        used = {c for (c,) in self._db.execute("SELECT colour FROM classes")}
        position = self._db.execute("SELECT COALESCE(MAX(position) + 1, 0) FROM classes").fetchone()[0]
        if colour is None:
            free = [c for c in PALETTE if c not in used]
            colour = free[0] if free else PALETTE[position % len(PALETTE)]
        cursor = self._db.execute(
            "INSERT INTO classes(name, colour, position) VALUES (?, ?, ?)", (name, colour, position)
        )
        return ClassInfo(cursor.lastrowid, name, colour, position)  # type: ignore[arg-type]

    def _valid_new_name(self, name: str) -> str:
        name = name.strip()
        if not name:
            raise ProjectError(f"{self._db.folder}: a class name cannot be empty.")
        if name in self.ids():
            raise ProjectError(f"{self._db.folder}: a class named {name!r} already exists; choose another name.")
        return name
