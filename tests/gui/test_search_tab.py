"""The Training panel's Search tab on the real window: a 2-trial search (run in the warm child process) with live
table, best-so-far curve, "Train the best settings fully" filling the form and starting a normal run, and the form
kept in the project; a cancelled search and one whose child was killed mid-trial both continue to the end without
repeating finished trials."""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

import pytest
from PySide6.QtCore import Qt

from imgcls_gui.engine import idle_children
from imgcls_gui.engine.config import FreezeConfig
from imgcls_gui.gui import errors as gui_errors
from imgcls_gui.gui.main_window import MainWindow
from imgcls_gui.gui.training_panel.panel import SEARCH_TAB

from .workflow_helpers import WAIT_MS, colour_project, fast_config, wait_workers


def test_search_tab_runs_two_trials_and_trains_the_best_settings(main_win: MainWindow, qtbot, tmp_path: Path,
                                                                 monkeypatch):
    monkeypatch.setenv("IMGCLS_CACHE_DIR", str(tmp_path / "cache"))
    project = colour_project(qtbot, main_win, tmp_path, per_class=6)
    config = fast_config(epochs=3, batch_size=8)
    main_win.state.set_run_config(config.replace(freeze=FreezeConfig(mode="head")))
    panel = main_win.panel("training")
    main_win.show_panel("training")
    panel.tabs.setCurrentIndex(SEARCH_TAB)
    view = panel.search
    form = view.form
    for name, row in form.rows.items():  # search the learning rate and the head's hidden layer only
        row.tick.setChecked(name in ("lr", "hidden_size", "freeze"))
    form.row("hidden_size").text.setText("0, 8")
    form.row("hidden_size").text.editingFinished.emit()
    form.trials.setValue(2)
    form.epochs.setValue(1)

    with qtbot.waitSignal(view.finished, timeout=WAIT_MS) as finished:
        qtbot.mouseClick(view.start_button, Qt.MouseButton.LeftButton)
        assert view.running and not view.start_button.isEnabled() and view.cancel_button.isEnabled()
        assert not panel.controls.start_button.isEnabled()  # no run while the search uses the device
    result = finished.args[0]
    assert result is not None and [t.state for t in result.trials] == ["complete", "complete"]
    assert result.folder.parent == project / "searches"
    assert view.model.rowCount() == 2 and view.model.COLUMNS[5:] == ("lr", "hidden_size")
    assert len(view.best_x) == 2 and view.best_y[-1] == result.best.value
    assert view.best_button.isEnabled() and panel.controls.start_button.isEnabled()
    assert view.search_pid != os.getpid() and view.search_pid in [child.pid for child in idle_children()]

    with qtbot.waitSignal(panel.session.finished, timeout=WAIT_MS):
        qtbot.mouseClick(view.best_button, Qt.MouseButton.LeftButton)
    chosen = main_win.state.run_config
    assert chosen.optim.lr == result.best.params["lr"]
    assert chosen.model.hidden_size == result.best.params["hidden_size"]
    assert chosen.train.epochs == 3  # the form's epochs, not the trials' 1
    assert panel.form.editor("optim.lr").value() == pytest.approx(chosen.optim.lr, rel=1e-6)  # the form shows it
    runs = panel.runs.model.runs
    assert len(runs) == 1 and runs[0].config == dataclasses.replace(chosen, data=runs[0].config.data)

    main_win.actions["close_project"].trigger()  # the Search tab's form comes back with the project
    form.trials.setValue(7)
    assert main_win.projects.open_project(project)
    assert form.trials.value() == 2 and form.epochs.value() == 1 and form.row("hidden_size").text.text() == "0, 8"
    assert not form.row("dropout").tick.isChecked()
    wait_workers(qtbot)


