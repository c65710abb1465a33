"""The grid's item model: filters, in-place label updates, and 20,000 rows."""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtCore import Qt

from imgcls_gui.engine.project.store import ImageRecord
from imgcls_gui.gui.dataset.grid import ImageGridView
from imgcls_gui.gui.dataset.model import COLOURS_ROLE, ID_ROLE, ImageFilter, ImageListModel
from imgcls_gui.gui.common.thumbnails import ThumbnailLoader


def records(n: int, root: Path = Path("/nowhere")) -> list[ImageRecord]:
    labels = [("cat",), ("dog",), (), ("cat", "dog")]
    splits = ["train", "val", None, "test"]
    return [ImageRecord(i + 1, f"{root}/img{i:05d}.png", root / f"img{i:05d}.png", labels[i % 4], splits[i % 4])
            for i in range(n)]


@pytest.fixture
def model(qtbot):
    loader = ThumbnailLoader(size=32)
    model = ImageListModel(loader)
    model.set_records(records(8))
    yield model
    loader.shutdown()


@pytest.mark.parametrize(("image_filter", "expected_ids"), [
    (ImageFilter(), [1, 2, 3, 4, 5, 6, 7, 8]),
    (ImageFilter(class_name="dog"), [2, 4, 6, 8]),
    (ImageFilter(unlabeled=True), [3, 7]),
    (ImageFilter(split="none"), [3, 7]),
    (ImageFilter(split="test"), [4, 8]),
    (ImageFilter(text="IMG0000"), [1, 2, 3, 4, 5, 6, 7, 8]),
    (ImageFilter(text="img00005"), [6]),
    (ImageFilter(image_ids=frozenset({2, 5, 99})), [2, 5]),
    (ImageFilter(class_name="cat", split="train"), [1, 5]),
])
def test_filters(model: ImageListModel, image_filter: ImageFilter, expected_ids: list[int]):
    model.set_filter(image_filter)
    assert [model.index(r).data(ID_ROLE) for r in range(model.rowCount())] == expected_ids


def test_label_update_repaints_only_the_changed_rows(model: ImageListModel, qtbot):
    model.set_class_colours({"cat": "#ff0000", "dog": "#0000ff"})
    model.set_filter(ImageFilter(class_name="cat"))  # rows: ids 1, 4, 5, 8
    with qtbot.waitSignal(model.dataChanged) as changed:
        model.update_labels({5: ("dog",), 3: ("cat",)})  # id 3 is filtered out: nothing to repaint
    top, bottom = changed.args[0].row(), changed.args[1].row()
    assert (top, bottom) == (2, 2)
    assert model.record(2).labels == ("dog",)  # stays visible until the filter changes
    assert [(n, c.name()) for n, c in model.index(2).data(COLOURS_ROLE)] == [("dog", "#0000ff")]
    model.set_filter(ImageFilter(class_name="cat"))
    assert [model.index(r).data(ID_ROLE) for r in range(model.rowCount())] == [1, 3, 4, 8]


def test_twenty_thousand_rows_open_in_a_grid_without_asking_each_row(qtbot, monkeypatch):
    loader = ThumbnailLoader(size=32)
    monkeypatch.setattr(loader, "get", lambda path: None)  # no files: keep the test about the model and view
    model = ImageListModel(loader)
    view = ImageGridView(model, thumbnail_size=32)
    qtbot.addWidget(view)
    view.resize(800, 600)
    asked: list[int] = []
    real_data = model.data
    monkeypatch.setattr(model, "data", lambda index, role=Qt.ItemDataRole.DisplayRole: (asked.append(index.row()),
                                                                                        real_data(index, role))[1])
    model.set_records(records(20_000))
    view.show()
    qtbot.waitExposed(view)
    qtbot.wait(50)
    assert model.rowCount() == 20_000
    assert len(set(asked)) < 2_000  # only rows near the viewport are ever asked for their data
    # Batched layout places rows a few hundred at a time between events; the bottom shows once it has.
    qtbot.waitUntil(lambda: (view.scrollToBottom(), max(asked) > 19_000)[1], timeout=20_000)
    model.set_filter(ImageFilter(text="img1"))
    assert model.rowCount() == 10_000
    loader.shutdown()
