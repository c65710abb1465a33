"""Training panel on the real window: a real run with pause, stop and resume, live charts, results,
the runs list, the form and augmentation preview, and the error dialogs that keep the app usable."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from PySide6.QtCore import QObject, Qt, Slot
from PySide6.QtWidgets import QRadioButton

from imgcls_gui.engine import events as ev
from imgcls_gui.engine.config import FreezeConfig, ModelConfig, RunConfig
from imgcls_gui.engine.data.datasets import open_dataset
from imgcls_gui.gui import errors as gui_errors
from imgcls_gui.gui.main_window import MainWindow
from imgcls_gui.gui.training_panel.fields import ladder_step
from imgcls_gui.gui.training_panel.panel import RESULTS_TAB, RUNS_TAB

from ..engine.tiny_data import make_class_folders
from .workflow_helpers import (WAIT_MS, colour_project, fast_config, project_with_images, real_subset,
                               save_listed_run, wait_workers)


class EventLog(QObject):
    """Engine events as the panel receives them (on the UI thread)."""

    def __init__(self, panel) -> None:
        super().__init__()
        self.events: list[object] = []
        panel.session.event.connect(self.record)

    @Slot(object)
    def record(self, event: object) -> None:
        self.events.append(event)

    def of(self, kind: type) -> list:
        return [e for e in self.events if isinstance(e, kind)]


# A test hook the training child honours: it pauses as epoch 0 ends, so the test's Stop always lands in
# epoch 1, however fast the machine trains.
PAUSE_AFTER_FIRST_EPOCH = {"pause_after_epoch": 0}


def click(qtbot, button) -> None:
    """A left click on ``button``, as a user's mouse gives it (the button must be shown and enabled)."""
    assert button.isVisible() and button.isEnabled(), button.text()
    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)


def choose_model_like_a_user(window: MainWindow, qtbot) -> None:
    model = window.panel("model")
    window.show_panel("model")
    model.table.selectRow(model.backbones.row_of("mobilenet_v3_small"))
    model.weights.findChild(QRadioButton, "weights_none").click()
    qtbot.waitUntil(lambda: model.freeze.body_count > 0 and model.structure_key() in model.group_cache, timeout=WAIT_MS)
    model.freeze.findChild(QRadioButton, "freeze_first-n").click()
    model.freeze.slider.setValue(2)


def fill_form(panel, **values) -> None:
    for name, value in values.items():
        editor = panel.form.editor(name.replace("__", "."))
        editor.setCurrentText(value) if hasattr(editor, "setCurrentText") else editor.setValue(value)