def test_a_cancelled_search_continues_without_repeating_finished_trials(main_win: MainWindow, qtbot, tmp_path: Path,
                                                                         monkeypatch):
    monkeypatch.setenv("IMGCLS_CACHE_DIR", str(tmp_path / "cache"))
    project = colour_project(qtbot, main_win, tmp_path, per_class=6)
    main_win.state.set_run_config(fast_config(batch_size=8).replace(freeze=FreezeConfig(mode="head")))
    panel = main_win.panel("training")
    view = panel.search
    assert not view.continue_button.isEnabled()  # no search in this project yet
    for name, row in view.form.rows.items():
        row.tick.setChecked(name == "lr")
    view.form.trials.setValue(3)
    view.form.epochs.setValue(1)
    with qtbot.waitSignal(view.finished, timeout=WAIT_MS) as cancelled:
        qtbot.mouseClick(view.start_button, Qt.MouseButton.LeftButton)
        qtbot.waitUntil(lambda: view.model.rowCount() >= 1, timeout=WAIT_MS)
        qtbot.mouseClick(view.cancel_button, Qt.MouseButton.LeftButton)
    first = cancelled.args[0]
    assert first.stopped
    before = {t.number: t for t in first.trials if t.state == "complete"}
    assert 1 <= len(before) < 3

    main_win.actions["close_project"].trigger()  # the newest search is found again when the project reopens
    assert main_win.projects.open_project(project)
    assert view.resumable == first.folder and view.continue_button.isEnabled()
    with qtbot.waitSignal(view.finished, timeout=WAIT_MS) as continued:
        qtbot.mouseClick(view.continue_button, Qt.MouseButton.LeftButton)
        assert view.running and not view.continue_button.isEnabled() and not panel.controls.start_button.isEnabled()
    result = continued.args[0]
    assert result is not None and result.folder == first.folder and not result.stopped
    complete = [t for t in result.trials if t.state == "complete"]
    assert len(complete) == 3  # the planned number in all: finished trials were not run again
    for number, trial in before.items():
        kept = next(t for t in result.trials if t.number == number)
        assert (kept.params, kept.value, kept.run_dir) == (trial.params, trial.value, trial.run_dir)
    assert len({t.run_dir for t in complete}) == 3
    assert view.model.rowCount() == len(result.trials)  # the earlier trials are shown too
    assert view.progress.value() == 3 and view.best_y[-1] == result.best.value
    wait_workers(qtbot)


def test_a_search_killed_mid_trial_fails_the_tab_and_continues_without_repeating_finished_trials(
        main_win: MainWindow, qtbot, tmp_path: Path, monkeypatch):
    monkeypatch.setenv("IMGCLS_CACHE_DIR", str(tmp_path / "cache"))
    colour_project(qtbot, main_win, tmp_path, per_class=6)
    main_win.state.set_run_config(fast_config(batch_size=8).replace(freeze=FreezeConfig(mode="head")))
    panel = main_win.panel("training")
    view = panel.search
    for name, row in view.form.rows.items():
        row.tick.setChecked(name == "lr")
    view.form.trials.setValue(3)
    view.form.epochs.setValue(2)
    # The child sends SearchStart, TrialStart 0, 2 x EpochEnd, TrialEnd 0, TrialStart 1, EpochEnd: it kills
    # itself after that 7th event, in trial 1 between its two epochs.
    monkeypatch.setenv("IMGCLS_TEST_JOB_SIGNAL", "search:SIGKILL:7")
    with qtbot.waitSignal(view.finished, timeout=WAIT_MS) as failed:
        qtbot.mouseClick(view.start_button, Qt.MouseButton.LeftButton)
    assert failed.args[0] is None and main_win.isVisible()
    assert "signal SIGKILL" in view.status.text() and "Continue this search" in view.status.text()
    assert gui_errors.open_error_dialogs()
    for error in gui_errors.open_error_dialogs():
        error.close()
    assert [(t.number, t.state) for t in view.model.rows] == [(0, "complete")]  # the live table got trial 0
    first = view.model.rows[0]
    folder = view.resumable
    assert (folder / "study.sqlite").is_file() and (folder / "trials" / "trial-0001").is_dir()
    finished_checkpoint = Path(first.run_dir) / "best.pt"
    written = finished_checkpoint.stat().st_mtime_ns
    assert view.continue_button.isEnabled() and panel.controls.start_button.isEnabled()

    monkeypatch.delenv("IMGCLS_TEST_JOB_SIGNAL")
    with qtbot.waitSignal(view.finished, timeout=WAIT_MS) as continued:
        qtbot.mouseClick(view.continue_button, Qt.MouseButton.LeftButton)
    result = continued.args[0]
    assert result is not None and result.folder == folder and not result.stopped
    states = {t.number: t.state for t in result.trials}
    assert states == {0: "complete", 1: "failed", 2: "complete", 3: "complete"}  # 1 killed, retried as 2
    retried = next(t for t in result.trials if t.number == 2)
    assert retried.params == next(t for t in result.trials if t.number == 1).params
    kept = next(t for t in result.trials if t.number == 0)
    assert (kept.params, kept.value, kept.run_dir) == (first.params, first.value, first.run_dir)
    assert finished_checkpoint.stat().st_mtime_ns == written  # trial 0 was not run again
    assert view.model.rowCount() == 4 and view.progress.value() == 3 and not gui_errors.open_error_dialogs()
    assert view.search_pid != os.getpid()
    wait_workers(qtbot)
