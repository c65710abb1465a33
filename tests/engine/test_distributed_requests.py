"""The app's requests to a distributed run (distributed.RequestFile / AgreedRequests) and the fake-GPU test hook."""

from __future__ import annotations

import threading

import pytest

from imgcls_gui.engine.device import cuda_device_count, fake_cuda_devices, resolve_device
from imgcls_gui.engine.errors import ConfigError, StopRequested
from imgcls_gui.engine.training.distributed import AgreedRequests, RequestFile, read_request


def test_the_fake_gpu_count_is_honoured_only_under_the_test_hooks(monkeypatch):
    monkeypatch.setenv("IMGCLS_TEST_FAKE_CUDA_DEVICES", "3")
    monkeypatch.setenv("IMGCLS_TEST_HOOKS", "1")
    assert fake_cuda_devices() == 3 and cuda_device_count() == 3
    monkeypatch.setenv("IMGCLS_TEST_HOOKS", "0")
    assert fake_cuda_devices() is None


def test_all_gpus_without_cuda_is_a_clear_error():
    import torch

    if torch.cuda.is_available():
        assert resolve_device("cuda:all").type == "cuda"  # one process: its first GPU
        return
    with pytest.raises(ConfigError, match="all GPUs"):
        resolve_device("cuda:all")


def test_the_request_file_holds_the_last_request(tmp_path):
    path = tmp_path / "requests"
    requests = RequestFile(path)
    assert read_request(str(path)) == "run"
    requests.request_pause()
    assert read_request(str(path)) == "pause"
    requests.request_stop()
    assert read_request(str(path)) == "stop"
    path.write_text("garbage")
    assert read_request(str(path)) == "run" and read_request(str(tmp_path / "none")) == "run"


@pytest.fixture
def one_rank_world(tmp_path):
    """A process group of this process alone (Gloo), torn down afterwards."""
    import torch.distributed as dist

    dist.init_process_group("gloo", init_method=f"file://{tmp_path / 'store'}", rank=0, world_size=1)
    yield
    dist.destroy_process_group()


@pytest.mark.timeout(60)
def test_agreed_requests_train_on_wait_out_a_pause_and_stop(tmp_path, one_rank_world):
    requests = RequestFile(tmp_path / "requests")
    agreed = AgreedRequests(tmp_path / "requests")
    said: list[str] = []
    agreed.check(said.append)
    assert said == []  # "run": the batch goes ahead
    requests.request_pause()
    threading.Timer(0.3, requests.request_resume).start()
    agreed.check(said.append)  # parked until the file says run again
    assert said == ["paused", "resumed"]
    requests.request_pause()
    threading.Timer(0.3, requests.request_stop).start()
    with pytest.raises(StopRequested):
        agreed.check(said.append)  # a stop while paused ends the run
    assert said == ["paused", "resumed", "paused"]
