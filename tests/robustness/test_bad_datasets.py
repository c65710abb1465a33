"""Datasets that cannot train, or barely can: no images, one class, one image, labels only in val, 10,000 images."""

from __future__ import annotations

import cProfile
import io
import shutil
from pathlib import Path

import pytest
from PIL import Image

from imgcls_gui import cli
from imgcls_gui.engine import events as ev
from imgcls_gui.engine.config import DataConfig
from imgcls_gui.engine.data.datasets import load_dataset
from imgcls_gui.engine.errors import DatasetError
from imgcls_gui.engine.data.health import health_report
from imgcls_gui.engine.data.split import Split, split_dataset
from imgcls_gui.engine.training.trainer import Trainer

from ..engine.tiny_data import make_class_folders
from .helpers import TINY_TRAIN_FLAGS, tiny_config


def _train_error(capsys, data: Path, out: Path) -> str:
    """``imgcls train DATA`` must fail with exit 2 and exactly one line."""
    assert cli.main(["train", str(data), "--out", str(out), "--epochs", "1", *TINY_TRAIN_FLAGS]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("imgcls: error: ") and "\n" not in err, err
    return err


def test_folder_without_images_says_what_layouts_work(tmp_path, capsys):
    for name in ("cats", "dogs"):
        (tmp_path / "data" / name).mkdir(parents=True)
        (tmp_path / "data" / name / "readme.txt").write_text("photos coming soon")
    err = _train_error(capsys, tmp_path / "data", tmp_path / "run")
    assert f"{tmp_path / 'data'}: cannot tell how this folder is labeled" in err and "one subfolder per class" in err
    (tmp_path / "empty").mkdir()
    assert "cannot tell how this folder is labeled" in _train_error(capsys, tmp_path / "empty", tmp_path / "run")


def test_loose_unlabeled_images_are_counted_in_the_message(tmp_path, capsys):
    for i in range(3):
        Image.new("RGB", (8, 8)).save(tmp_path / f"{i}.png")
    err = _train_error(capsys, tmp_path, tmp_path / "run")
    assert "Its 3 images have no label: move them into one subfolder per class" in err


def test_one_class_is_refused_before_any_work(tmp_path, capsys):
    data = make_class_folders(tmp_path / "data", classes=("red",), per_class=5, size=16)
    err = _train_error(capsys, data, tmp_path / "run")
    assert f"{data}: only one class 'red' has labeled images; a classifier needs at least two classes" in err
    assert not (tmp_path / "run" / "last.pt").exists()


def test_a_class_with_one_image_keeps_it_in_train_and_trains(tmp_path):
    data = make_class_folders(tmp_path / "data", classes=("red", "blue"), per_class=6, size=32)
    make_class_folders(data, classes=("green",), per_class=1, size=32)
    ds = load_dataset(data)
    for seed in range(5):
        split = split_dataset(ds, val_fraction=0.3, test_fraction=0.2, seed=seed)
        lonely = [i for i, s in enumerate(ds.samples) if s.labels == ("green",)]
        assert lonely[0] in split.train
        parts = [set(split.train), set(split.val), set(split.test)]
        assert all(parts) and not (parts[0] & parts[1] or parts[0] & parts[2] or parts[1] & parts[2])
        assert set().union(*parts) == set(range(len(ds.samples)))
    report = health_report(ds, check_images=False)
    assert "green" in report.tiny_classes
    result = Trainer(tiny_config(data, batch_size=4), tmp_path / "run").fit()
    assert result.epochs_run == 1


class _Logs:
    def __init__(self) -> None:
        self.lines: list[tuple[str, str]] = []

    def on_event(self, event) -> None:
        if isinstance(event, ev.LogLine):
            self.lines.append((event.level, event.message))


def test_a_class_only_in_val_is_warned_about(tmp_path):
    data = tmp_path / "data"
    make_class_folders(data / "train", classes=("red", "blue"), per_class=4, size=32)
    make_class_folders(data / "val", classes=("red", "blue", "green"), per_class=2, size=32)
    logs = _Logs()
    result = Trainer(tiny_config(data, batch_size=4), tmp_path / "run", callbacks=[logs]).fit()
    assert result.epochs_run == 1
    warnings = [message for level, message in logs.lines if level == "warning"]
    assert warnings == ["class(es) green have no training images (only in val or test), so the model cannot learn "
                        "them; move some of their images into the training part."]


def test_labels_only_in_val_is_one_clear_error(tmp_path, capsys):
    data = tmp_path / "data"
    make_class_folders(data / "val", classes=("red", "blue"), per_class=3, size=16)
    (data / "train").mkdir()
    shutil.copy(data / "val" / "red" / "000.png", data / "train" / "unlabeled.png")
    err = _train_error(capsys, data, tmp_path / "run")
    assert f"{data}: need at least one training and one validation image (got 0 and 6)" in err
    assert "put labeled images in both its train and val parts" in err


@pytest.mark.filterwarnings("ignore::UserWarning")  # one "unreadable" warning per file, from whichever process read it
@pytest.mark.parametrize("workers", [0, 2], ids=["in-process", "loader-workers"])
def test_a_dataset_where_nothing_is_readable_is_one_clear_error(tmp_path, workers):
    for name in ("red", "blue"):
        (tmp_path / "data" / name).mkdir(parents=True)
        for i in range(8):
            (tmp_path / "data" / name / f"{i}.jpg").write_bytes(b"<html>expired link</html>")
    config = tiny_config(tmp_path / "data", batch_size=4)
    config = config.replace(data=DataConfig(path=str(tmp_path / "data"), num_workers=workers, val_fraction=0.25))
    with pytest.raises(DatasetError) as info:
        Trainer(config, tmp_path / "run").fit()
    # The same single line whether the loader read the files itself or in worker processes.
    assert str(info.value).startswith("none of the 12 images of this dataset can be read (first: ")
    assert "\n" not in str(info.value) and "Traceback" not in str(info.value)


# -- 10,000 tiny images ---------------------------------------------------------------------------------


def _write_tiny_folders(root: Path, count: int) -> Path:
    """count 2x2 PNGs in 4 class folders (identical bytes: importing and splitting never decode them)."""
    buffer = io.BytesIO()
    Image.new("RGB", (2, 2), (9, 9, 9)).save(buffer, "PNG")
    for i in range(count):
        folder = root / f"class{i % 4}"
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"{i:05d}.png").write_bytes(buffer.getvalue())
    return root


