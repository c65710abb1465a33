"""``predict --sort-into`` tells the truth and does not feed on itself: it exits non-zero when no file
could be sorted, says copied/moved/linked as it happened, leaves its own output folder out when it
walks the input again, and never mixes a class called like the low-confidence folder into it."""

from __future__ import annotations

import errno
import os
from pathlib import Path

import pytest

from imgcls_gui import cli
from imgcls_gui.engine.deploy.predict import Prediction
from imgcls_gui.engine.deploy.sorting import UNCERTAIN, low_confidence_folder, sort_into
from imgcls_gui.engine.training.trainer import Trainer

from ..engine.tiny_data import make_class_folders
from .corpus import noise
from .helpers import tiny_config


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("sorting")
    data = make_class_folders(root / "data", per_class=6, size=32)
    return Trainer(tiny_config(data), root / "run").fit().run_dir


def _photos(folder: Path, count: int = 3) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(count):
        noise((40, 40), seed=i).save(folder / f"p{i}.png")
    return folder


def _files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*.png"))


def _originals_cannot_be_removed(monkeypatch, folder: Path) -> None:
    """What a read-only input folder does (root ignores permissions, so it is simulated)."""
    real_unlink = Path.unlink

    def stuck(self, *args, **kwargs):
        if self.parent == folder:
            raise PermissionError(errno.EACCES, "Permission denied")
        return real_unlink(self, *args, **kwargs)
    monkeypatch.setattr(Path, "unlink", stuck)


def _prediction(path: Path, label: str, score: float = 0.9) -> Prediction:
    return Prediction(path, label, score, ((label, score),), (label,))


@pytest.mark.parametrize("move", [False, True], ids=["copy", "move"])
def test_when_no_file_can_be_sorted_the_exit_status_says_so(run_dir, tmp_path, capsys, move):
    photos = _photos(tmp_path / "photos")
    dest = tmp_path / "sorted"
    dest.mkdir()
    for name in ("red", "blue", UNCERTAIN):  # every folder it could sort into is taken by a file
        (dest / name).write_text("not a folder")
    argv = ["predict", str(run_dir), str(photos), "--sort-into", str(dest), "--quiet"] + (["--move"] if move else [])
    assert cli.main(argv) == 1
    err = capsys.readouterr().err
    assert "sorted 0 images" in err and err.count("imgcls: could not sort") == 3
    assert len(_files(photos)) == 3  # nothing lost


def test_a_partial_failure_still_exits_zero_and_names_the_file(run_dir, tmp_path, capsys):
    photos = _photos(tmp_path / "photos")
    dest = tmp_path / "sorted"
    dest.mkdir()
    (dest / "red").write_text("not a folder")
    (dest / "blue").mkdir()
    assert cli.main(["predict", str(run_dir), str(photos), "--sort-into", str(dest), "--quiet", "--out",
                     str(tmp_path / "p.csv")]) in (0, 1)  # 1 only if every photo was predicted red
    err = capsys.readouterr().err
    assert ("copied" in err) or err.count("could not sort") == 3


@pytest.mark.parametrize("case", ["copy", "move", "move-across-file-systems", "move-original-stuck",
                                  "multilabel-move"])
def test_the_report_says_what_was_done(tmp_path, monkeypatch, case):
    photos = _photos(tmp_path / "photos", 2)
    paths = _files(photos)
    predictions = [_prediction(p, "red") for p in paths]
    if case == "multilabel-move":
        predictions = [Prediction(p, "red;blue", 0.9, (("red", 0.9), ("blue", 0.8)), ("red", "blue")) for p in paths]
    if case == "move-across-file-systems":
        real_link = os.link

        def no_link(source, target):
            if Path(source).parent == photos:
                raise OSError(errno.EXDEV, "Invalid cross-device link")
            return real_link(source, target)
        monkeypatch.setattr(os, "link", no_link)
    if case == "move-original-stuck":  # a read-only input folder: the link is made, the original stays
        _originals_cannot_be_removed(monkeypatch, photos)
    report = sort_into(predictions, tmp_path / "sorted", move=case != "copy")
    expected = {"copy": {"copied": 2}, "move": {"moved": 2}, "move-across-file-systems": {"moved": 2},
                "move-original-stuck": {"linked": 2}, "multilabel-move": {"copied": 2, "moved": 2}}[case]
    assert report.actions == expected and report.placed == 2
    assert report.summary() == ", ".join(f"{verb} {n}" for verb, n in sorted(expected.items())) + " images"
    if case == "move-original-stuck":
        assert [Path(p) for p, _ in report.not_removed] == paths and all(p.exists() for p in paths)
        assert all(os.path.samefile(p, tmp_path / "sorted" / "red" / p.name) for p in paths)
    elif case != "copy":
        assert not any(p.exists() for p in paths)


def test_the_cli_reports_linked_files_and_why(run_dir, tmp_path, monkeypatch, capsys):
    photos = _photos(tmp_path / "photos", 2)
    _originals_cannot_be_removed(monkeypatch, photos)
    assert cli.main(["predict", str(run_dir), str(photos), "--sort-into", str(tmp_path / "s"), "--move", "--quiet"]) == 0
    err = capsys.readouterr().err
    assert "linked 2 images into" in err and "moved" not in err and err.count("could not remove it: Permission denied") == 2


@pytest.mark.parametrize("recursive", [True, False], ids=["recursive", "top-level"])
def test_rerunning_with_the_sort_folder_inside_the_input_does_not_multiply_files(run_dir, tmp_path, capsys, recursive):
    for inside in ("sorted", "nested/deeper/sorted"):
        photos = _photos(tmp_path / inside.replace("/", "-") / "photos")
        where = photos / inside
        argv = ["predict", str(run_dir), str(photos), "--sort-into", str(where), "--quiet", "--out", str(tmp_path / "p.csv")]
        argv += [] if recursive else ["--no-recursive"]
        for run in (1, 2, 3):
            assert cli.main(argv) == 0
            assert "3 of 3 images classified" in capsys.readouterr().err  # the photos, never the copies
            assert len(_files(where)) == 3 * run  # 3, 6, 9 (new names, nothing overwritten), not 3, 9, 27


@pytest.mark.parametrize(("classes", "expected"), [
    (("uncertain", "red"), "uncertain-low-confidence"),
    (("UNCERTAIN", "red"), "uncertain-low-confidence"),  # folders are case-blind on macOS and Windows
    (("uncertain.", "red"), "uncertain-low-confidence"),  # the same folder name once made safe
    (("uncertain", "uncertain-low-confidence"), "uncertain-low-confidence-1"),
    (("red", "blue"), UNCERTAIN),
])
def test_a_class_named_like_the_low_confidence_folder_keeps_its_own_folder(tmp_path, classes, expected):
    photos = _photos(tmp_path / "photos", 2)
    confident, unsure = _files(photos)
    report = sort_into([_prediction(confident, classes[0]), _prediction(unsure, classes[1], 0.3)], tmp_path / "sorted",
                       min_confidence=0.5, classes=classes)
    assert report.uncertain_folder == expected and report.uncertain == 1
    low = tmp_path / "sorted" / expected
    assert [p.name for p in low.iterdir()] == [unsure.name]
    assert [p.name for p in (tmp_path / "sorted").iterdir() if p != low and p.name.casefold() != expected.casefold()]
    assert low_confidence_folder(["x"]) == UNCERTAIN
