"""The model, freezing and training choices are saved in the project as they change and come back when
it is reopened; Reuse config goes through the same path; there is no Save command any more."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtWidgets import QRadioButton

from imgcls_gui.engine.config import RunConfig
from imgcls_gui.engine.project.settings import RUN_CONFIG_KEY
from imgcls_gui.engine.project.store import Project
from imgcls_gui.gui.main_window import MainWindow

from .workflow_helpers import fast_config, save_listed_run, wait_workers


def test_model_freeze_and_epochs_survive_closing_and_reopening_the_project(main_win: MainWindow, qtbot, tmp_path):
    assert main_win.projects.create_project(tmp_path / "p")
    model = main_win.panel("model")
    main_win.show_panel("model")
    model.table.selectRow(model.backbones.row_of("mobilenet_v3_small"))
    model.weights.findChild(QRadioButton, "weights_none").click()
    model.freeze.findChild(QRadioButton, "freeze_two-phase").click()
    training = main_win.panel("training")
    training.form.editor("train.epochs").setValue(3)
    training.form.editor("train.cpu_speed").setCurrentText("channels-last")
    chosen = main_win.state.run_config
    assert (chosen.model.name, chosen.model.weights, chosen.freeze.mode, chosen.train.epochs) == (
        "mobilenet_v3_small", "none", "two-phase", 3)
    assert chosen.train.cpu_speed == "channels-last"

    main_win.actions["close_project"].trigger()
    main_win.state.set_run_config(RunConfig())  # what a freshly started app shows
    assert training.form.editor("train.epochs").value() == 10
    assert main_win.projects.open_project(tmp_path / "p")
    assert main_win.state.run_config == chosen
    assert model.backbones.specs[model.table.currentIndex().row()].name == "mobilenet_v3_small"
    assert model.freeze.findChild(QRadioButton, "freeze_two-phase").isChecked()
    assert model.weights.findChild(QRadioButton, "weights_none").isChecked()
    assert training.form.editor("train.epochs").value() == 3
    assert training.form.editor("train.cpu_speed").currentText() == "channels-last"
    wait_workers(qtbot)


def test_a_new_project_keeps_the_options_shown_and_reuse_config_is_saved(main_win: MainWindow, qtbot, tmp_path):
    main_win.state.set_run_config(fast_config(epochs=4))
    assert main_win.projects.create_project(tmp_path / "p")
    assert main_win.state.run_config == fast_config(epochs=4)
    run = save_listed_run(tmp_path / "p" / "runs" / "20261201-000000-a", fast_config(epochs=7), [])
    panel = main_win.panel("training")
    main_win.state.notify_runs()
    panel.runs.table.selectRow(0)
    panel.runs.reuse_button.click()
    assert main_win.state.run_config.train.epochs == 7 == panel.form.editor("train.epochs").value()
    main_win.actions["close_project"].trigger()
    with Project.open(tmp_path / "p", read_only=True) as project:
        assert RunConfig.from_dict(project.get_setting(RUN_CONFIG_KEY)).train.epochs == 7
    assert run.is_dir()


def test_there_is_no_save_command_that_does_nothing(main_win: MainWindow):
    assert "save" not in main_win.actions
    texts = [action.text() for action in main_win.menuBar().actions()[0].menu().actions()]
    assert not any("Save" in text for text in texts)
