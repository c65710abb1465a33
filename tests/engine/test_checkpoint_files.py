"""Checkpoint files (engine/checkpoint.py) on tiny states: atomic writes, what a reader refuses, the one-line reason.

Written to kill the mutants tools/mutation.sh found surviving; no model is built, so each test takes
milliseconds.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch

from imgcls_gui.engine import checkpoint
from imgcls_gui.engine.checkpoint import (
    CHECKPOINT_FORMAT,
    CHECKPOINT_VERSION,
    REQUIRED_KEYS,
    CheckpointHeader,
    atomic_write_bytes,
    atomic_write_text,
    load_checkpoint,
    load_error_reason,
    save_checkpoint,
)
from imgcls_gui.engine.errors import CheckpointError, ImgclsError


def _state(**extra) -> dict:
    return {"model": {"w": torch.arange(3.0)}, "classes": ["wasp", "ant"], "task": "multiclass",
            "preprocessing": {"image_size": 32}, "config": {"seed": 1}, "epoch": 2, **extra}


def _leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.endswith(".tmp"))


def test_save_then_load_gives_the_state_back_with_its_format_and_source(tmp_path):
    path = tmp_path / "last.pt"
    save_checkpoint(_state(source="/elsewhere/old.pt"), path)
    raw = torch.load(path, weights_only=True)
    assert raw["format"] == CHECKPOINT_FORMAT and raw["version"] == 1
    assert "source" not in raw  # a path of the machine that wrote it is never stored
    state = load_checkpoint(path)
    assert state["source"] == str(path)
    assert state["classes"] == ["wasp", "ant"] and state["epoch"] == 2
    assert torch.equal(state["model"]["w"], torch.arange(3.0))
    assert _leftovers(tmp_path) == []


def test_a_run_folder_is_read_through_best_then_last(tmp_path):
    save_checkpoint(_state(epoch=5), tmp_path / "last.pt")
    assert load_checkpoint(tmp_path)["source"] == str(tmp_path / "last.pt")
    save_checkpoint(_state(epoch=3), tmp_path / "best.pt")
    state = load_checkpoint(tmp_path)
    assert (state["epoch"], state["source"]) == (3, str(tmp_path / "best.pt"))


def test_missing_files_and_folders_are_checkpoint_errors(tmp_path):
    with pytest.raises(CheckpointError, match="no best.pt or last.pt in this folder"):
        load_checkpoint(tmp_path)
    with pytest.raises(CheckpointError, match="checkpoint file not found"):
        load_checkpoint(tmp_path / "gone.pt")


def test_a_file_torch_cannot_read_is_refused_with_the_reason(tmp_path):
    path = tmp_path / "junk.pt"
    path.write_bytes(b"this is not a zip file at all")
    with pytest.raises(CheckpointError, match="not a readable imgcls checkpoint") as caught:
        load_checkpoint(path)
    assert str(path) in str(caught.value)


@pytest.mark.parametrize("payload", [[1, 2], {"model": {}}, {"format": "other", **{k: 1 for k in REQUIRED_KEYS}}])
def test_a_torch_file_that_is_not_ours_is_refused(tmp_path, payload):
    path = tmp_path / "other.pt"
    torch.save(payload, path)
    with pytest.raises(CheckpointError, match="not an imgcls checkpoint \\(no 'format' marker\\)"):
        load_checkpoint(path)


def test_every_required_key_is_checked_and_the_missing_ones_named(tmp_path):
    path = tmp_path / "partial.pt"
    for key in REQUIRED_KEYS:
        state = {k: v for k, v in _state().items() if k != key}
        save_checkpoint(state, path)
        with pytest.raises(CheckpointError, match=f"it lacks {key}\\)"):
            load_checkpoint(path)
    save_checkpoint({"format": CHECKPOINT_FORMAT, "epoch": 1}, path)
    with pytest.raises(CheckpointError, match="lacks model, classes, task, preprocessing, config\\)"):
        load_checkpoint(path)


def test_atomic_write_replaces_the_whole_file_and_leaves_no_temp(tmp_path):
    path = tmp_path / "notes.txt"
    atomic_write_text(path, "first")
    atomic_write_text(path, "déjà")
    assert path.read_bytes() == "déjà".encode("utf-8")
    atomic_write_bytes(path, b"\x00\x01")
    assert path.read_bytes() == b"\x00\x01"
    assert _leftovers(tmp_path) == []


def test_a_failed_write_keeps_the_old_file_removes_the_temp_and_says_so(tmp_path, monkeypatch):
    path = tmp_path / "last.pt"
    path.write_bytes(b"old")

    def disk_full(*_):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(checkpoint.os, "replace", disk_full)
    with pytest.raises(ImgclsError, match="could not write \\(No space left on device\\); the previous file"):
        atomic_write_bytes(path, b"new")
    assert path.read_bytes() == b"old"
    assert _leftovers(tmp_path) == []


def test_an_interrupted_write_removes_the_temp_and_lets_the_interrupt_through(tmp_path, monkeypatch):
    def interrupted(_fd):
        raise KeyboardInterrupt

    monkeypatch.setattr(checkpoint.os, "fsync", interrupted)
    with pytest.raises(KeyboardInterrupt):
        atomic_write_bytes(tmp_path / "last.pt", b"new")
    assert list(tmp_path.iterdir()) == []


def test_a_missing_folder_reads_like_any_write_failure(tmp_path):
    with pytest.raises(ImgclsError, match="could not write"):
        atomic_write_bytes(tmp_path / "no" / "such" / "last.pt", b"x")


def test_the_temp_file_is_hidden_beside_the_target(tmp_path, monkeypatch):
    seen = []
    real_replace = os.replace

    def spy(src, dst):
        seen.append(Path(src))
        real_replace(src, dst)

    monkeypatch.setattr(checkpoint.os, "replace", spy)
    atomic_write_bytes(tmp_path / "best.pt", b"x")
    (tmp,) = seen
    # Same folder: rename is atomic only within one file system. Dot-named: file browsers hide it.
    assert tmp.parent == tmp_path and tmp.name.startswith(".best.pt.") and tmp.name.endswith(".tmp")


def test_load_error_reason_keeps_only_the_first_sentence_of_what_is_wrong():
    torch_text = ("\x1b[1mWeights only load failed.\x1b[0m This file can still be loaded. "
                  "Please use `torch.serialization.add_safe_globals` to allowlist.\n"
                  "WeightsUnpickler error: Unsupported global: GLOBAL os.system was not an allowed global. "
                  "More text follows.\nSecond line.")
    assert load_error_reason(RuntimeError(torch_text)) == "Unsupported global: GLOBAL os.system was not an allowed global"
    assert load_error_reason(RuntimeError("bad zip. Please use `torch.serialization` wisely")) == "bad zip"
    assert load_error_reason(RuntimeError("\n\n  PytorchStreamReader failed reading zip archive  \nmore")) == (
        "PytorchStreamReader failed reading zip archive")
    assert load_error_reason(ValueError("")) == "ValueError"
    assert len(load_error_reason(RuntimeError("x" * 500))) == 200


def test_colour_codes_are_removed_from_the_reason_not_replaced():
    assert load_error_reason(RuntimeError("\x1b[31mbad\x1b[0m zip archive")) == "bad zip archive"


def test_the_header_is_what_readers_take_besides_the_weights(tmp_path):
    save_checkpoint(_state(thresholds=[0.25, 0.5]), tmp_path / "best.pt")
    header = CheckpointHeader.of(load_checkpoint(tmp_path))
    assert header.classes == ("wasp", "ant") and header.task == "multiclass" and header.thresholds == (0.25, 0.5)
    assert header.source == str(tmp_path / "best.pt") and header.config == {"seed": 1}
    assert CheckpointHeader.of(_state()).thresholds is None


def test_a_checkpoint_from_before_the_version_key_still_loads(tmp_path):
    torch.save({"format": CHECKPOINT_FORMAT, **_state()}, tmp_path / "old.pt")
    assert torch.equal(load_checkpoint(tmp_path / "old.pt")["model"]["w"], torch.arange(3.0))


def test_a_checkpoint_from_a_newer_imgcls_is_refused_with_the_fix(tmp_path):
    torch.save({"format": CHECKPOINT_FORMAT, "version": CHECKPOINT_VERSION + 1, **_state()}, tmp_path / "new.pt")
    with pytest.raises(CheckpointError) as caught:
        load_checkpoint(tmp_path / "new.pt")
    message = str(caught.value)
    assert str(tmp_path / "new.pt") in message and "newer imgcls" in message and "update imgcls" in message


def test_a_torchscript_file_given_as_a_checkpoint_is_refused_as_a_program(tmp_path):
    path = tmp_path / "model.pt"
    torch.jit.save(torch.jit.script(torch.nn.Linear(2, 1)), str(path))
    with pytest.raises(ImgclsError, match="this is a TorchScript file, which is a program, not an imgcls checkpoint;"):
        load_checkpoint(path)


def test_the_header_carries_the_preprocessing_as_a_plain_dict(tmp_path):
    save_checkpoint(_state(), tmp_path / "best.pt")
    header = CheckpointHeader.of(load_checkpoint(tmp_path))
    assert header.preprocessing == {"image_size": 32} and header.task == "multiclass"


@pytest.mark.skipif(os.name == "nt", reason="POSIX permission bits")
def test_a_new_checkpoint_gets_the_users_umask_not_mkstemps_private_mode(tmp_path):
    old = os.umask(0o022)
    try:
        atomic_write_bytes(tmp_path / "best.pt", b"x")
    finally:
        os.umask(old)
    assert (tmp_path / "best.pt").stat().st_mode & 0o777 == 0o644


class _Planted:
    """A class a checkpoint may not name: unpickling it would run this module's code."""


def test_a_checkpoint_naming_a_class_is_refused_even_when_complete(tmp_path):
    path = tmp_path / "planted.pt"
    torch.save({"format": CHECKPOINT_FORMAT, **_state(), "extra": _Planted()}, path)
    with pytest.raises(CheckpointError, match="not a readable imgcls checkpoint \\(.*_Planted.*\\)") as caught:
        load_checkpoint(path)
    assert "(None)" not in str(caught.value)


def test_a_header_of_a_dict_never_read_from_a_file_names_it_checkpoint():
    assert CheckpointHeader.of(_state()).source == "checkpoint"