@pytest.mark.slow
def test_real_photos_train_pause_stop_resume_and_fill_charts_and_results(
        main_win: MainWindow, qtbot, tmp_path: Path, hymenoptera: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("IMGCLS_CACHE_DIR", str(tmp_path / "cache"))
    photos = real_subset(hymenoptera / "train", tmp_path / "photos", per_class=8)
    project = project_with_images(qtbot, main_win, tmp_path, photos)
    choose_model_like_a_user(main_win, qtbot)
    panel = main_win.panel("training")
    main_win.show_panel("training")
    fill_form(panel, train__epochs=3, train__batch_size=4, model__image_size=32, train__device="cpu",
              data__num_workers=0, optim__scheduler="constant")
    config = main_win.state.run_config
    assert (config.model.name, config.model.weights, config.freeze) == ("mobilenet_v3_small", "none", FreezeConfig("first-n", 2))
    assert (config.train.epochs, config.model.image_size) == (3, 32)
    log = EventLog(panel)

    panel.session.test_hooks = PAUSE_AFTER_FIRST_EPOCH
    with qtbot.waitSignal(panel.session.started, timeout=WAIT_MS):
        click(qtbot, panel.controls.start_button)
    panel.session.test_hooks = {}
    assert not panel.controls.start_button.isEnabled() and panel.controls.stop_button.isEnabled()
    qtbot.waitUntil(lambda: "paused" in panel.controls.log.toPlainText(), timeout=WAIT_MS)
    with qtbot.waitSignal(panel.session.finished, timeout=WAIT_MS):
        click(qtbot, panel.controls.stop_button)  # a paused run wakes up to stop
    end = log.of(ev.FitEnd)[-1]
    assert end.stopped and end.epochs_run == 1
    run_dir = Path(end.run_dir)
    assert run_dir.parent == project / "runs"
    qtbot.waitUntil(lambda: panel.results.results is not None, timeout=WAIT_MS)
    assert panel.tabs.currentIndex() == RESULTS_TAB
    runs = panel.runs.model.runs
    assert [(r.path, r.status, r.resumable) for r in runs] == [(run_dir, "stopped", True)]

    batches_before = len(log.of(ev.BatchEnd))
    tab_bar = panel.tabs.tabBar()  # the user opens the Runs tab to find the stopped run
    qtbot.mouseClick(tab_bar, Qt.MouseButton.LeftButton, pos=tab_bar.tabRect(RUNS_TAB).center())
    assert panel.tabs.currentIndex() == RUNS_TAB
    panel.runs.table.selectRow(0)
    assert panel.runs.resume_button.isEnabled() and "imgcls train --config" in panel.runs.replay_label.text()
    click(qtbot, panel.runs.resume_button)
    click(qtbot, panel.controls.pause_button)  # honoured before the resumed run's first batch
    assert panel.session.paused and panel.controls.pause_button.text() == "Resume"
    qtbot.waitUntil(lambda: panel.controls.log.toPlainText().count("paused") == 2, timeout=WAIT_MS)
    assert len(log.of(ev.BatchEnd)) == batches_before  # nothing trains while paused
    with qtbot.waitSignal(panel.session.finished, timeout=WAIT_MS):
        click(qtbot, panel.controls.pause_button)
    assert "resumed" in panel.controls.log.toPlainText()
    assert not log.of(ev.FitEnd)[-1].stopped
    assert log.of(ev.FitStart)[-1].start_epoch == 1
    counts = panel.charts.point_counts()
    assert counts["epoch"] == 3 and counts["accuracy"] == 3 and counts["batch"] >= 2

    qtbot.waitUntil(lambda: panel.results.results is not None and panel.results.run_dir == run_dir, timeout=WAIT_MS)
    results = panel.results.results
    matrix = panel.results.matrix.confusion
    assert sum(sum(row) for row in matrix.matrix) == len(results.samples) == log.of(ev.FitStart)[-1].val_size
    assert panel.results.overall.rowCount() == len(results.scalars) and panel.results.per_class.rowCount() == 2
    true_row = next(r for r, row in enumerate(matrix.matrix) if any(row))
    column = next(c for c, count in enumerate(matrix.matrix[true_row]) if count)
    panel.results.matrix.clicked.emit(matrix.index(true_row, column))
    assert panel.results.cell_gallery.gallery.rowCount() == matrix.matrix[true_row][column]
    assert 0 < panel.results.worst.gallery.rowCount() <= len(results.samples)
    assert panel.results.curves.curve_count() >= 2

    history = json.loads((run_dir / "metrics.json").read_text())["history"]
    assert [h["epoch"] for h in history] == [0, 1, 2]
    replay = RunConfig.from_file(run_dir / "config.yaml")  # what `imgcls train --config` reads
    assert replay.data.path == str(project) and replay.model == config.model and replay.freeze == config.freeze
    assert open_dataset(replay.data.path).classes == ["ants", "bees"]
    assert panel.runs.model.runs[0].status == "finished" and not gui_errors.open_error_dialogs()

    # The evaluation runs in the child process: one killed there fails the view, not the app; the next one works.
    monkeypatch.setenv("IMGCLS_TEST_JOB_SIGNAL", "results:SIGKILL:1")
    with qtbot.waitSignal(panel.results.failed, timeout=WAIT_MS) as failed:
        panel.results.load(run_dir)
    assert "signal SIGKILL" in failed.args[0] and "Could not evaluate" in panel.results.title.text()
    monkeypatch.delenv("IMGCLS_TEST_JOB_SIGNAL")
    with qtbot.waitSignal(panel.results.loaded, timeout=WAIT_MS) as loaded:
        panel.results.load(run_dir)
    assert loaded.args[0].samples == results.samples and main_win.isVisible()


def test_start_without_a_project_without_labels_or_with_one_class_shows_dialogs(main_win: MainWindow, qtbot, tmp_path):
    panel = main_win.panel("training")
    main_win.show_panel("training")
    click(qtbot, panel.controls.start_button)  # refused: a dialog says why
    assert "project" in gui_errors.open_error_dialogs()[-1].text().lower()
    folder = make_class_folders(tmp_path / "one", classes=("red",), per_class=3)
    project_with_images(qtbot, main_win, tmp_path, folder)
    click(qtbot, panel.controls.start_button)  # refused: a dialog says why
    qtbot.waitUntil(lambda: any("only one class" in d.text() for d in gui_errors.open_error_dialogs()))
    ids = [record.id for record in main_win.state.project.images()]
    main_win.state.project.set_labels(ids, [])
    click(qtbot, panel.controls.start_button)  # refused: a dialog says why
    assert any("none of its 3 images has a label" in d.text() for d in gui_errors.open_error_dialogs())
    assert not panel.session.running and panel.controls.start_button.isEnabled()
    assert not list((tmp_path / "proj").glob("runs/*"))  # nothing was started, so no run folder either
    main_win.show_panel("dataset")
    assert main_win.stack.currentIndex() == 0  # the window still answers


def test_a_config_the_engine_refuses_shows_its_message_before_any_work(main_win: MainWindow, qtbot, tmp_path):
    colour_project(qtbot, main_win, tmp_path, per_class=3)
    main_win.state.set_run_config(fast_config().replace(model=ModelConfig(name="alexnet", weights="none", image_size=32)))
    panel = main_win.panel("training")
    main_win.show_panel("training")
    click(qtbot, panel.controls.start_button)  # refused: a dialog says why
    assert "too small for alexnet" in gui_errors.open_error_dialogs()[-1].text()
    assert not panel.session.running


def test_a_run_that_fails_in_the_worker_reports_and_the_panel_recovers(main_win: MainWindow, qtbot, tmp_path, monkeypatch):
    # A weights file that is gone by the time the run builds its model: only the worker finds out.
    # (Missing ImageNet weights are asked about before Start instead: test_missing_weights.py.)
    colour_project(qtbot, main_win, tmp_path, per_class=3)
    gone = str(tmp_path / "gone.pth")
    main_win.state.set_run_config(fast_config().replace(model=ModelConfig(name="mobilenet_v3_small", weights=gone,
                                                                          image_size=32)))
    panel = main_win.panel("training")
    main_win.show_panel("training")
    with qtbot.waitSignal(panel.session.failed, timeout=WAIT_MS):
        click(qtbot, panel.controls.start_button)
    assert "weights file not found" in gui_errors.open_error_dialogs()[-1].text()
    assert panel.controls.start_button.isEnabled() and not panel.controls.stop_button.isEnabled()
    assert "error:" in panel.controls.log.toPlainText()
    run = panel.runs.model.runs[0]  # listed as failed, with the reason, not as "not started"
    assert run.status == "failed" and "not found" in run.failure
    assert panel.runs.model.data(panel.runs.model.index(0, 1)) == "failed"
    assert "not found" in panel.runs.model.data(panel.runs.model.index(0, 0), Qt.ItemDataRole.ToolTipRole)
    panel.runs.table.selectRow(0)
    assert "Failed:" in panel.runs.replay_label.text()


def test_form_and_shared_config_follow_each_other(main_win: MainWindow, qtbot):
    panel = main_win.panel("training")
    fill_form(panel, optim__optimizer="sgd", optim__weight_decay=0.0, train__early_stopping_patience=4)
    config = main_win.state.run_config
    assert (config.optim.optimizer, config.optim.weight_decay, config.train.early_stopping_patience) == ("sgd", 0.0, 4)
    assert panel.form.editor("optim.weight_decay").text() == "off"
    lr = panel.form.editor("optim.lr")
    lr.stepBy(1)
    assert main_win.state.run_config.optim.lr == pytest.approx(2e-3)
    main_win.state.set_run_config(config.replace(optim=config.optim.__class__(lr=5e-5, scheduler="step")))
    assert lr.text() == "5e-05" and panel.form.editor("optim.scheduler").currentText() == "step"
    assert panel.form.editor("optim.lr").toolTip()  # every option explains itself


def test_ladder_steps_through_one_two_five():
    assert [ladder_step(1e-3, k) for k in (1, 2, 3, -1)] == pytest.approx([2e-3, 5e-3, 1e-2, 5e-4])
    assert ladder_step(0.0, 1) > 0


def test_augmentation_preview_shows_project_images_and_follows_options(main_win: MainWindow, qtbot, tmp_path):
    colour_project(qtbot, main_win, tmp_path, per_class=3)
    panel = main_win.panel("training")
    main_win.show_panel("training")
    panel.form.basics.advanced.click()  # augmentation is an advanced section
    section = panel.augmentation
    with qtbot.waitSignal(section.previewReady, timeout=WAIT_MS):
        section.refresh()
    assert section.shown_tiles() == 8
    editor = section.form.editors["augment.rotation_degrees"]
    with qtbot.waitSignal(section.previewReady, timeout=WAIT_MS):
        editor.setValue(30)
    assert main_win.state.run_config.augment.rotation_degrees == 30
    section.set_training(True)
    section.refresh()
    assert "paused while training" in section.message.text()
    section.set_training(False)
    wait_workers(qtbot)


def test_runs_list_reuses_compares_and_reopens(main_win: MainWindow, qtbot, tmp_path):
    project = colour_project(qtbot, main_win, tmp_path, per_class=3)
    panel = main_win.panel("training")
    main_win.show_panel("training")
    first = fast_config(epochs=3).replace(freeze=FreezeConfig("head"))
    history = [{"epoch": i, "val_loss": 1.0 - i / 10, "accuracy": 0.5 + i / 10, "train_loss": 1.0} for i in range(3)]
    save_listed_run(project / "runs" / "a", first, history)
    save_listed_run(project / "runs" / "b", fast_config(epochs=4), history[:2])
    main_win.state.notify_runs()
    assert {r.name: r.status for r in panel.runs.model.runs} == {"a": "finished", "b": "stopped"}
    row_a = next(i for i, r in enumerate(panel.runs.model.runs) if r.name == "a")
    panel.runs.table.selectRow(row_a)
    panel.runs.reuse_button.click()
    assert main_win.state.run_config == first
    assert panel.form.editor("train.epochs").value() == 3
    assert not panel.runs.resume_button.isEnabled()  # 'a' finished; 'b' has no last.pt... but is listed
    panel.runs.table.selectAll()
    assert panel.runs.compare_button.isEnabled() and not panel.runs.open_button.isEnabled()
    panel.runs.compare_button.click()
    assert panel.charts.point_counts()["epoch"] in (2, 3) and len(panel.charts._overlays) == 2
    assert "dashed: " in panel.controls.status_label.text()


def test_every_engine_option_has_an_editor_within_its_range(main_win: MainWindow):
    """A new engine option without an editor fails here (the few left out are listed, with why)."""
    from PySide6.QtWidgets import QDoubleSpinBox, QSpinBox

    from imgcls_gui.engine import run_options

    panel = main_win.panel("training")
    model = main_win.panel("model")
    forms = [*panel.form.forms, panel.augmentation.form]
    editors = {name: editor for form in forms for name, editor in form.editors.items()}
    editors.update({"model.name": model.table, "model.weights": model.weights, "model.hidden_size": model.hidden_size,
                    "model.dropout": model.dropout, "freeze.mode": model.freeze.presets.buttons()[0],
                    "freeze.groups": model.freeze.slider, "freeze.head_epochs": model.freeze.head_epochs,
                    "freeze.lr_decay": model.freeze.lr_decay})
    not_in_form = {"train.feature_cache_ram_mb", "train.feature_cache_dir",  # storage tuning, config files only
                   "data.path", "data.format", "data.images_root", "data.task"}  # the open project decides these
    for spec in run_options():
        assert spec.name in editors or spec.name in not_in_form, f"no editor for {spec.name}"
        editor = editors.get(spec.name)
        if isinstance(editor, (QSpinBox, QDoubleSpinBox)):  # the editor never offers a value the engine refuses
            assert spec.within(editor.minimum(), editor.maximum()), f"{spec.name}: editor range beyond {spec.range_text()}"
    for form in forms:
        for field in form.fields:
            assert form.editors[field.name].toolTip().startswith(field.spec.option.help)  # the table's words
    for name in ("model.hidden_size", "model.dropout", "freeze.head_epochs", "freeze.lr_decay"):
        assert editors[name].toolTip() == next(s for s in run_options() if s.name == name).option.help
    assert panel.form.editor("optim.lr").minimum() > 0 and panel.form.editor("optim.momentum").maximum() < 1


def test_multilabel_results_show_thresholds_and_curves_and_no_confusion_matrix(main_win: MainWindow, tmp_path):
    import numpy as np

    from imgcls_gui.engine.evaluation.results import RunResults, SampleResult, roc_pr_curves

    classes = ("trees", "desert", "sea")  # the run's order, not alphabetical: every table keeps it
    rng = np.random.default_rng(0)
    truth = rng.integers(0, 2, (12, 3))
    truth[0] = (1, 1, 1)
    truth[1] = (0, 0, 0)
    probs = np.clip(truth * 0.6 + rng.random((12, 3)) * 0.4, 0, 1)
    roc, pr = roc_pr_curves(probs, truth, classes)
    samples = tuple(SampleResult(i, tmp_path / f"{i}.png", tuple(c for c, t in zip(classes, row) if t),
                                 tuple(c for c, p in zip(classes, probs[i]) if p >= 0.5), tuple(probs[i]), float(i))
                    for i, row in enumerate(truth))
    results = RunResults(tmp_path / "run", "val", "multilabel", classes, 0.4, {"map": 0.9, "f1_macro": 0.8},
                         {c: {"f1": 0.8, "threshold": t} for c, t in zip(classes, (0.3, 0.5, 0.7))}, None,
                         (0.3, 0.5, 0.7), samples, roc, pr)
    view = main_win.panel("training").results
    view.show_results(results)
    assert not view.tabs.isTabEnabled(1)  # no confusion matrix for multi-label
    assert [view.thresholds.item(r, 1).text() for r in range(3)] == ["0.3000", "0.5000", "0.7000"]
    assert [view.thresholds.item(r, 0).text() for r in range(3)] == list(classes)
    assert view.curves.curve_count() == 1 + 3 + 3  # ROC diagonal, then one ROC and one PR curve per label
    assert view.worst.gallery.rowCount() == 12 and view.worst.gallery.items[0].path.name == "11.png"
    assert view.overall.rowCount() == 2 and view.per_class.rowCount() == 3


def test_closing_the_project_stops_its_run_resumably(main_win: MainWindow, qtbot, tmp_path, monkeypatch):
    monkeypatch.setenv("IMGCLS_CACHE_DIR", str(tmp_path / "cache"))
    project = colour_project(qtbot, main_win, tmp_path, per_class=4)
    main_win.state.set_run_config(fast_config(epochs=3))
    panel = main_win.panel("training")
    main_win.show_panel("training")
    panel.session.test_hooks = PAUSE_AFTER_FIRST_EPOCH
    with qtbot.waitSignal(panel.session.started, timeout=WAIT_MS):
        click(qtbot, panel.controls.start_button)
    qtbot.waitUntil(lambda: "paused" in panel.controls.log.toPlainText(), timeout=WAIT_MS)
    with qtbot.waitSignal(panel.session.finished, timeout=WAIT_MS):
        main_win.actions["close_project"].trigger()
    assert "project was closed" in panel.controls.log.toPlainText()
    assert panel.runs.model.runs == [] and panel.controls.start_button.isEnabled()
    runs = list((project / "runs").iterdir())
    assert len(runs) == 1 and (runs[0] / "last.pt").is_file()