def _import_and_split(root: Path) -> Split:
    ds = load_dataset(root)
    split = split_dataset(ds, val_fraction=0.2, test_fraction=0.1, seed=3)
    again = Split.from_json(split.to_json(ds), ds)  # every run re-reads its split this way
    assert again.train == split.train and again.val == split.val and again.test == split.test
    health_report(ds, check_images=False)
    return split


def _python_calls(function, *args) -> int:
    """Python-level calls made by ``function(*args)``: deterministic, unlike a stopwatch."""
    profiler = cProfile.Profile()
    profiler.enable()
    function(*args)
    profiler.disable()
    return sum(entry.callcount for entry in profiler.getstats())


@pytest.mark.timeout(300)
def test_ten_thousand_images_import_and_split_in_linear_work(tmp_path):
    small = _write_tiny_folders(tmp_path / "small", 2_500)
    large = _write_tiny_folders(tmp_path / "large", 10_000)
    _import_and_split(small)  # warm-up: first use imports sklearn and fills caches
    split = _import_and_split(large)
    assert (len(split.train), len(split.val), len(split.test)) == (7_000, 2_000, 1_000)
    calls_small, calls_large = _python_calls(_import_and_split, small), _python_calls(_import_and_split, large)
    # 4x the images: linear work is 4x the calls, n log n about 4.7x, anything quadratic 16x.
    assert calls_large < 5.5 * calls_small, (calls_small, calls_large)
