"""Training on all GPUs from the app: the device choice offers "All N GPUs" only when the probe finds more than
one CUDA GPU, and such a run trains data-parallel in a child process yet shows like any other (issue 17).

CI has no GPU: the test hook IMGCLS_TEST_FAKE_CUDA_DEVICES=2 (honoured only under the test suite) makes the
probe report two, and the run then trains in two CPU processes with Gloo, launched as on GPUs."""

from __future__ import annotations

import json
import os
import signal
from pathlib import Path

import pytest
from PySide6.QtWidgets import QComboBox

from imgcls_gui.engine import events as ev
from imgcls_gui.engine import live_children
from imgcls_gui.engine.project.settings import RUN_CONFIG_KEY
from imgcls_gui.gui import errors as gui_errors
from imgcls_gui.gui.main_window import MainWindow

from .test_training_child import Events, process_gone
from .workflow_helpers import WAIT_MS, colour_project, fast_config

RUN_MS = 300_000  # two processes importing torch and training on a loaded 2-core machine


@pytest.fixture
def two_fake_gpus(monkeypatch: pytest.MonkeyPatch) -> None:
    """The probe sees two CUDA GPUs; an all-GPUs run trains in two CPU processes, one thread each."""
    monkeypatch.setenv("IMGCLS_TEST_FAKE_CUDA_DEVICES", "2")
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    monkeypatch.setenv("IMGCLS_DIST_TIMEOUT_S", "60")


def probe(main_win: MainWindow, qtbot) -> None:
    with qtbot.waitSignal(main_win.state.deviceChanged, timeout=WAIT_MS,
                          check_params_cb=lambda description: description != "detecting…"):
        main_win.device_probe.start()


def device_choices(main_win: MainWindow) -> list[str]:
    combo = main_win.panel("training").form.editor("train.device")
    assert isinstance(combo, QComboBox)
    return [combo.itemText(index) for index in range(combo.count())]


def choose_all_gpus(main_win: MainWindow, qtbot, tmp_path: Path, **train) -> None:
    """A project, the fast options, then "All 2 GPUs" chosen in the device list as a user would."""
    colour_project(qtbot, main_win, tmp_path, per_class=6)
    main_win.state.set_run_config(fast_config(**train))
    probe(main_win, qtbot)
    main_win.show_panel("training")
    combo = main_win.panel("training").form.editor("train.device")
    combo.setCurrentIndex(combo.findText("All 2 GPUs"))
    assert main_win.state.run_config.train.device == "cuda:all"


def start_and_find_ranks(main_win: MainWindow, qtbot, tmp_path: Path, **train):
    """An all-GPUs run started from the panel, at its first batch: the panel, its events, the child process
    running it and the child's two ranks."""
    choose_all_gpus(main_win, qtbot, tmp_path, **train)
    panel = main_win.panel("training")
    log = Events(panel.session)
    with qtbot.waitSignal(panel.session.started, timeout=WAIT_MS):
        panel.controls.start_button.click()
    qtbot.waitUntil(lambda: bool(log.of(ev.BatchEnd)), timeout=RUN_MS)
    (child,) = [c for c in live_children() if c.pid is not None and rank_processes(c.pid)]
    ranks = rank_processes(child.pid)
    assert len(ranks) == 2
    return panel, log, child, ranks


