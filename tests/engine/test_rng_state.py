"""RNG seeding and capture (training/state.py): a restored state continues every generator exactly, after a checkpoint round trip."""

from __future__ import annotations

import io
import random

import numpy as np
import pytest
import torch

from imgcls_gui.engine.training.state import capture_rng, restore_rng, seed_everything


def _draws() -> tuple:
    # Gaussian draws first: Python and numpy cache the second of each pair, so a lost cache shows here.
    return (random.gauss(0, 1), random.random(), float(np.random.normal()), float(np.random.rand()),
            torch.rand(3).tolist())


def test_restore_continues_every_generator_where_capture_left_it():
    seed_everything(123)
    random.gauss(0, 1)
    np.random.normal()  # leave a cached Gaussian in both, the case resume gets wrong most easily
    state = capture_rng()
    expected = _draws()
    _draws()
    restore_rng(state)
    assert _draws() == expected


def test_a_captured_state_survives_a_weights_only_checkpoint():
    seed_everything(7)
    np.random.normal()
    buffer = io.BytesIO()
    torch.save({"rng": capture_rng()}, buffer)
    expected = _draws()
    buffer.seek(0)
    restore_rng(torch.load(buffer, weights_only=True)["rng"])
    assert _draws() == expected


def test_seed_everything_seeds_all_three_generators():
    seed_everything(5)
    first = _draws()
    seed_everything(5)
    assert _draws() == first
    seed_everything(6)
    assert _draws() != first
    random.seed(0)
    np.random.seed(0)
    torch.manual_seed(0)
    seed_everything(5)
    assert random.random() == random.Random(5).random()
    assert float(np.random.rand()) == float(np.random.RandomState(5).rand())
    assert torch.rand(1).item() == torch.rand(1, generator=torch.Generator().manual_seed(5)).item()


def test_seeds_beyond_numpys_range_wrap_instead_of_failing():
    seed_everything(2**32 + 5)
    assert float(np.random.rand()) == float(np.random.RandomState(5).rand())
    assert torch.initial_seed() == 2**32 + 5


@pytest.fixture
def deterministic_off():
    yield
    torch.use_deterministic_algorithms(False)
    torch.backends.cudnn.benchmark = False


def test_deterministic_mode_is_switched_on_only_when_asked(deterministic_off):
    torch.backends.cudnn.benchmark = True
    seed_everything(1)
    assert not torch.are_deterministic_algorithms_enabled()
    assert torch.backends.cudnn.benchmark
    seed_everything(1, deterministic=True)
    assert torch.are_deterministic_algorithms_enabled()
    assert torch.is_deterministic_algorithms_warn_only_enabled()  # ops without a deterministic kernel warn, not fail
    assert not torch.backends.cudnn.benchmark


def test_the_gpu_generators_are_captured_and_restored_when_there_is_a_gpu(monkeypatch):
    # No GPU on the test machines: stand in for torch.cuda's three calls and check what reaches them.
    gpu_states = [torch.tensor([1, 2, 3], dtype=torch.uint8)]
    restored = []
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "get_rng_state_all", lambda: gpu_states)
    monkeypatch.setattr(torch.cuda, "set_rng_state_all", restored.append)
    state = capture_rng()
    assert state["cuda"] is gpu_states
    restore_rng(state)
    assert restored == [gpu_states]
    restore_rng({k: v for k, v in state.items() if k != "cuda"})  # a checkpoint from a CPU run
    assert restored == [gpu_states]


def test_numpy_gets_the_seed_itself_below_two_to_the_32():
    seed_everything(1000)
    assert float(np.random.rand()) == float(np.random.RandomState(1000).rand())
