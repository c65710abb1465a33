"""Training runs in a child process: a crash or a kill there leaves the app running and the run resumable,
Stop works from the first batch, the warm child is reused, and closing the app mid-run leaves no process.

The crashes are real: a test hook (honoured only under the test suite) makes the child send itself the
signal in the middle of epoch 1, after epoch 0 wrote last.pt."""

from __future__ import annotations

import multiprocessing
from pathlib import Path

import pytest
from PySide6.QtCore import QObject, Slot

from imgcls_gui.engine import events as ev
from imgcls_gui.engine import idle_children, shutdown_children
from imgcls_gui.gui import errors as gui_errors
from imgcls_gui.gui.main_window import MainWindow

from .workflow_helpers import WAIT_MS, colour_project, fast_config


class Events(QObject):
    def __init__(self, session) -> None:
        super().__init__()
        self.events: list[object] = []
        session.event.connect(self.record)

    @Slot(object)
    def record(self, event: object) -> None:
        self.events.append(event)

    def of(self, kind: type) -> list:
        return [e for e in self.events if isinstance(e, kind)]


def start_run(main_win: MainWindow, qtbot, tmp_path: Path, epochs: int = 2, device: str = "cpu", **hooks):
    colour_project(qtbot, main_win, tmp_path, per_class=4)
    main_win.state.set_run_config(fast_config(epochs=epochs, device=device))
    panel = main_win.panel("training")
    main_win.show_panel("training")
    panel.session.test_hooks = hooks
    with qtbot.waitSignal(panel.session.started, timeout=WAIT_MS):
        panel.controls.start_button.click()
    panel.session.test_hooks = {}
    return panel


def training_children() -> list[int]:
    return [p.pid for p in multiprocessing.active_children() if p.name == "imgcls-training"]


def process_gone(pid: int) -> bool:
    """Ended and reaped (no zombie left in the process table)."""
    return not Path(f"/proc/{pid}").exists()


@pytest.mark.parametrize("signal_name", ["SIGSEGV", "SIGKILL"])
def test_a_child_that_crashes_mid_epoch_fails_the_run_with_its_cause_and_the_run_resumes(
        main_win: MainWindow, qtbot, tmp_path, signal_name):
    panel = start_run(main_win, qtbot, tmp_path, signal_at_batch=[signal_name, 1, 0])
    with qtbot.waitSignal(panel.session.failed, timeout=WAIT_MS):
        pass
    message = gui_errors.open_error_dialogs()[-1].text()
    assert f"signal {signal_name}" in message and "app keeps running" in message
    assert panel.controls.status_label.text() == "Training failed." and panel.controls.start_button.isEnabled()
    run = panel.runs.model.runs[0]
    assert run.status == "failed" and signal_name in run.failure and run.resumable  # epoch 0 wrote last.pt
    for dialog in gui_errors.open_error_dialogs():
        dialog.close()
    if signal_name == "SIGKILL":
        return  # resuming after a crash is the same either way (SIGSEGV's run shows it): spare CI the run

    log = Events(panel.session)
    with qtbot.waitSignal(panel.session.finished, timeout=WAIT_MS):
        assert panel.resume_run(run)  # a fresh child: the crashed one is gone
    assert log.of(ev.FitStart)[0].start_epoch == 1 and not log.of(ev.FitEnd)[0].stopped
    assert panel.runs.model.runs[0].status == "finished"


