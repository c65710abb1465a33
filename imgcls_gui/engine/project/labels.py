"""Labels and split assignment of a project's images.

``ImageLabels`` is given what it needs: the project's database, its ``ClassList`` (to turn names
into class rows) and a way to read the project's task (single- or multi-label). Every change is
one committed transaction; ``Project`` delegates its label and split methods here.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence

from .classes import ClassList
from .connection import ProjectDatabase
from .lock import ProjectError
from .records import SPLITS, sql_chunks


class ImageLabels:
    """Which classes each image carries, and which split it is in."""

    def __init__(self, db: ProjectDatabase, classes: ClassList, task: Callable[[], str]) -> None:
        self._db = db
        self._classes = classes
        self._task = task

    # -- labels -------------------------------------------------------------------------------

    def of(self, image_ids: Iterable[int]) -> dict[int, tuple[str, ...]]:
        """image id -> its class names in list order (every id asked for is a key)."""
        ids = list(image_ids)
        labels = {image_id: [] for image_id in ids}  # type: dict[int, list[str]]
        for chunk in sql_chunks(ids):
            marks = ",".join("?" * len(chunk))
            query = (f"SELECT l.image_id, c.name FROM labels l JOIN classes c ON c.id = l.class_id "
                     f"WHERE l.image_id IN ({marks}) ORDER BY c.position, c.id")
            for image_id, name in self._db.execute(query, chunk):
                labels[image_id].append(name)
        return {image_id: tuple(names) for image_id, names in labels.items()}

    def every_image(self) -> dict[int, tuple[str, ...]]:
        """image id -> class names, for every labeled image (one query)."""
        labels: dict[int, list[str]] = {}
        query = "SELECT l.image_id, c.name FROM labels l JOIN classes c ON c.id = l.class_id ORDER BY c.position, c.id"
        for image_id, name in self._db.execute(query):
            labels.setdefault(image_id, []).append(name)
        return {image_id: tuple(names) for image_id, names in labels.items()}

    def set_labels(self, image_ids: Iterable[int], class_names: str | Sequence[str]) -> None:
        """Give every image exactly these labels (a name, a list of names, or [] to clear)."""
        names = [class_names] if isinstance(class_names, str) else list(class_names)
        self.apply_labels({image_id: names for image_id in image_ids})

    def apply_labels(self, labels: Mapping[int, Sequence[str]]) -> None:
        """Set each image's labels to its own list, all in one transaction (used by undo)."""
        with self._db.transaction() as conn:
            class_ids = self._classes.ids()
            for names in {tuple(n) for n in labels.values()}:
                self._check_label_names(names, class_ids)
            ids = list(labels)
            for chunk in sql_chunks(ids):
                conn.execute(f"DELETE FROM labels WHERE image_id IN ({','.join('?' * len(chunk))})", chunk)
            conn.executemany(
                "INSERT OR IGNORE INTO labels(image_id, class_id) SELECT id, ? FROM images WHERE id = ?",
                [(class_ids[name], image_id) for image_id, names in labels.items() for name in names],
            )

    def add_label(self, image_ids: Iterable[int], class_name: str) -> None:
        """Tag images with a class (multi-label); in a multi-class project this replaces the label."""
        if self._task() == "multiclass":
            self.set_labels(image_ids, [class_name])
            return
        with self._db.transaction() as conn:
            class_ids = self._classes.ids()
            self._check_label_names((class_name,), class_ids)
            class_id = class_ids[class_name]
            conn.executemany(
                "INSERT OR IGNORE INTO labels(image_id, class_id) SELECT id, ? FROM images WHERE id = ?",
                [(class_id, image_id) for image_id in image_ids],
            )

    def remove_label(self, image_ids: Iterable[int], class_name: str) -> None:
        with self._db.transaction() as conn:
            class_id = self._classes.ids().get(class_name)
            conn.executemany(
                "DELETE FROM labels WHERE image_id = ? AND class_id = ?", [(i, class_id) for i in image_ids]
            )

    # -- split and datasets -------------------------------------------------------------------

    def assign_split(self, assignment: Mapping[int, str | None], reset_others: bool = True) -> None:
        """Store a split: image id -> "train"/"val"/"test"/None; images not named are reset unless told."""
        bad = {v for v in assignment.values() if v is not None and v not in SPLITS}
        if bad:
            raise ProjectError(f"{self._db.folder}: unknown split name(s) {sorted(bad)}; use train, val or test.")
        with self._db.transaction() as conn:
            if reset_others:
                conn.execute("UPDATE images SET split = NULL")
            conn.executemany("UPDATE images SET split = ? WHERE id = ?", [(v, k) for k, v in assignment.items()])

    def split_counts(self) -> dict[str, dict[str, int]]:
        """class name -> split name ("train"/"val"/"test"/"none") -> labeled images."""
        counts = {name: {} for name in self._classes.names()}  # type: dict[str, dict[str, int]]
        query = ("SELECT c.name, COALESCE(i.split, 'none'), COUNT(*) FROM labels l JOIN classes c ON c.id = l.class_id "
                 "JOIN images i ON i.id = l.image_id GROUP BY c.id, i.split")
        for name, split, count in self._db.execute(query):
            counts[name][split] = count
        return counts

    def unlabeled_count(self) -> int:
        query = "SELECT COUNT(*) FROM images WHERE id NOT IN (SELECT image_id FROM labels)"
        return self._db.execute(query).fetchone()[0]

    def _check_label_names(self, names: Sequence[str], class_ids: Mapping[str, int]) -> None:
        unknown = [n for n in names if n not in class_ids]
        if unknown:
            raise ProjectError(f"{self._db.folder}: no class named {', '.join(map(repr, unknown))}; create it first.")
        if self._task() == "multiclass" and len(names) > 1:
            raise ProjectError(f"{self._db.folder}: single-label project, but {len(names)} labels were given for one image.")

