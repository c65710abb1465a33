"""Image files that would start another program, hang their reader or balloon after decoding (issue 12).

The same files are also part of the whole-corpus run in ``test_bad_images.py`` (import, health check,
training, prediction); here each danger is proven absent directly. Every test has a timeout: a
regression that opens a FIFO again must fail, not hang CI.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest
from PIL import Image, ImageFile

from imgcls_gui.engine.data import images
from imgcls_gui.engine.data.csv_import import read_csv_dataset
from imgcls_gui.engine.data.datasets import load_dataset
from imgcls_gui.engine.data.health import health_report
from imgcls_gui.engine.data.images import check_dimensions, check_image, file_sha1, load_image
from imgcls_gui.engine.data.preprocess import Preprocessing
from imgcls_gui.engine.deploy.predict_io import iter_image_paths, load_model_input
from imgcls_gui.engine.errors import DatasetError, ImageReadError
from imgcls_gui.engine.project.records import ImageRecord, scan_image_info

from ..engine.tiny_data import make_class_folders
from .corpus import HOSTILE_IMAGE_CASES, write_images
from .helpers import run_cli

# method="thread": a reader stuck in open() on a FIFO may sit in a worker thread, out of a signal's reach.
pytestmark = pytest.mark.timeout(240, method="thread")

CASES = {case.name: case for case in HOSTILE_IMAGE_CASES}
EXTERNAL = [name for name in CASES if "eps" in name]
OUTSIDE_ALLOW_LIST = [name for name in CASES if name.endswith(("-named-jpeg", "-named-png")) and "fifo" not in name]
SPECIAL = ["fifo-named-jpeg", "dev-zero-symlink", "dev-null-symlink"]
STRIPS = [name for name in CASES if name.startswith("strip-")]
PRE = Preprocessing.for_size(32, (0.5, 0.5, 0.5), (0.5, 0.5, 0.5))


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> dict[str, Path]:
    return write_images(tmp_path_factory.mktemp("hostile-images"), HOSTILE_IMAGE_CASES)


@pytest.fixture
def no_programs(monkeypatch) -> list:
    """Any attempt to start a program is recorded and fails, so none can run even if the guard breaks."""
    import torchvision.io  # noqa: F401 - torch's own import runs ldconfig once; that is not the file's doing
    import torchvision.transforms.v2  # noqa: F401

    started: list = []

    def refuse(*args, **kwargs):
        started.append(args[0] if args else kwargs.get("args"))
        raise AssertionError(f"a program was started: {started[-1]}")

    monkeypatch.setattr(subprocess, "Popen", refuse)
    return started


def _every_reader(path: Path) -> list[str]:
    """Each way imgcls reads an image file; returns the reasons given (each must refuse)."""
    reasons = [check_image(path).reason]
    for read in (lambda: load_image(path), lambda: load_image(path, draft_size=64), lambda: load_model_input(path, PRE)):
        with pytest.raises(ImageReadError) as info:
            read()
        reasons.append(info.value.reason)
    return reasons


@pytest.mark.parametrize("name", EXTERNAL)
def test_an_eps_file_with_an_image_name_is_refused_and_starts_no_program(files, no_programs, name):
    path = files[name]
    for reason in _every_reader(path):
        assert reason.startswith("not a supported image") and "JPEG" in reason
    assert scan_image_info([ImageRecord(1, path.name, path, (), None)]) == []  # the project's header scan
    assert no_programs == []


@pytest.mark.skipif(shutil.which("gs") is None, reason="Ghostscript is not installed, so Pillow could not run it")
def test_the_eps_file_really_would_start_ghostscript(files, no_programs):
    """Without the allow-list Pillow identifies the file as EPS and hands it to Ghostscript to decode."""
    with Image.open(files["eps-named-jpeg"]) as image:
        assert image.format == "EPS"
        with pytest.raises(AssertionError, match="a program was started"):
            image.load()
    assert no_programs and "gs" in str(no_programs[0][0])


@pytest.mark.parametrize("name", OUTSIDE_ALLOW_LIST)
def test_formats_outside_the_allow_list_are_refused_whatever_their_name(files, name):
    with Image.open(files[name]) as image:  # Pillow alone would read them
        assert image.format not in images.TRUSTED_FORMATS
    assert check_image(files[name]).kind == "not-image"


@pytest.mark.parametrize("name", SPECIAL)
def test_special_files_are_named_and_never_opened(files, name):
    path = files[name]
    for reason in _every_reader(path):
        assert "not a regular file" in reason
    with pytest.raises(OSError, match="not a regular file"):
        file_sha1(path)


def test_open_regular_file_refuses_a_fifo_without_blocking_even_if_the_first_check_is_fooled(files, monkeypatch):
    """The path could become a FIFO between stat and open: O_NONBLOCK plus fstat still refuse it at once."""
    fifo = files["fifo-named-jpeg"]
    real_stat = images.os.stat
    monkeypatch.setattr(images.os, "stat", lambda p, *a, **k: real_stat(files["heic-photo"]) if p == fifo else real_stat(p, *a, **k))
    with pytest.raises(images.NotRegularFileError, match="named pipe"):
        images.open_regular_file(fifo)


def test_many_special_and_empty_files_in_a_dataset_are_reported_not_hashed(tmp_path):
    """FIFOs, devices and empty files all have size 0: none is hashed (a FIFO would never end) or a duplicate."""
    root = tmp_path / "data"
    make_class_folders(root, classes=("red", "blue"), per_class=4, size=16)
    odd = root / "red"
    specials = []
    for i in range(3):
        write_images(odd, tuple(c.__class__(f"{c.name}-{i}", f"{i}-{c.relpath}", c.write, c.refused_as, c.what)
                                for c in HOSTILE_IMAGE_CASES if c.name in SPECIAL))
        specials += [odd / f"{i}-{CASES[n].relpath}" for n in SPECIAL]
        (odd / f"{i}-empty.jpg").write_bytes(b"")
    ds = load_dataset(root)
    assert set(specials) <= {s.path for s in ds.samples}  # listed, so the report can name them
    report = health_report(ds)
    kinds = {Path(p.path): p.kind for p in report.problems}
    assert all(kinds[path] == "not-image" for path in specials)
    assert report.duplicates == ()
    assert set(specials) <= set(iter_image_paths([root]))


def test_inspect_and_predict_io_over_a_folder_with_a_fifo_and_dev_zero_finish(files, tmp_path):
    """The CLI in a child process (with a timeout) over a dataset holding every special file."""
    root = tmp_path / "data"
    make_class_folders(root, classes=("red", "blue"), per_class=3, size=16)
    write_images(root / "blue", tuple(CASES[name] for name in SPECIAL))
    result = run_cli("inspect", str(root), timeout=120)
    assert result.returncode == 0, result.stderr
    for name in SPECIAL:
        assert CASES[name].relpath in result.stdout + result.stderr


@pytest.mark.parametrize("name", STRIPS)
def test_extreme_strips_are_refused_from_the_header_without_decoding(files, monkeypatch, name):
    decoded: list[tuple[int, int]] = []
    original = ImageFile.ImageFile.load
    monkeypatch.setattr(ImageFile.ImageFile, "load", lambda self: (decoded.append(self.size), original(self))[1])
    path = files[name]
    for reason in _every_reader(path):
        assert f"beyond {images.MAX_ASPECT_RATIO}:1" in reason and "crop it first" in reason
    assert decoded == []


@pytest.mark.parametrize("ratio", [1001, 1500, 10_000, 100_000])
@pytest.mark.parametrize("tall", [False, True])
def test_aspect_ratios_beyond_the_limit_are_refused_and_the_limit_itself_is_not(ratio, tall):
    size = (1, ratio) if tall else (ratio, 1)
    with pytest.raises(ImageReadError, match="aspect ratio"):
        check_dimensions("strip.png", *size)
    check_dimensions("strip.png", *(((2, 2000) if tall else (2000, 2))))  # exactly 1000:1 is used


@pytest.mark.parametrize("size, draft, refused", [
    ((20_000, 200), 1024, True),  # 100:1 resized to 1024 high: 102,400 x 1024 pixels
    ((20_000, 200), 256, False),
    ((9_000, 10), 512, True),  # 900:1 under the ratio limit, but 460,800 x 512 after the resize
    ((4_000, 3_000), 4096, False),
])
def test_the_resized_size_is_bounded_when_the_resize_is_known(size, draft, refused):
    if refused:
        with pytest.raises(ImageReadError, match="smaller image size"):
            check_dimensions("wide.png", *size, draft_size=draft)
    else:
        check_dimensions("wide.png", *size, draft_size=draft)


def test_heic_and_avif_photos_are_found_in_folders_and_decoded(files):
    found = set(iter_image_paths([files["heic-photo"].parent]))
    for name in ("heic-photo", "avif-photo", "garbage-named-heic"):
        assert files[name] in found  # listed: decoded, or named with the reason
    for name in ("heic-photo", "avif-photo"):
        image = load_image(files[name])
        assert image.mode == "RGB" and image.size == (40, 32)


def test_without_the_heif_plugin_heic_photos_are_named_with_the_missing_package(files, monkeypatch):
    monkeypatch.setattr(images, "decoder_formats", lambda: tuple(f for f in images.TRUSTED_FORMATS if f not in ("HEIF", "AVIF")))
    assert "pip install pillow-heif" in check_image(files["heic-photo"]).reason
    assert "AVIF support" in check_image(files["avif-photo"]).reason


@pytest.mark.parametrize("freeze", ["none", "head"])  # "head" goes through the feature cache, which hashes files
def test_training_over_special_files_finishes_and_names_them(tmp_path, freeze):
    import dataclasses
    import warnings

    from imgcls_gui.engine.data.loading import UnreadableImageWarning
    from imgcls_gui.engine.training.trainer import Trainer

    from .helpers import tiny_config

    root = tmp_path / "data"
    make_class_folders(root, classes=("red", "blue"), per_class=6, size=16)
    write_images(root / "red", tuple(CASES[name] for name in SPECIAL))
    cfg = tiny_config(root, epochs=1, feature_cache=True, feature_cache_dir=str(tmp_path / "cache"))
    cfg = cfg.replace(freeze=dataclasses.replace(cfg.freeze, mode=freeze))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = Trainer(cfg, tmp_path / "run").fit()
    assert result.epochs_run == 1 and (result.run_dir / "best.pt").is_file()
    named = " ".join(str(w.message) for w in caught if issubclass(w.category, UnreadableImageWarning))
    assert "not a regular file" in named


@pytest.mark.parametrize("kind", ["fifo", "dev-zero"])
@pytest.mark.parametrize("fmt", ["auto", "csv", "folder"])
def test_a_special_file_given_as_the_dataset_is_one_clear_error(tmp_path, kind, fmt, capsys):
    path = tmp_path / "labels.csv"
    os.mkfifo(path) if kind == "fifo" else os.symlink("/dev/zero", path)
    with pytest.raises(DatasetError, match="not a folder or CSV file"):
        load_dataset(path, format=fmt)
    with pytest.raises(DatasetError, match="not a CSV file"):  # the CSV reader itself, as the app's import calls it
        read_csv_dataset(path)
    if fmt == "auto":  # and the CLI, in a child with a timeout: one line, exit 2
        result = run_cli("inspect", str(path), timeout=60)
        assert result.returncode == 2 and "not a folder or CSV file" in result.stderr and "Traceback" not in result.stderr


def test_strips_through_the_whole_prediction_path_stay_within_a_memory_cap(files):
    """In a child capped by RLIMIT_AS: should the header check regress, the resize (about 20 GB for the
    100,000 x 1 strip) fails there with an allocation error instead of taking this machine's memory."""
    import sys

    from .helpers import child_env

    code = (
        "import resource, sys\n"
        "resource.setrlimit(resource.RLIMIT_AS, (6 << 30, 6 << 30))  # torch alone maps about 3.5 GB\n"
        "from imgcls_gui.engine.data.preprocess import Preprocessing\n"
        "from imgcls_gui.engine.deploy.predict_io import load_model_input\n"
        "from imgcls_gui.engine.errors import ImageReadError\n"
        "for path in sys.argv[1:]:\n"
        "    try:\n"
        "        load_model_input(path, Preprocessing.for_size(224))\n"
        "        print('decoded', path)\n"
        "    except ImageReadError as exc:\n"
        "        print('refused', exc.reason[:40])\n"
    )
    strips = [str(files[name]) for name in STRIPS]
    result = subprocess.run([sys.executable, "-c", code, *strips], capture_output=True, text=True,
                            env=child_env(), timeout=180)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.count("refused image is") == len(strips), result.stdout
