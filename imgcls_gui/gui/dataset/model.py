"""The thumbnail grid's item model: plain ``ImageRecord`` rows plus a filtered index list.

No widget per image and no per-row Qt objects: 20,000 rows are a Python list and a list of
ints. Filtering rebuilds the index list (a fast list comprehension) and resets the model;
label changes update rows in place and repaint only the rows concerned.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from PySide6.QtCore import QAbstractListModel, QModelIndex, QObject, QPersistentModelIndex, Qt, QTimer, Slot
from PySide6.QtGui import QColor

from ...engine import ImageRecord
from ..common.thumbnails import ThumbnailLoader

ID_ROLE = Qt.ItemDataRole.UserRole + 1
RECORD_ROLE = Qt.ItemDataRole.UserRole + 2
COLOURS_ROLE = Qt.ItemDataRole.UserRole + 3  # [(label, QColor), ...]
MISSING_ROLE = Qt.ItemDataRole.UserRole + 4

_Index = QModelIndex | QPersistentModelIndex


@dataclass(frozen=True)
class ImageFilter:
    """Which rows the grid shows; every given criterion must hold."""

    class_name: str | None = None
    unlabeled: bool = False
    split: str | None = None  # "train", "val", "test" or "none"
    image_ids: frozenset[int] | None = None  # e.g. the images a health check flagged
    text: str = ""  # part of the file name, any case

    def accepts(self, record: ImageRecord, name_lower: str) -> bool:
        if self.class_name is not None and self.class_name not in record.labels:
            return False
        if self.unlabeled and record.labels:
            return False
        if self.split is not None and (record.split or "none") != self.split:
            return False
        if self.image_ids is not None and record.id not in self.image_ids:
            return False
        return not self.text or self.text.lower() in name_lower


class ImageListModel(QAbstractListModel):
    def __init__(self, thumbnails: ThumbnailLoader, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.thumbnails = thumbnails
        self._records: list[ImageRecord] = []
        self._names: list[str] = []  # lower-case file names, for the search box
        self._position: dict[int, int] = {}  # image id -> index in _records
        self._visible: list[int] = []  # indices into _records, in display order
        self._row_of_path: dict[str, int] = {}  # visible rows only: thumbnail path -> row
        self._filter = ImageFilter()
        self._colours: dict[str, QColor] = {}
        self.missing_ids: frozenset[int] = frozenset()
        self._dirty_rows: set[int] = set()
        self._repaint = QTimer(self, singleShot=True, interval=40)  # coalesce many thumbnails into one repaint
        self._repaint.timeout.connect(self._flush_repaint)
        thumbnails.thumbnailReady.connect(self._thumbnail_ready)

    # -- feeding ------------------------------------------------------------------------------

    def set_records(self, records: list[ImageRecord]) -> None:
        self.beginResetModel()
        self._records = list(records)
        self._names = [r.file.name.lower() for r in self._records]
        self._position = {r.id: n for n, r in enumerate(self._records)}
        self._apply_filter()
        self.endResetModel()

    def set_filter(self, image_filter: ImageFilter) -> None:
        self.beginResetModel()
        self._filter = image_filter
        self._apply_filter()
        self.endResetModel()

    @property
    def filter(self) -> ImageFilter:
        return self._filter

    def set_class_colours(self, colours: Mapping[str, str]) -> None:
        self._colours = {name: QColor(value) for name, value in colours.items()}
        self._repaint_all()

    def set_missing(self, image_ids: Iterable[int]) -> None:
        self.missing_ids = frozenset(image_ids)
        self._repaint_all()

    def update_labels(self, labels: Mapping[int, tuple[str, ...]]) -> None:
        """New labels for some images; rows stay where they are until the filter changes."""
        rows = []
        for image_id, names in labels.items():
            position = self._position.get(image_id)
            if position is not None:
                self._records[position] = dataclasses.replace(self._records[position], labels=tuple(names))
                rows.append(position)
        self._dirty_rows.update(self._row_of_position(rows))
        self._flush_repaint()

    def replace_records(self, records: list[ImageRecord]) -> None:
        """Same images, new facts (labels renamed, split assigned): repaint without losing the selection."""
        if [r.id for r in records] != [r.id for r in self._records]:
            self.set_records(records)
            return
        self._records = list(records)
        self._repaint_all()

    # -- reading ------------------------------------------------------------------------------

    def record(self, row: int) -> ImageRecord:
        return self._records[self._visible[row]]

    def row_of_id(self, image_id: int) -> int | None:
        position = self._position.get(image_id)
        if position is None:
            return None
        try:
            return self._visible.index(position)  # only used for a handful of ids at a time
        except ValueError:
            return None

    def all_records(self) -> list[ImageRecord]:
        return list(self._records)

    def rowCount(self, parent: _Index = QModelIndex()) -> int:  # noqa: N802 - Qt API
        return 0 if parent.isValid() else len(self._visible)

    def data(self, index: _Index, role: int = Qt.ItemDataRole.DisplayRole):
        if not index.isValid() or index.row() >= len(self._visible):
            return None
        record = self._records[self._visible[index.row()]]
        if role == Qt.ItemDataRole.DisplayRole:
            return record.file.name
        if role == Qt.ItemDataRole.DecorationRole:
            return self.thumbnails.get(record.file)
        if role == Qt.ItemDataRole.ToolTipRole:
            labels = ", ".join(record.labels) or "unlabeled"
            return f"{record.file}\n{labels} · split: {record.split or 'not assigned'}"
        if role == ID_ROLE:
            return record.id
        if role == RECORD_ROLE:
            return record
        if role == COLOURS_ROLE:
            return [(name, self._colours.get(name, QColor("#777777"))) for name in record.labels]
        if role == MISSING_ROLE:
            return record.id in self.missing_ids
        return None

    # -- internals ----------------------------------------------------------------------------

    def _apply_filter(self) -> None:
        accepts, names = self._filter.accepts, self._names
        if self._filter == ImageFilter():
            self._visible = list(range(len(self._records)))
        else:
            self._visible = [n for n, r in enumerate(self._records) if accepts(r, names[n])]
        self._row_of_path = {str(self._records[p].file): row for row, p in enumerate(self._visible)}

    def _row_of_position(self, positions: Iterable[int]) -> list[int]:
        rows = []
        for position in positions:
            row = self._row_of_path.get(str(self._records[position].file))
            if row is not None:
                rows.append(row)
        return rows

    def _repaint_all(self) -> None:
        if self._visible:
            self.dataChanged.emit(self.index(0), self.index(len(self._visible) - 1))

    @Slot(str)
    def _thumbnail_ready(self, path: str) -> None:
        row = self._row_of_path.get(path)
        if row is not None:
            self._dirty_rows.add(row)
            if not self._repaint.isActive():
                self._repaint.start()

    @Slot()
    def _flush_repaint(self) -> None:
        rows, self._dirty_rows = sorted(self._dirty_rows), set()
        if not rows:
            return
        start = previous = rows[0]
        for row in [*rows[1:], None]:  # one dataChanged per run of consecutive rows
            if row is not None and row == previous + 1:
                previous = row
                continue
            self.dataChanged.emit(self.index(start), self.index(previous))
            if row is not None:
                start = previous = row
