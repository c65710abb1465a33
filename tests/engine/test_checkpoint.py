"""The checkpoint envelope: a format marker and version on every file; old files load, newer ones are refused."""

from __future__ import annotations

import pytest
import torch

from imgcls_gui.engine.checkpoint import (
    CHECKPOINT_FORMAT,
    CHECKPOINT_VERSION,
    CheckpointHeader,
    load_checkpoint,
    save_checkpoint,
)
from imgcls_gui.engine.errors import CheckpointError

MINIMAL = {
    "model": {"w": torch.ones(2)},
    "classes": ["ants", "bees"],
    "task": "multiclass",
    "preprocessing": {"image_size": 32},
    "config": {"model": {"name": "mobilenet_v3_small"}},
    "thresholds": None,
}


def test_a_saved_checkpoint_carries_the_format_and_version(tmp_path):
    save_checkpoint({**MINIMAL, "source": "/somewhere/else.pt"}, tmp_path / "best.pt")
    raw = torch.load(tmp_path / "best.pt", weights_only=True)
    assert raw["format"] == CHECKPOINT_FORMAT and raw["version"] == CHECKPOINT_VERSION and "source" not in raw
    header = CheckpointHeader.of(load_checkpoint(tmp_path))
    assert header.classes == ("ants", "bees") and header.task == "multiclass" and header.thresholds is None
    assert header.source == str(tmp_path / "best.pt")


def test_a_checkpoint_from_before_the_version_key_still_loads(tmp_path):
    torch.save({"format": CHECKPOINT_FORMAT, **MINIMAL, "thresholds": [0.25, 0.5]}, tmp_path / "old.pt")
    ckpt = load_checkpoint(tmp_path / "old.pt")
    assert torch.equal(ckpt["model"]["w"], torch.ones(2)) and CheckpointHeader.of(ckpt).thresholds == (0.25, 0.5)


def test_a_checkpoint_from_a_newer_imgcls_is_refused_with_the_fix(tmp_path):
    torch.save({"format": CHECKPOINT_FORMAT, "version": CHECKPOINT_VERSION + 1, **MINIMAL}, tmp_path / "new.pt")
    with pytest.raises(CheckpointError) as caught:
        load_checkpoint(tmp_path / "new.pt")
    message = str(caught.value)
    assert str(tmp_path / "new.pt") in message and "newer imgcls" in message and "update imgcls" in message
