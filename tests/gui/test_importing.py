"""Turning chosen or dropped paths into datasets (the worker half of an import)."""

from __future__ import annotations

from pathlib import Path

import pytest

from imgcls_gui.engine.errors import DatasetError
from imgcls_gui.gui.importing import read_import_request
from imgcls_gui.gui.state import ImportRequest

from .conftest import write_png


class FakeState:
    def __init__(self) -> None:
        self.progress: list[tuple[int, int]] = []

    def set_progress(self, done: int, total: int) -> None:
        self.progress.append((done, total))

    def raise_if_interrupted(self) -> None:
        pass


def test_mixed_paths(tmp_path: Path, class_folders: Path):
    loose = write_png(tmp_path / "x.png", 9)
    csv = tmp_path / "table" / "labels.csv"
    write_png(tmp_path / "table" / "images" / "t.png", 10)
    csv.write_text("path,label\nt.png,tree\n")
    state = FakeState()
    datasets = read_import_request(state, ImportRequest((class_folders, loose, csv, tmp_path / "notes.md")), "multiclass")
    formats = [d.format for d in datasets]
    assert formats == ["folder", "csv", "files"]
    assert datasets[1].samples[0].labels == ("tree",)  # found in images/ beside the CSV
    files = datasets[2]
    assert [s.path for s in files.samples] == [loose] and files.samples[0].labels == ()
    assert [p.kind for p in files.problems] == ["not-image"]
    assert state.progress[-1] == (4, 4)


def test_split_folders_keep_their_split(tmp_path: Path):
    for split in ("train", "val"):
        for name in ("a", "b"):
            write_png(tmp_path / "data" / split / name / f"{split}{name}.png", hash((split, name)) % 1000)
    [dataset] = read_import_request(FakeState(), ImportRequest((tmp_path / "data",)), "multiclass")
    assert dataset.format == "split-folders"
    assert {s.split for s in dataset.samples} == {"train", "val"}


def test_a_folder_without_any_image_is_an_error(tmp_path: Path):
    (tmp_path / "empty" / "sub").mkdir(parents=True)
    with pytest.raises(DatasetError):
        read_import_request(FakeState(), ImportRequest((tmp_path / "empty",)), "multiclass")


def test_explicit_voc_format_goes_to_the_voc_importer(tmp_path: Path):
    root = tmp_path / "voc"
    write_png(root / "JPEGImages" / "001.png", 1)
    (root / "Annotations").mkdir()
    (root / "Annotations" / "001.xml").write_text(
        "<annotation><object><name>dog</name></object><object><name>cat</name></object></annotation>")
    [dataset] = read_import_request(FakeState(), ImportRequest((root,), "voc"), "multilabel")
    assert dataset.format == "voc" and dataset.samples[0].labels == ("cat", "dog")


def test_a_csv_whose_images_live_elsewhere_asks_for_their_folder(main_win, qtbot, tmp_path: Path):
    from .dataset.helpers import import_and_wait

    write_png(tmp_path / "photos" / "p1.png", 1)
    write_png(tmp_path / "photos" / "p2.png", 2)
    csv = tmp_path / "tables" / "labels.csv"
    csv.parent.mkdir()
    csv.write_text("file,label\np1.png,cat\np2.png,dog\n")
    main_win.projects.create_project(tmp_path / "proj")
    asked: list[str] = []
    main_win.importer.ask_images_root = lambda message: asked.append(message) or tmp_path / "photos"
    import_and_wait(qtbot, main_win, csv, format="csv")
    assert asked and "labels.csv" in asked[0]
    assert main_win.state.project.class_image_counts() == {"cat": 1, "dog": 1}
