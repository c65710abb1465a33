"""Read-only folders, a full disk and running out of GPU memory: a clear error, and nothing saved before is lost."""

from __future__ import annotations

import errno
import gc
import io
import os
import sqlite3
import subprocess
import weakref
from pathlib import Path

import pytest
import torch

from imgcls_gui import cli
from imgcls_gui.engine import events as ev
from imgcls_gui.engine.models import build as models
from imgcls_gui.engine.checkpoint import load_checkpoint
from imgcls_gui.engine.errors import CheckpointError, ImgclsError, NotEnoughMemoryError
from imgcls_gui.engine.project.store import (PROJECT_FILE, Project, ProjectLockedError, ProjectNotWritableError,
                                       ProjectReadOnlyError)
from imgcls_gui.engine.data.samples import LabeledDataset, Sample
from imgcls_gui.engine.training.trainer import Trainer

from ..engine.tiny_data import make_class_folders
from .helpers import permissions_enforced, tiny_config


@pytest.fixture
def enforced():
    with permissions_enforced() as ok:
        if not ok:
            pytest.skip("cannot make file permissions bind as root here")
        yield


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> Path:
    return make_class_folders(tmp_path_factory.mktemp("resources") / "data", per_class=6, size=32)


def _labeled_project(folder: Path, count: int = 30) -> dict[int, str]:
    samples = [Sample(folder.parent / "images" / f"{i}.jpg") for i in range(count)]
    with Project.create(folder) as project:
        project.import_dataset(LabeledDataset(folder.parent, "files", samples, ["cat", "dog"], "multiclass"))
        labels = {record.id: ("cat", "dog")[record.id % 2] for record in project.images()}
        for image_id, name in labels.items():
            project.set_labels([image_id], name)
    return labels


def _assert_intact(folder: Path, labels: dict[int, str]) -> None:
    conn = sqlite3.connect(folder / PROJECT_FILE)
    assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    conn.close()
    with Project.open(folder, read_only=True) as project:
        assert {i: names[0] for i, names in project.labels_of(labels).items()} == labels


# -- read-only folders ---------------------------------------------------------------------------------


@pytest.mark.parametrize("files_too", [False, True], ids=["folder-read-only", "folder-and-files-read-only"])
def test_read_only_project_is_offered_read_only_and_stays_intact(tmp_path, files_too):
    folder = tmp_path / "proj"
    labels = _labeled_project(folder)
    read_only = [folder, *(folder.iterdir() if files_too else ())]
    for path in read_only:
        path.chmod(0o555 if path.is_dir() else 0o444)
    try:
        with permissions_enforced() as ok:
            if not ok:
                pytest.skip("cannot make file permissions bind as root here")
            with pytest.raises(ProjectNotWritableError) as info:
                Project.open(folder)
            assert isinstance(info.value, ProjectLockedError)  # the app answers it by offering read-only
            assert str(info.value).startswith(f"{folder}: cannot open the project for writing")
            assert "Open it read-only" in str(info.value)
            with Project.open(folder, read_only=True) as project:
                assert {i: n[0] for i, n in project.labels_of(labels).items()} == labels
                with pytest.raises(ProjectReadOnlyError):
                    project.set_labels([1], "dog")
    finally:
        for path in read_only:
            path.chmod(0o755 if path.is_dir() else 0o644)
    _assert_intact(folder, labels)


def test_training_into_a_read_only_folder_is_one_clear_error(data, tmp_path, enforced, capsys):
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o555)
    try:
        with pytest.raises(CheckpointError, match=f"^{locked / 'run'}: cannot create the run folder"):
            Trainer(tiny_config(data), locked / "run").fit()
        with pytest.raises(ImgclsError, match=r"could not write \(Permission denied\); the previous file, if any, is unchanged"):
            Trainer(tiny_config(data), locked).fit()  # the folder exists, its files cannot be made
        assert cli.main(["train", str(data), "--out", str(locked / "run"), "--weights", "none",
                         "--model", "mobilenet_v3_small", "--device", "cpu", "--quiet"]) == 2
        err = capsys.readouterr().err.strip()
        assert err.startswith("imgcls: error: ") and "\n" not in err and "cannot create the run folder" in err
    finally:
        locked.chmod(0o755)
    assert list(locked.iterdir()) == []


