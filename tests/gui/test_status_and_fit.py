"""What the window says is true: pause/resume status at once, a project switch resets every part of the
Training panel, the run bar counts to the Epochs option, the log follows the end and hides debug lines,
(a run that failed before its first epoch is listed as failed: test_training_panel); the window fits 1280 px;
results use human metric names; every chart series has its own colour."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from imgcls_gui.engine import events as ev
from imgcls_gui.engine.config import FreezeConfig
from imgcls_gui.engine.evaluation.results import Curve, RunResults
from imgcls_gui.gui.main_window import MainWindow
from imgcls_gui.gui.panels import PANELS
from imgcls_gui.gui.training_panel.charts import COLOURS, OVERLAY_COLOURS
from imgcls_gui.gui.training_panel.controls import PAUSED

from .workflow_helpers import WAIT_MS, colour_project, fast_config, wait_workers


def test_the_window_with_every_panel_fits_a_1280_by_720_screen(main_win: MainWindow, qtbot):
    for spec in PANELS:
        main_win.show_panel(spec.key)
        qtbot.wait(10)
    hint = main_win.minimumSizeHint()
    assert hint.width() <= 1280 and hint.height() <= 720 - 40  # the title bar needs a little
    wait_workers(qtbot)


def test_the_run_bar_counts_to_the_epochs_option(main_win: MainWindow):
    panel = main_win.panel("training")
    assert panel.controls.run_bar.text() == "run: 0 / 10 epochs"
    panel.form.editor("train.epochs").setValue(3)
    assert panel.controls.run_bar.text() == "run: 0 / 3 epochs"


def test_the_log_hides_debug_lines_unless_asked_and_follows_the_newest_line(main_win: MainWindow, qtbot):
    panel = main_win.panel("training")
    main_win.show_panel("training")
    controls = panel.controls
    for number in range(200):
        controls.show_event(ev.LogLine(f"line {number}"))
    controls.show_event(ev.LogLine("reading dataset /somewhere", "debug"))
    text = controls.log.toPlainText()
    assert "line 199" in text and "reading dataset" not in text
    bar = controls.log.verticalScrollBar()
    assert bar.maximum() > 0 and bar.value() == bar.maximum()
    controls.details_box.setChecked(True)
    assert "debug: reading dataset /somewhere" in controls.log.toPlainText()
    assert bar.value() == bar.maximum()
    controls.details_box.setChecked(False)
    assert "reading dataset" not in controls.log.toPlainText()


def test_resume_says_so_at_once_and_another_project_resets_the_panel(main_win: MainWindow, qtbot, tmp_path):
    colour_project(qtbot, main_win, tmp_path, per_class=3)
    main_win.state.set_run_config(fast_config(epochs=2))
    panel = main_win.panel("training")
    main_win.show_panel("training")
    controls = panel.controls
    assert controls.run_bar.text() == "run: 0 / 2 epochs"
    with qtbot.waitSignal(panel.session.started, timeout=WAIT_MS):
        assert panel.start()
    controls.pause_button.click()  # honoured before the first batch
    assert controls.status_label.text() == PAUSED
    qtbot.waitUntil(lambda: "paused" in controls.log.toPlainText(), timeout=WAIT_MS)
    with qtbot.waitSignal(panel.session.finished, timeout=WAIT_MS):
        controls.pause_button.click()  # Resume
        assert controls.status_label.text() != PAUSED and controls.pause_button.text() == "Pause"
    assert controls.run_bar.text() == "run: 2 / 2 epochs"
    qtbot.waitUntil(lambda: panel.results.results is not None, timeout=WAIT_MS)
    panel.compare_runs(panel.runs.model.runs[0], panel.runs.model.runs[0])
    assert "Solid:" in controls.status_label.text()

    assert main_win.projects.create_project(tmp_path / "other")
    assert controls.log.toPlainText() == "" and controls.status_label.text() == "Ready."
    assert controls.run_bar.text() == "run: 0 / 2 epochs" and controls.speed_label.text() == ""
    assert panel.results.results is None and not panel.results.export_button.isEnabled()
    assert panel.charts.point_counts()["epoch"] == 0 and panel.runs.model.rowCount() == 0
    wait_workers(qtbot)


def test_results_use_human_metric_and_task_names_with_the_key_in_the_tooltip(main_win: MainWindow, tmp_path):
    view = main_win.panel("training").results
    results = RunResults(tmp_path / "run", "val", "multiclass", ("a", "b"), 0.5,
                         scalars={"accuracy": 0.9, "precision_macro": 0.8, "roc_auc_ovr": 0.95},
                         per_class={"a": {"precision": 1.0, "support": 3}, "b": {"precision": 0.5, "support": 2}},
                         confusion_matrix=((3, 0), (1, 1)),
                         roc=(Curve("a", (), (), 0.9), Curve("b", (), (), 0.9)),
                         pr=(Curve("a", (), (), 0.8), Curve("b", (), (), 0.8)))
    view.show_results(results)
    names = [view.overall.item(row, 0).text() for row in range(view.overall.rowCount())]
    assert names == ["Accuracy", "Precision (macro)", "ROC AUC (one-vs-rest)"]
    assert "precision_macro" in view.overall.item(1, 0).toolTip()
    assert "Single-label" in view.title.text() and "multiclass" not in view.title.text()
    assert view.per_class.horizontalHeaderItem(1).text() == "Precision"


def test_every_chart_series_has_its_own_colour():
    colours = [*COLOURS.values(), *OVERLAY_COLOURS]
    assert len(colours) == len({c.lower() for c in colours})


def test_options_the_chosen_optimizer_or_schedule_ignores_are_disabled(main_win: MainWindow):
    form = main_win.panel("training").form
    form.editor("optim.optimizer").setCurrentText("adamw")
    form.editor("optim.scheduler").setCurrentText("cosine")
    assert not form.editor("optim.momentum").isEnabled() and not form.editor("optim.step_size").isEnabled()
    form.editor("optim.optimizer").setCurrentText("sgd")
    assert form.editor("optim.momentum").isEnabled() and form.editor("optim.nesterov").isEnabled()
    form.editor("optim.optimizer").setCurrentText("rmsprop")
    assert form.editor("optim.momentum").isEnabled() and not form.editor("optim.nesterov").isEnabled()
    form.editor("optim.scheduler").setCurrentText("step")
    assert form.editor("optim.gamma").isEnabled()


def test_random_weights_with_a_frozen_backbone_are_warned_about_not_blocked(main_win: MainWindow, qtbot):
    model = main_win.panel("model")
    main_win.show_panel("model")
    config = main_win.state.run_config
    main_win.state.set_run_config(config.replace(model=dataclasses.replace(config.model, weights="none"),
                                                 freeze=FreezeConfig(mode="head")))
    assert model.random_frozen_warning.isVisible() and "random features" in model.random_frozen_warning.text()
    main_win.state.set_run_config(main_win.state.run_config.replace(freeze=FreezeConfig(mode="none")))
    assert not model.random_frozen_warning.isVisible()
    main_win.state.set_run_config(config)  # ImageNet weights, head only: the default, no warning
    assert not model.random_frozen_warning.isVisible()
    wait_workers(qtbot)


def test_the_status_bar_counts_the_selection(main_win: MainWindow, qtbot, tmp_path):
    colour_project(qtbot, main_win, tmp_path, per_class=3)
    ids = [record.id for record in main_win.state.project.images()]
    main_win.state.set_selection(ids[:2])
    assert main_win.count_label.text() == "2 of 6 selected"
    main_win.state.set_selection([])
    assert main_win.count_label.text() == "6 images"