def rank_processes(parent: int) -> list[int]:
    """The ranks the child process ``parent`` launched (their command runs launch_job), from /proc."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            command = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        if ppid == parent and b"imgcls_gui.engine.training.launch_job" in command:
            found.append(int(entry.name))
    return found


@pytest.mark.parametrize("fake", [None, "1"])
def test_all_gpus_is_offered_only_when_the_probe_finds_more_than_one(main_win: MainWindow, qtbot, monkeypatch, fake):
    import torch

    if fake is None:
        monkeypatch.delenv("IMGCLS_TEST_FAKE_CUDA_DEVICES", raising=False)
        if torch.cuda.device_count() > 1:
            pytest.skip("this machine has several GPUs: the choice is rightly offered")
    else:
        monkeypatch.setenv("IMGCLS_TEST_FAKE_CUDA_DEVICES", fake)
    probe(main_win, qtbot)
    assert main_win.state.cuda_devices == (int(fake) if fake else torch.cuda.device_count())
    assert device_choices(main_win) == ["auto", "cpu", "cuda", "mps"]


@pytest.mark.timeout(600)
def test_a_run_on_all_gpus_shows_its_progress_and_finishes_with_metrics_and_the_choice_stays(
        main_win: MainWindow, qtbot, tmp_path, two_fake_gpus):
    choose_all_gpus(main_win, qtbot, tmp_path, epochs=2)
    assert device_choices(main_win)[-1] == "All 2 GPUs"
    panel = main_win.panel("training")
    log = Events(panel.session)
    with qtbot.waitSignal(panel.session.finished, timeout=RUN_MS) as finished:
        panel.controls.start_button.click()
    result = finished.args[0]
    assert not result.stopped and result.epochs_run == 2 and "accuracy" in result.final
    assert len(log.of(ev.FitStart)) == 1 and log.of(ev.BatchEnd) and len(log.of(ev.EpochEnd)) == 2
    assert "data-parallel: 2 processes" in panel.controls.log.toPlainText()
    counts = panel.charts.point_counts()
    assert counts["epoch"] == 2 and counts["batch"] >= 1 and panel.controls.run_bar.value() == 2
    metrics = json.loads((Path(result.run_dir) / "metrics.json").read_text())
    assert [h["epoch"] for h in metrics["history"]] == [0, 1]
    assert (Path(result.run_dir) / "last.pt").is_file() and panel.controls.start_button.isEnabled()

    main_win.actions["close_project"].trigger()  # the choice is a project option like the others
    assert main_win.projects.open_project(tmp_path / "proj")
    assert main_win.state.project.get_setting(RUN_CONFIG_KEY)["train"]["device"] == "cuda:all"
    assert panel.form.editor("train.device").currentText() == "All 2 GPUs"


@pytest.mark.timeout(600)
def test_stop_ends_every_rank_and_the_panel_can_start_again(main_win: MainWindow, qtbot, tmp_path, two_fake_gpus):
    panel, log, child, ranks = start_and_find_ranks(main_win, qtbot, tmp_path, epochs=6, batch_size=2)
    with qtbot.waitSignal(panel.session.finished, timeout=RUN_MS) as finished:
        panel.controls.stop_button.click()
    assert finished.args[0].stopped and log.of(ev.FitEnd)[-1].stopped and finished.args[0].epochs_run < 6
    qtbot.waitUntil(lambda: all(process_gone(pid) for pid in ranks), timeout=10_000)
    assert not rank_processes(child.pid) and not gui_errors.open_error_dialogs()
    assert panel.controls.start_button.isEnabled() and not panel.session.running
    result = finished.args[0]
    assert (Path(result.run_dir) / "last.pt").is_file() == (result.epochs_run > 0)  # the finished epochs, if any


@pytest.mark.timeout(600)
def test_a_rank_that_dies_fails_the_run_naming_it_and_the_run_resumes_on_all_gpus(
        main_win: MainWindow, qtbot, tmp_path, two_fake_gpus, monkeypatch):
    monkeypatch.setenv("IMGCLS_TEST_RANK_SIGNAL", "1:SIGKILL:1:0")  # rank 1, in epoch 1 (epoch 0 saved last.pt)
    choose_all_gpus(main_win, qtbot, tmp_path, epochs=2)
    panel = main_win.panel("training")
    with qtbot.waitSignal(panel.session.failed, timeout=RUN_MS) as failed:
        panel.controls.start_button.click()
    assert "process 1 of 2 failed: killed by SIGKILL" in failed.args[0]
    assert "Resume in the Runs tab" in failed.args[0] and "--resume" not in failed.args[0]  # the app's words
    assert "process 1 of 2 failed" in gui_errors.open_error_dialogs()[-1].text()
    run = panel.runs.model.runs[0]
    assert run.status == "failed" and run.resumable and panel.controls.start_button.isEnabled()
    for dialog in gui_errors.open_error_dialogs():
        dialog.close()

    monkeypatch.delenv("IMGCLS_TEST_RANK_SIGNAL")
    log = Events(panel.session)
    with qtbot.waitSignal(panel.session.finished, timeout=RUN_MS) as finished:
        assert panel.resume_run(run)  # its config says cuda:all: on all GPUs again
    assert log.of(ev.FitStart)[0].start_epoch == 1 and not finished.args[0].stopped
    assert "data-parallel: 2 processes" in panel.controls.log.toPlainText()
    assert panel.runs.model.runs[0].status == "finished"


@pytest.mark.timeout(600)
def test_pause_and_resume_reach_every_rank_and_a_killed_child_takes_its_ranks_along(
        main_win: MainWindow, qtbot, tmp_path, two_fake_gpus):
    """Pause parks every rank (the run goes on after Resume); the child process SIGKILLed mid-run (the OOM
    killer, or Stop's last step) fails the run with its cause, and its ranks end by themselves."""
    panel, log, child, ranks = start_and_find_ranks(main_win, qtbot, tmp_path, epochs=50, batch_size=2)
    panel.controls.pause_button.click()
    qtbot.waitUntil(lambda: "paused" in panel.controls.log.toPlainText(), timeout=WAIT_MS)
    seen = len(log.of(ev.BatchEnd))
    shared = Path(Path(f"/proc/{ranks[0]}/cmdline").read_bytes().split(b"\0")[3].decode())  # the job's folder
    assert (shared / "job.json").is_file()
    panel.controls.pause_button.click()  # Resume
    qtbot.waitUntil(lambda: "resumed" in panel.controls.log.toPlainText() and len(log.of(ev.BatchEnd)) > seen,
                    timeout=WAIT_MS)
    with qtbot.waitSignal(panel.session.failed, timeout=WAIT_MS) as failed:
        os.kill(child.pid, signal.SIGKILL)
    assert "signal SIGKILL" in failed.args[0]
    qtbot.waitUntil(lambda: all(process_gone(pid) or zombie(pid) for pid in ranks), timeout=10_000)
    assert not shared.exists()  # the ranks removed what their killed parent could not
    assert panel.controls.start_button.isEnabled() and not panel.session.running


def zombie(pid: int) -> bool:
    """Ended, waiting for a parent to reap it (init reaps an orphan soon after)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"
    except OSError:
        return True