def test_stop_in_the_first_batch_ends_the_run_and_the_warm_child_is_reused(main_win: MainWindow, qtbot, tmp_path):
    panel = start_run(main_win, qtbot, tmp_path, epochs=3)
    log = Events(panel.session)
    qtbot.waitUntil(lambda: bool(log.of(ev.FitStart)), timeout=WAIT_MS)
    with qtbot.waitSignal(panel.session.finished, timeout=WAIT_MS):
        panel.controls.stop_button.click()
    end = log.of(ev.FitEnd)[-1]
    assert end.stopped and end.epochs_run == 0 and len(log.of(ev.BatchEnd)) <= 1
    assert panel.controls.start_button.isEnabled() and not gui_errors.open_error_dialogs()
    # The Results view then evaluates the run in the same child (issue 20); it is idle again once that is done.
    qtbot.waitUntil(lambda: not panel.results.evaluation.busy and len(idle_children()) == 1, timeout=WAIT_MS)
    (child,) = idle_children()
    pid = child.pid
    main_win.state.set_run_config(fast_config(epochs=1))
    with qtbot.waitSignal(panel.session.finished, timeout=WAIT_MS):
        panel.controls.start_button.click()
    qtbot.waitUntil(lambda: not panel.results.evaluation.busy and len(idle_children()) == 1, timeout=WAIT_MS)
    assert [c.pid for c in idle_children()] == [pid]  # the same warm process ran both (and both evaluations)


def test_closing_the_window_mid_run_stops_it_and_leaves_no_child_process(main_win: MainWindow, qtbot, tmp_path):
    panel = start_run(main_win, qtbot, tmp_path, pause_after_epoch=0)  # paused: it would run forever
    qtbot.waitUntil(lambda: "paused" in panel.controls.log.toPlainText(), timeout=WAIT_MS)
    pids = training_children()
    main_win.close()  # stops the run (its worker) within the bounded waits
    assert not panel.session.running or panel.session.wait(1)
    shutdown_children()  # what the app does as it quits (and at exit)
    assert pids and all(process_gone(pid) for pid in pids)
    runs = list((tmp_path / "proj" / "runs").iterdir())
    assert (runs[0] / "last.pt").is_file()


def test_the_app_process_never_initialises_cuda(main_win: MainWindow, qtbot, tmp_path):
    import torch

    if not torch.cuda.is_available():
        pytest.skip("no CUDA GPU here: whether the app's process stays out of CUDA needs one to check")
    main_win.device_probe.start()  # names the GPU (which initialises CUDA) in the child
    qtbot.waitUntil(lambda: "cuda" in main_win.state.device, timeout=WAIT_MS)
    panel = start_run(main_win, qtbot, tmp_path, epochs=1, device="auto")
    log = Events(panel.session)
    with qtbot.waitSignal(panel.session.finished, timeout=WAIT_MS):
        pass
    assert log.of(ev.FitStart)[0].device.startswith("cuda")
    assert not torch.cuda.is_initialized()


def test_stop_while_a_checkpoint_is_written_keeps_a_whole_checkpoint_and_a_resumable_run(
        main_win: MainWindow, qtbot, tmp_path):
    """Stop lands in the middle of epoch 0's last.pt write (the hook holds the write open, half a temp file on
    disk): the write finishes, the run ends stopped, and last.pt is whole, loadable and resumes."""
    from imgcls_gui.engine.checkpoint import load_checkpoint

    marker = tmp_path / "writing"
    panel = start_run(main_win, qtbot, tmp_path, epochs=2, slow_checkpoint_write=[1, 1.5, str(marker)])
    log = Events(panel.session)
    qtbot.waitUntil(marker.exists, timeout=WAIT_MS)
    with qtbot.waitSignal(panel.session.finished, timeout=WAIT_MS):
        panel.controls.stop_button.click()  # while the checkpoint is half written
    end = log.of(ev.FitEnd)[-1]
    assert end.stopped and end.epochs_run == 1 and not gui_errors.open_error_dialogs()
    run = panel.runs.model.runs[0]
    assert run.status == "stopped" and run.resumable
    ckpt = load_checkpoint(run.path / "last.pt")
    assert ckpt["epoch"] == 1 and not list(run.path.glob(".last.pt.*"))  # epoch 0 whole (resumes at 1); no temp left
    with qtbot.waitSignal(panel.session.finished, timeout=WAIT_MS):
        assert panel.resume_run(run)
    assert log.of(ev.FitStart)[-1].start_epoch == 1 and not log.of(ev.FitEnd)[-1].stopped
