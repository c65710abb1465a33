"""--sort-into: per-class folders, uncertain/, never overwriting, copy or move."""

from __future__ import annotations

from pathlib import Path

import pytest

from imgcls_gui.engine.errors import ImgclsError
from imgcls_gui.engine.deploy.predict import Prediction
from imgcls_gui.engine.deploy.sorting import UNCERTAIN, folder_name, sort_into


def _file(path: Path, content: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(content)
    return path


def _pred(path: Path, labels: tuple[str, ...], score: float = 0.9, error: str = "") -> Prediction:
    return Prediction(path, ";".join(labels), score if not error else None, (), labels, error)


def test_images_are_copied_into_class_folders_and_clashes_get_a_suffix(tmp_path):
    a = _file(tmp_path / "in" / "x" / "photo.jpg", "first")
    b = _file(tmp_path / "in" / "y" / "photo.jpg", "second")
    c = _file(tmp_path / "in" / "photo-1.jpg", "third")
    dest = tmp_path / "sorted"
    earlier = _file(dest / "cat" / "photo.jpg", "from an earlier run")
    report = sort_into([_pred(a, ("cat",)), _pred(b, ("cat",)), _pred(c, ("cat",))], dest)
    names = {p.name: p.read_text() for p in (dest / "cat").iterdir()}
    assert names == {"photo.jpg": "from an earlier run", "photo-1.jpg": "first", "photo-2.jpg": "second",
                     "photo-1-1.jpg": "third"}
    assert earlier.read_text() == "from an earlier run"
    assert report.placed == 3 and report.counts == {"cat": 3} and report.failed == ()
    assert a.exists() and b.exists() and c.exists()  # copies: the originals stay


def test_move_leaves_nothing_behind_and_still_never_overwrites(tmp_path):
    a = _file(tmp_path / "in" / "a.png", "A")
    dest = tmp_path / "out"
    _file(dest / "dog" / "a.png", "keep me")
    report = sort_into([_pred(a, ("dog",))], dest, move=True)
    assert not a.exists() and (dest / "dog" / "a-1.png").read_text() == "A"
    assert (dest / "dog" / "a.png").read_text() == "keep me" and report.placed == 1


def test_low_confidence_and_no_label_go_to_uncertain_and_errors_stay_put(tmp_path):
    sure = _file(tmp_path / "sure.jpg", "1")
    unsure = _file(tmp_path / "unsure.jpg", "2")
    none = _file(tmp_path / "none.jpg", "3")
    bad = _file(tmp_path / "bad.jpg", "4")
    report = sort_into([_pred(sure, ("cat",), 0.95), _pred(unsure, ("cat",), 0.4), _pred(none, ()),
                        _pred(bad, (), error="not an image")], tmp_path / "out", min_confidence=0.5)
    assert sorted(p.name for p in (tmp_path / "out" / UNCERTAIN).iterdir()) == ["none.jpg", "unsure.jpg"]
    assert [p.name for p in (tmp_path / "out" / "cat").iterdir()] == ["sure.jpg"]
    assert (report.placed, report.uncertain, report.skipped) == (3, 2, 1)
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["cat", UNCERTAIN]


def test_multilabel_images_go_into_each_of_their_labels_folders(tmp_path):
    both = _file(tmp_path / "both.jpg", "sea and trees")
    report = sort_into([_pred(both, ("sea", "trees"))], tmp_path / "out", move=True)
    assert (tmp_path / "out" / "sea" / "both.jpg").read_text() == "sea and trees"
    assert (tmp_path / "out" / "trees" / "both.jpg").read_text() == "sea and trees"
    assert not both.exists() and report.counts == {"sea": 1, "trees": 1} and report.placed == 1


def test_class_names_become_safe_folder_names(tmp_path):
    assert folder_name("a/b") == "a_b" and folder_name("..") == "_" and folder_name('x:y*?"') == "x_y___"
    assert folder_name("Été 夏") == "Été 夏" and folder_name("dots...") == "dots"
    image = _file(tmp_path / "i.jpg", "x")
    sort_into([_pred(image, ("../../escape",))], tmp_path / "out")
    assert (tmp_path / "out" / ".._.._escape" / "i.jpg").is_file()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["i.jpg", "out"]


def test_files_that_vanished_are_reported_not_fatal(tmp_path):
    here = _file(tmp_path / "here.jpg", "x")
    report = sort_into([_pred(tmp_path / "gone.jpg", ("cat",)), _pred(here, ("cat",))], tmp_path / "out")
    assert report.placed == 1 and [Path(p).name for p, _ in report.failed] == ["gone.jpg"]
    assert [p.name for p in (tmp_path / "out" / "cat").iterdir()] == ["here.jpg"]


def test_a_destination_that_cannot_be_created_is_a_clear_error(tmp_path):
    blocker = _file(tmp_path / "file", "I am a file")
    with pytest.raises(ImgclsError, match="cannot create the folder"):
        sort_into([], blocker / "sub")