def test_read_only_data_folder_trains(data, tmp_path, enforced):
    folders = [data, *[p for p in data.rglob("*") if p.is_dir()]]
    for folder in folders:
        folder.chmod(0o555)
    try:
        result = Trainer(tiny_config(data), tmp_path / "run").fit()
    finally:
        for folder in folders:
            folder.chmod(0o755)
    assert result.epochs_run == 1


# -- a full disk ---------------------------------------------------------------------------------------


class _FullDisk:
    """Simulates ENOSPC for files opened through ``os.fdopen`` (how atomic writes write): half of the
    bytes land in the temp file, then the write fails, as a filling disk does."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.armed = False
        self.failures = 0
        real_fdopen = os.fdopen

        def fdopen(fd, mode="r", *args, **kwargs):
            handle = real_fdopen(fd, mode, *args, **kwargs)
            return _FillingFile(handle, self) if self.armed and "w" in mode else handle

        monkeypatch.setattr(os, "fdopen", fdopen)


class _FillingFile(io.RawIOBase):
    def __init__(self, handle, disk: _FullDisk) -> None:
        self.handle, self.disk = handle, disk

    def write(self, data) -> int:
        self.handle.write(bytes(data)[: len(data) // 2])
        self.handle.flush()
        self.disk.failures += 1
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    def fileno(self) -> int:
        return self.handle.fileno()

    def __exit__(self, *exc) -> None:
        self.handle.close()


class _ArmAtEpoch:
    def __init__(self, disk: _FullDisk, epoch: int) -> None:
        self.disk, self.epoch = disk, epoch

    def on_event(self, event) -> None:
        if isinstance(event, ev.EpochStart) and event.epoch == self.epoch:
            self.disk.armed = True


def test_disk_full_while_saving_a_checkpoint_keeps_the_last_good_one(data, tmp_path, monkeypatch):
    disk = _FullDisk(monkeypatch)
    run = tmp_path / "run"
    trainer = Trainer(tiny_config(data, epochs=2), run, callbacks=[_ArmAtEpoch(disk, 1)])
    with pytest.raises(ImgclsError) as info:
        trainer.fit()
    assert disk.failures == 1
    assert str(info.value) == (f"{run / 'last.pt'}: could not write (No space left on device); the previous file, "
                               "if any, is unchanged. Free disk space or choose another folder.")
    assert sorted(p.name for p in run.iterdir()) == ["best.pt", "config.yaml", "last.pt", "metrics.json", "split.json"]
    assert load_checkpoint(run / "last.pt")["epoch"] == 1  # epoch 0's file, whole
    disk.armed = False  # space freed: the run continues from there
    resumed = Trainer(tiny_config(data), run).fit(resume=True)
    assert resumed.epochs_run == 2 and load_checkpoint(run / "last.pt")["epoch"] == 2


def test_disk_full_in_the_label_store_keeps_every_saved_label(tmp_path):
    folder = tmp_path / "proj"
    labels = _labeled_project(folder)
    with Project.open(folder) as project:
        # SQLite's own way to act out a full disk: the file may not grow past its current size.
        pages = project._db.connection.execute("PRAGMA page_count").fetchone()[0]
        project._db.connection.execute(f"PRAGMA max_page_count = {pages}")
        more = [Sample(tmp_path / "more" / f"{i}-{'x' * 150}.jpg", ("cat",)) for i in range(3000)]
        with pytest.raises(ImgclsError) as info:
            project.import_dataset(LabeledDataset(tmp_path, "files", more, ["cat"], "multiclass"))
        assert str(info.value).startswith(f"{folder / PROJECT_FILE}: this change could not be saved (database or disk is full)")
        assert "everything saved before it is intact" in str(info.value)
        assert project.image_count() == len(labels)  # the failed import left nothing half-done
        project.set_labels([1], "dog")  # a change that fits still works, in the same session
        labels[1] = "dog"
    _assert_intact(folder, labels)


@pytest.fixture
def tiny_disk(tmp_path):
    """A real 1 MB filesystem (tmpfs), where the machine lets us mount one; skipped elsewhere."""
    mount = tmp_path / "tiny"
    mount.mkdir()
    if os.geteuid() != 0 or subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(mount)],
                                           capture_output=True).returncode != 0:
        pytest.skip("cannot mount a tiny tmpfs here (needs root)")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "--lazy", str(mount)], check=True)  # lazy: a failed test may leave a file open


def test_a_really_full_disk_keeps_labels_and_checkpoints(data, tiny_disk):
    labels = _labeled_project(tiny_disk / "proj", count=20)
    with Project.open(tiny_disk / "proj") as project:
        stat = os.statvfs(tiny_disk)
        (tiny_disk / "filler").write_bytes(b"\0" * (stat.f_bavail * stat.f_frsize))
        more = [Sample(tiny_disk / f"{i}-{'y' * 200}.jpg", ("cat",)) for i in range(2000)]
        with pytest.raises(ImgclsError, match="could not be saved .*everything saved before it is intact"):
            project.import_dataset(LabeledDataset(tiny_disk, "files", more, ["cat"], "multiclass"))
    _assert_intact(tiny_disk / "proj", labels)
    with pytest.raises(ImgclsError, match=r"could not write \(No space left on device\)"):
        Trainer(tiny_config(data), tiny_disk / "run").fit()
    assert not [p for p in (tiny_disk / "run").iterdir() if p.name.endswith(".tmp")]


# -- running out of GPU memory (simulated on the CPU) ----------------------------------------------------


def _oom_on_forward(monkeypatch, make_error, *, when: str = "train") -> list:
    """Every model build_model makes raises ``make_error()`` on its first forward pass of the given kind.

    A new exception each time, as torch raises: one kept in a global would keep its traceback's frames
    (and with them the model) alive."""
    built: list = []
    real = models.build_model

    def build(*args, **kwargs):
        model = real(*args, **kwargs)
        built.append(weakref.ref(model))

        def hook(module, inputs):
            if when == "any" or module.training == (when == "train"):
                raise make_error()

        model.register_forward_pre_hook(hook)
        return model

    monkeypatch.setattr(models, "build_model", build)
    return built


def OOM() -> BaseException:
    return torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB (GPU 0; 7.79 GiB total capacity)")


def MPS_OOM() -> BaseException:
    return RuntimeError("MPS backend out of memory (MPS allocated: 8.00 GB)")


@pytest.mark.parametrize(("make_error", "when", "freeze"), [
    (OOM, "train", "none"),
    (OOM, "eval", "none"),
    (OOM, "any", "head"),  # the frozen backbone runs once to fill the feature cache
    (MPS_OOM, "train", "none"),
], ids=["training-step", "validation", "feature-cache", "runtime-error"])
def test_out_of_memory_suggests_half_the_batch_size_and_frees_the_model(data, tmp_path, monkeypatch, make_error, when,
                                                                          freeze):
    built = _oom_on_forward(monkeypatch, make_error, when=when)
    config = tiny_config(data, batch_size=8)
    config = config.replace(freeze=config.freeze.__class__(mode=freeze))
    with pytest.raises(NotEnoughMemoryError) as info:
        Trainer(config, tmp_path / "run").fit()
    message = str(info.value)
    assert message.startswith("out of memory on cpu with batch size 8 (") and "--batch-size 4" in message
    assert info.value.suggested_batch_size == 4 and info.value.__context__ is None
    gc.collect()
    assert built and built[0]() is None  # the failed run's model is not kept alive for the retry


def test_out_of_memory_at_batch_size_one_suggests_other_fixes(data, tmp_path, monkeypatch, capsys):
    _oom_on_forward(monkeypatch, OOM)
    code = cli.main(["train", str(data), "--out", str(tmp_path / "run"), "--model", "mobilenet_v3_small",
                     "--weights", "none", "--image-size", "32", "--freeze", "none", "--batch-size", "1",
                     "--workers", "0", "--device", "cpu", "--epochs", "1", "--quiet"])
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert code == 2 and err.startswith("imgcls: error: out of memory on cpu with batch size 1")
    assert "Even one image does not fit" in err


def test_other_runtime_errors_are_not_called_out_of_memory(data, tmp_path, monkeypatch):
    _oom_on_forward(monkeypatch, lambda: RuntimeError("mat1 and mat2 shapes cannot be multiplied (8x576 and 1024x2)"))
    with pytest.raises(RuntimeError, match="shapes cannot be multiplied"):
        Trainer(tiny_config(data), tmp_path / "run").fit()
