"""A project is a folder: ``project.sqlite`` (images, classes, labels, split, notes, the app's
settings) plus run folders.

Every mutating method is one SQLite transaction that has committed (WAL, ``synchronous=FULL``)
before it returns, so a label the GUI shows as applied survives ``kill -9``. Image paths are
stored relative to the project folder when the image lives inside it, absolute otherwise.
Files that moved or vanished are listed by ``missing_images()``, never fatal. Qt-free, so the
CLI can train from a project: ``Project.open(folder, read_only=True).to_labeled_dataset()``.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Literal

from .classes import ClassInfo, ClassList, DeletedClass
from .connection import ProjectDatabase, ProjectReadOnlyError, is_write_failure, open_connection
from .labels import ImageLabels
from .records import (
    ImageInfo, ImageRecord, ImportSummary, RemovedImages, scan_image_info, split_to_assignment, sql_chunks,
)
from .reviews import KEPT_TABLE, KeptIssues
from .settings import SETTINGS_TABLE, ProjectSettings
from .lock import LOCK_FILE, ProjectError, ProjectLock, ProjectLockedError, ProjectNotWritableError, not_writable_error
from .schema import SCHEMA_VERSION, check_schema
from ..data.samples import LabeledDataset, Problem, Sample

__all__ = [
    "ClassInfo", "DeletedClass", "ImageInfo", "ImageRecord", "ImportSummary", "LOCK_FILE", "PROJECT_FILE",
    "Project", "ProjectError", "ProjectLockedError", "ProjectNotWritableError", "ProjectReadOnlyError", "RemovedImages",
    "scan_image_info", "split_to_assignment",
]

PROJECT_FILE = "project.sqlite"
THUMBNAIL_DIR = ".thumbnails"
ProjectTask = Literal["multiclass", "multilabel"]

_SCHEMA = (
    "CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT NOT NULL)",
    """CREATE TABLE images(id INTEGER PRIMARY KEY, path TEXT NOT NULL UNIQUE, sha1 TEXT, size INTEGER,
        width INTEGER, height INTEGER, split TEXT CHECK (split IN ('train', 'val', 'test')), added TEXT NOT NULL)""",
    """CREATE TABLE classes(id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE, colour TEXT NOT NULL,
        position INTEGER NOT NULL)""",
    """CREATE TABLE labels(image_id INTEGER NOT NULL REFERENCES images(id) ON DELETE CASCADE,
        class_id INTEGER NOT NULL REFERENCES classes(id) ON DELETE CASCADE,
        PRIMARY KEY (image_id, class_id)) WITHOUT ROWID""",
    "CREATE INDEX labels_by_class ON labels(class_id)",
    SETTINGS_TABLE,  # the app's per-project choices (settings.py); older projects get it on first write
    KEPT_TABLE,  # suspicions the Review view's user kept (reviews.py); likewise
)


class Project:
    """An open project. Use as a context manager or call ``close()`` to release the lock.

    The class list, the labels and the settings are collaborators given the database (and the
    labels the class list); the methods below that name them only delegate.
    """

    def __init__(self, folder: Path, conn: sqlite3.Connection, lock: ProjectLock | None, read_only: bool) -> None:
        self.folder = folder
        self._db = ProjectDatabase(folder / PROJECT_FILE, conn, read_only)
        self._lock = lock
        self.read_only = read_only
        self._classes = ClassList(self._db)
        self._labels = ImageLabels(self._db, self._classes, lambda: self.task)
        self._settings = ProjectSettings(self._db)
        self.kept_issues = KeptIssues(self._db)  # the Review view's "keep the label" answers

    # -- opening and closing ------------------------------------------------------------------

    @classmethod
    def create(cls, folder: str | Path, name: str | None = None, task: ProjectTask = "multiclass") -> "Project":
        folder = Path(folder).expanduser().resolve()
        if task not in ("multiclass", "multilabel"):
            raise ProjectError(f"{folder}: task must be 'multiclass' or 'multilabel', not {task!r}.")
        if (folder / PROJECT_FILE).exists():
            raise ProjectError(f"{folder}: this folder already holds a project; open it instead.")
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ProjectError(f"{folder}: cannot create the project folder ({exc.strerror or exc}).") from exc
        lock = ProjectLock.acquire(folder)
        try:
            conn = open_connection(folder / PROJECT_FILE, read_only=False)
            project = cls(folder, conn, lock, read_only=False)
            with project._db.transaction():
                for statement in _SCHEMA:
                    conn.execute(statement)
                meta = {"schema_version": str(SCHEMA_VERSION), "name": name or folder.name, "task": task,
                        "created": _now(), "notes": ""}
                conn.executemany("INSERT INTO meta(key, value) VALUES (?, ?)", meta.items())
        except BaseException:
            lock.release()
            raise
        return project

    @classmethod
    def open(cls, folder: str | Path, read_only: bool = False) -> "Project":
        folder = Path(folder).expanduser().resolve()
        if not (folder / PROJECT_FILE).is_file():
            raise ProjectError(
                f"{folder}: no {PROJECT_FILE} here. Choose the folder that holds it, or create a new project."
            )
        lock = None if read_only else ProjectLock.acquire(folder)
        try:
            conn = open_connection(folder / PROJECT_FILE, read_only=read_only)
            project = cls(folder, conn, lock, read_only)
        except sqlite3.DatabaseError as exc:
            if lock:
                lock.release()
            if not read_only and is_write_failure(exc):
                raise not_writable_error(folder, str(exc)) from exc
            raise ProjectError(f"{folder / PROJECT_FILE}: not a readable imgcls project ({exc}).") from exc
        try:
            check_schema(conn, folder / PROJECT_FILE)  # a damaged or foreign file fails here, in one line
        except sqlite3.DatabaseError as exc:
            project.close()
            raise ProjectError(f"{folder / PROJECT_FILE}: not a readable imgcls project ({exc}).") from exc
        except BaseException:
            project.close()
            raise
        return project

    def close(self) -> None:
        self._db.close()
        if self._lock is not None:
            self._lock.release()
            self._lock = None

    def __enter__(self) -> "Project":
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    @property
    def closed(self) -> bool:
        return self._db.closed

    # -- metadata -----------------------------------------------------------------------------

    @property
    def name(self) -> str:
        return self.get_meta("name", self.folder.name)

    @property
    def task(self) -> ProjectTask:
        return self.get_meta("task", "multiclass")  # type: ignore[return-value]

    @property
    def thumbnails_dir(self) -> Path:
        return self.folder / THUMBNAIL_DIR

    @property
    def runs_dir(self) -> Path:
        return self.folder / "runs"

    def get_meta(self, key: str, default: str = "") -> str:
        row = self._db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return row[0] if row else default

    def set_meta(self, key: str, value: str) -> None:
        with self._db.transaction() as conn:
            conn.execute("INSERT OR REPLACE INTO meta(key, value) VALUES (?, ?)", (key, value))

    def checkpoint(self) -> None:
        """Fold the WAL into the main file (File > Save: everything is already committed)."""
        if not self.read_only:
            self._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")

    # -- images -------------------------------------------------------------------------------

    def image_count(self) -> int:
        return self._db.execute("SELECT COUNT(*) FROM images").fetchone()[0]

    def absolute_image_paths(self) -> frozenset[str]:
        """Every image's absolute path, to tell which files an import would add (one query)."""
        return frozenset(str(self.absolute_path(stored)) for (stored,) in self._db.execute("SELECT path FROM images"))

    def images(self) -> list[ImageRecord]:
        """Every image with its labels, in the order they were added (two queries: fast at 20,000)."""
        return self._records("SELECT id, path, split, sha1, size, width, height FROM images ORDER BY id", ())

    def images_by_id(self, image_ids: Iterable[int]) -> list[ImageRecord]:
        ids = list(image_ids)
        rows: list[ImageRecord] = []
        for chunk in sql_chunks(ids):
            marks = ",".join("?" * len(chunk))
            query = f"SELECT id, path, split, sha1, size, width, height FROM images WHERE id IN ({marks})"
            rows += self._records(query, chunk)
        order = {image_id: n for n, image_id in enumerate(ids)}
        return sorted(rows, key=lambda r: order[r.id])

    def absolute_path(self, stored: str) -> Path:
        path = Path(stored)
        return path if path.is_absolute() else self.folder / path

    def missing_images(self) -> list[ImageRecord]:
        """Images whose file moved or vanished since import (listed so the user can act, never fatal)."""
        return [record for record in self.images() if not record.file.is_file()]

    def import_dataset(self, dataset: LabeledDataset, progress: Callable[[int, int], None] | None = None) -> ImportSummary:
        """Add every sample (labels, classes, known split) in one transaction; known paths are skipped."""
        self._check_task(dataset)
        total = len(dataset.samples)
        added_ids: list[int] = []
        with self._db.transaction() as conn:
            names = list(dict.fromkeys([*dataset.classes, *(n for s in dataset.samples for n in s.labels)]))
            classes_added = tuple(n for n in names if n not in self._classes.ids())
            for name in classes_added:
                self._classes.insert(name, None)
            class_ids = self._classes.ids()
            now = _now()
            for done, sample in enumerate(dataset.samples, start=1):
                cursor = conn.execute(
                    "INSERT OR IGNORE INTO images(path, size, split, added) VALUES (?, ?, ?, ?)",
                    (self._stored_path(sample.path), _file_size(sample.path), sample.split, now),
                )
                if cursor.rowcount == 1:
                    added_ids.append(cursor.lastrowid)
                    conn.executemany(
                        "INSERT OR IGNORE INTO labels(image_id, class_id) VALUES (?, ?)",
                        [(cursor.lastrowid, class_ids[name]) for name in sample.labels],
                    )
                if progress and (done % 1000 == 0 or done == total):
                    progress(done, total)
            if self.image_count() == len(added_ids) and dataset.task != self.task:
                # An empty project takes the task of the first data imported into it.
                conn.execute("UPDATE meta SET value = ? WHERE key = 'task'", (dataset.task,))
        return ImportSummary(len(added_ids), total - len(added_ids), classes_added, tuple(added_ids))

    def remove_images(self, image_ids: Iterable[int]) -> RemovedImages:
        """Take images out of the project (the files on disk are never touched)."""
        ids = list(image_ids)
        with self._db.transaction() as conn:
            rows: list[tuple] = []
            labels: list[tuple[int, str]] = []
            for chunk in sql_chunks(ids):
                marks = ",".join("?" * len(chunk))
                rows += conn.execute(
                    f"SELECT id, path, sha1, size, width, height, split, added FROM images WHERE id IN ({marks})", chunk
                ).fetchall()
                labels += conn.execute(
                    f"SELECT l.image_id, c.name FROM labels l JOIN classes c ON c.id = l.class_id "
                    f"WHERE l.image_id IN ({marks})", chunk
                ).fetchall()
                conn.execute(f"DELETE FROM images WHERE id IN ({marks})", chunk)
        return RemovedImages(tuple(rows), tuple(labels))

    def restore_images(self, removed: RemovedImages) -> None:
        """Undo ``remove_images``: the same ids, paths and labels come back."""
        with self._db.transaction() as conn:
            conn.executemany(
                "INSERT OR IGNORE INTO images(id, path, sha1, size, width, height, split, added) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?)", removed.rows,
            )
            class_ids = self._classes.ids()
            conn.executemany(
                "INSERT OR IGNORE INTO labels(image_id, class_id) VALUES (?, ?)",
                [(image_id, class_ids[name]) for image_id, name in removed.labels if name in class_ids],
            )

    def update_image_info(self, infos: Iterable[ImageInfo]) -> None:
        with self._db.transaction() as conn:
            conn.executemany(
                "UPDATE images SET sha1 = ?, size = ?, width = ?, height = ? WHERE id = ?",
                [(i.sha1, i.size, i.width, i.height, i.image_id) for i in infos],
            )

    def dataset_with_ids(self, labeled_only: bool = False) -> tuple[LabeledDataset, list[int]]:
        """The project as a LabeledDataset plus the image id of each sample (missing files become problems)."""
        samples: list[Sample] = []
        ids: list[int] = []
        problems: list[Problem] = []
        for record in self.images():
            if labeled_only and not record.labels:
                continue
            if not record.file.is_file():
                problems.append(Problem(str(record.file), "file moved or deleted since import", kind="missing"))
                continue
            samples.append(Sample(record.file, record.labels, record.split, record.sha1))  # type: ignore[arg-type]
            ids.append(record.id)
        dataset = LabeledDataset(self.folder, "project", samples, self.class_names(), self.task, problems)
        return dataset, ids

    def to_labeled_dataset(self, labeled_only: bool = False) -> LabeledDataset:
        return self.dataset_with_ids(labeled_only)[0]

    # -- classes, labels and settings (delegated) ---------------------------------------------

    def classes(self) -> list[ClassInfo]:
        return self._classes.all()

    def class_names(self) -> list[str]:
        return self._classes.names()

    def class_image_counts(self) -> dict[str, int]:
        """class name -> number of images carrying it (0 included)."""
        return self._classes.image_counts()

    def add_class(self, name: str, colour: str | None = None) -> ClassInfo:
        return self._classes.add(name, colour)

    def rename_class(self, old: str, new: str) -> None:
        self._classes.rename(old, new)

    def recolour_class(self, name: str, colour: str) -> None:
        self._classes.recolour(name, colour)

    def delete_class(self, name: str) -> DeletedClass:
        """Remove a class and its labels (images stay, possibly unlabeled)."""
        return self._classes.delete(name)

    def restore_class(self, deleted: DeletedClass) -> None:
        """Undo ``delete_class``: the class returns at its old place with its labels."""
        self._classes.restore(deleted)

    def labels_of(self, image_ids: Iterable[int]) -> dict[int, tuple[str, ...]]:
        return self._labels.of(image_ids)

    def unlabeled_count(self) -> int:
        return self._labels.unlabeled_count()

    def set_labels(self, image_ids: Iterable[int], class_names: str | Sequence[str]) -> None:
        """Give every image exactly these labels (a name, a list of names, or [] to clear)."""
        self._labels.set_labels(image_ids, class_names)

    def apply_labels(self, labels: Mapping[int, Sequence[str]]) -> None:
        """Set each image's labels to its own list, all in one transaction (used by undo)."""
        self._labels.apply_labels(labels)

    def add_label(self, image_ids: Iterable[int], class_name: str) -> None:
        """Tag images with a class (multi-label); in a multi-class project this replaces the label."""
        self._labels.add_label(image_ids, class_name)

    def remove_label(self, image_ids: Iterable[int], class_name: str) -> None:
        self._labels.remove_label(image_ids, class_name)

    def assign_split(self, assignment: Mapping[int, str | None], reset_others: bool = True) -> None:
        """Store a split: image id -> "train"/"val"/"test"/None; images not named are reset unless told."""
        self._labels.assign_split(assignment, reset_others)

    def split_counts(self) -> dict[str, dict[str, int]]:
        """class name -> split name ("train"/"val"/"test"/"none") -> labeled images."""
        return self._labels.split_counts()

    def get_setting(self, key: str, default: Any = None) -> Any:
        """The JSON value stored under ``key`` (settings.py), or ``default``."""
        return self._settings.get(key, default)

    def set_setting(self, key: str, value: Any) -> None:
        self._settings.set(key, value)

    # -- internals ----------------------------------------------------------------------------

    def _records(self, query: str, params: Sequence[object]) -> list[ImageRecord]:
        rows = self._db.execute(query, params).fetchall()
        labels = self._labels.of([row[0] for row in rows]) if len(rows) < 900 else self._labels.every_image()
        return [
            ImageRecord(image_id, path, self.absolute_path(path), labels.get(image_id, ()), split, sha1, size, w, h)
            for image_id, path, split, sha1, size, w, h in rows
        ]

    def _stored_path(self, path: Path) -> str:
        absolute = Path(os.path.abspath(path))
        try:
            return absolute.relative_to(self.folder).as_posix()
        except ValueError:
            return str(absolute)

    def _check_task(self, dataset: LabeledDataset) -> None:
        if self.task == "multiclass" and dataset.task == "multilabel" and self.image_count() > 0:
            raise ProjectError(
                f"{dataset.root}: has several labels per image, but project '{self.name}' is single-label. "
                "Create a multi-label project for this data."
            )


def _file_size(path: Path) -> int | None:
    try:
        return os.stat(path).st_size
    except OSError:
        return None


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")
