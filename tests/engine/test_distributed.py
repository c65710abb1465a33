"""Data-parallel training (training/distributed.py): 2 CPU processes with Gloo on loopback, launched
through torch's elastic launcher the way `imgcls train --nproc-per-node 2` does."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

import pytest
import torch

from imgcls_gui.cli import main
from imgcls_gui.engine import DistributedRunError, Predictor, RunConfig, Trainer, launch_local
from imgcls_gui.engine.checkpoint import load_checkpoint
from imgcls_gui.engine.data.loading import EpochSampler, ShardedSampler
from imgcls_gui.engine.training.distributed import batch_layout

from .tiny_data import make_class_folders

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def one_thread_per_process(monkeypatch):
    """Processes started by the launcher find imgcls and use one thread each (2 CI cores)."""
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])))
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    monkeypatch.setenv("IMGCLS_DIST_TIMEOUT_S", "60")
    threads = torch.get_num_threads()
    yield
    torch.set_num_threads(threads)  # a test resumes in this process on one thread: later tests get theirs back


@pytest.mark.parametrize("world_size", [2, 3])
def test_shards_cover_each_epoch_key_once_for_validation_and_evenly_for_training(world_size):
    base = EpochSampler(10, seed=3, shuffle=True)
    base.set_epoch(2)
    keys = list(base)
    val = [ShardedSampler(EpochSampler(10, seed=3, shuffle=True), r, world_size, pad=False) for r in range(world_size)]
    train = [ShardedSampler(EpochSampler(10, seed=3, shuffle=True), r, world_size) for r in range(world_size)]
    for sampler in val + train:
        sampler.set_epoch(2)
    assert sorted(k for sampler in val for k in sampler) == sorted(keys)  # every key once, none added
    shards = [list(s) for s in train]
    assert len({len(shard) for shard in shards}) == 1 and len(shards[0]) == len(train[0])  # equal, as DDP needs
    assert set(k for shard in shards for k in shard) == set(keys)  # the same epoch a single process sees


def test_batch_layout_keeps_the_global_batch_when_the_process_count_changes():
    fresh = batch_layout(8, 4)
    assert (fresh.global_batch, fresh.micro_batch, fresh.accumulate, fresh.lr_scale) == (32, 8, 1, 4.0)
    fewer = batch_layout(8, 2, saved_global_batch=32)
    assert (fewer.micro_batch * fewer.accumulate * 2, fewer.micro_batch <= 8, fewer.lr_scale) == (32, True, 4.0)
    one = batch_layout(8, 1, saved_global_batch=32)
    assert (one.micro_batch, one.accumulate) == (8, 4)
    assert batch_layout(8, 1) == batch_layout(8, 1, saved_global_batch=8)  # a plain run is unchanged
    with pytest.raises(Exception, match="divides 32"):
        batch_layout(8, 3, saved_global_batch=32)


@pytest.mark.timeout(240)
def test_two_process_run_scores_each_validation_image_once_and_resumes_in_one_process(
        tmp_path, one_thread_per_process, monkeypatch):
    data = make_class_folders(tmp_path / "data", per_class=9, size=32)
    run = tmp_path / "run"
    scratch = tmp_path / "temp"  # the temp folder of this process and of the launched ranks
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    monkeypatch.setenv("TMPDIR", str(scratch))
    code = main(["train", str(data), "--out", str(run), "--model", "mobilenet_v3_small", "--weights", "none",
                 "--image-size", "32", "--epochs", "2", "--batch-size", "3", "--device", "cpu", "--workers", "0",
                 "--freeze", "none", "--val-fraction", "0.3", "--seed", "5", "--quiet", "--nproc-per-node", "2"])
    assert code == 0
    metrics = json.loads((run / "metrics.json").read_text())
    val = json.loads((run / "split.json").read_text())["val"]
    assert len(val) % 2 == 1  # an odd count: padding would have scored one image twice
    assert metrics["val_images"] == len(val)
    assert [h["epoch"] for h in metrics["history"]] == [0, 1]
    left = [p.name for p in scratch.iterdir() if not p.name.startswith("torchinductor_")]  # torch's compile cache
    assert not left  # the launcher's and the ranks' temp folders went with the run

    ckpt = load_checkpoint(run / "last.pt")
    assert (ckpt["global_batch"], ckpt["world_size"]) == (6, 2)
    images = sorted(data.glob("*/*.png"))[:3]
    predictions = Predictor.load(run / "best.pt").predict(images)  # the unwrapped model, in this one process
    assert [Path(p.path) for p in predictions] == images and all(p.label in ("red", "blue") for p in predictions)

    torch.set_num_threads(1)
    result = Trainer(RunConfig(), run).fit(resume=True, epochs=3)  # one process now: 2 passes of 3 per step
    assert result.epochs_run == 3 and not result.stopped
    resumed = load_checkpoint(run / "last.pt")
    assert (resumed["global_batch"], resumed["world_size"], resumed["epoch"]) == (6, 1, 3)
    steps_per_epoch = ckpt["step"] // 2
    assert resumed["step"] - ckpt["step"] == steps_per_epoch  # same global batch, so the same steps per epoch


def test_the_killed_rank_is_named_not_the_peer_whose_collective_broke_first(tmp_path):
    from types import SimpleNamespace

    from imgcls_gui.engine.training.distributed import root_failure

    recorded = tmp_path / "error.json"  # a rank's Python error, written by torch's @record
    recorded.write_text("{}")
    # The survivor recorded Gloo's 'Connection reset by peer' before the launcher saw its peer killed, then was
    # stopped with SIGTERM: earlier in time, but not the cause.
    peer = SimpleNamespace(exitcode=-15, timestamp=100, error_file=str(recorded))
    killed = SimpleNamespace(exitcode=-9, timestamp=101, error_file="")
    assert root_failure({0: peer, 1: killed}) == (1, killed)
    stopped = SimpleNamespace(exitcode=-15, timestamp=99, error_file="")  # the launcher's own stop signal
    assert root_failure({0: stopped, 1: killed}) == (1, killed)
    raised = SimpleNamespace(exitcode=1, timestamp=100, error_file=str(recorded))
    assert root_failure({0: stopped, 1: raised}) == (1, raised)  # its own error, not the launcher's stop after it
    late = SimpleNamespace(exitcode=1, timestamp=105, error_file=str(recorded))
    assert root_failure({2: late, 0: peer}) == (0, peer)  # both recorded errors: the earliest, as torch picks


@pytest.mark.timeout(120)
@pytest.mark.parametrize("how, cause", [("kill", "killed by SIGKILL"), ("error", "no dataset given")])
def test_a_failing_process_stops_the_run_with_its_rank_and_cause(tmp_path, one_thread_per_process, how, cause):
    with pytest.raises(DistributedRunError, match=rf"process 1 of 2 failed: .*{cause}"):
        launch_local(2, "tests.engine.dist_worker", [how, str(tmp_path / "run")], join_timeout_s=60)


@pytest.mark.timeout(60)
@pytest.mark.parametrize("rank, what", [(0, "port in use"), (1, "nobody listening")])
def test_a_port_in_use_or_an_unreachable_rendezvous_fails_with_one_clear_error(monkeypatch, rank, what):
    import socket

    from imgcls_gui.engine.training.distributed import join_world

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
        if what == "port in use":
            sock.listen()  # rank 0 must host the rendezvous store on this port
        else:
            sock.close()  # rank 1 waits for a store that never comes; bounded by the collective timeout
        env = {"RANK": str(rank), "WORLD_SIZE": "2", "LOCAL_RANK": str(rank), "MASTER_ADDR": "127.0.0.1",
               "MASTER_PORT": str(port), "IMGCLS_DIST_TIMEOUT_S": "1"}
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        with pytest.raises(DistributedRunError, match=rf"rank {rank}: cannot join the other processes at "
                                                      rf"127\.0\.0\.1:{port} .*--rdzv-endpoint"):
            join_world("cpu")


@pytest.mark.timeout(240)
def test_head_only_run_shares_feature_extraction_and_a_rank_killed_mid_epoch_resumes_in_one_process(
        tmp_path, one_thread_per_process, monkeypatch, capsys):
    import numpy as np

    from imgcls_gui.engine import events as ev
    from imgcls_gui.engine.data.images import file_sha1

    from .test_training import Recorder

    data = make_class_folders(tmp_path / "data", per_class=9, size=32)
    run = tmp_path / "run"
    monkeypatch.setenv("IMGCLS_CACHE_DIR", str(tmp_path / "shared"))
    monkeypatch.setenv("IMGCLS_TEST_HOOKS", "1")
    monkeypatch.setenv("IMGCLS_TEST_RANK_SIGNAL", "1:SIGKILL:1:1")  # rank 1 dies at epoch 1's second batch
    code = main(["train", str(data), "--out", str(run), "--model", "resnet18", "--weights", "none",
                 "--image-size", "32", "--epochs", "2", "--batch-size", "3", "--device", "cpu", "--workers", "0",
                 "--freeze", "head", "--val-fraction", "0.3", "--seed", "5", "--quiet", "--nproc-per-node", "2"])
    assert code != 0 and "process 1 of 2 failed: killed by SIGKILL" in capsys.readouterr().err
    ckpt = load_checkpoint(run / "last.pt")  # epoch 0's, whole
    assert (ckpt["epoch"], ckpt["world_size"]) == (1, 2)

    # The two ranks each extracted a share; the merged store holds every image exactly once.
    [index] = (tmp_path / "shared" / "features").glob("*.json")
    cached = json.loads(index.read_text())
    every = {file_sha1(p) for p in data.glob("*/*.png")}
    assert len(cached) == len(set(cached)) == len(every) and set(cached) == every

    monkeypatch.delenv("IMGCLS_TEST_RANK_SIGNAL")
    torch.set_num_threads(1)
    recorder = Recorder()
    result = Trainer(RunConfig(), run, callbacks=[recorder]).fit(resume=True)  # one process now
    assert result.epochs_run == 2 and not result.stopped and load_checkpoint(run / "last.pt")["epoch"] == 2
    ready = [e.message for e in recorder.of(ev.LogLine) if "features ready" in e.message]
    assert ready and "(0 computed" in ready[0]  # the distributed run's cache, not extracted again

    # The same features as one process extracts by itself: a run on them scores as a run on its own.
    config = RunConfig.from_file(run / "config.yaml")
    reused = Trainer(config, tmp_path / "reused").fit()
    monkeypatch.setenv("IMGCLS_CACHE_DIR", str(tmp_path / "own"))
    own = Trainer(config, tmp_path / "own_run").fit()
    [own_index] = (tmp_path / "own" / "features").glob("*.json")
    own_rows = dict(zip(json.loads(own_index.read_text()), np.load(own_index.with_suffix(".npy"))))
    shared_rows = dict(zip(cached, np.load(index.with_suffix(".npy"))))
    assert all(np.allclose(shared_rows[h], own_rows[h], atol=1e-2) for h in every)
    for a, b in zip(reused.history, own.history):
        assert a["val_loss"] == pytest.approx(b["val_loss"], abs=1e-3) and a["accuracy"] == b["accuracy"]
