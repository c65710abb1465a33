"""Inference panel on the real window: a project run, ONNX and checkpoint files, folders, cancel, export,
sorting into folders, thresholds, and accepting predictions as labels of unlabeled project images."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from imgcls_gui.engine.deploy.predict import Predictor
from imgcls_gui.gui import errors as gui_errors
from imgcls_gui.gui.main_window import MainWindow

from ..engine.export_fixtures import write_photos
from ..engine.tiny_data import make_class_folders
from .dataset.helpers import drag_enter_then_drop, import_and_wait
from .workflow_helpers import WAIT_MS, fast_config, project_with_images, save_listed_run

CLASSES = ("red", "blue")  # the run's order, not alphabetical: a sort on the way names every prediction wrongly


def project_and_run(qtbot, window: MainWindow, tmp_path: Path, task: str = "multiclass",
                    thresholds: list[float] | None = None) -> tuple[Path, Path]:
    """A project of coloured images plus a calibrated (untrained, fast) run saved in its runs folder."""
    project = project_with_images(qtbot, window, tmp_path, make_class_folders(tmp_path / "colours", per_class=4))
    history = [{"epoch": 0, "val_loss": 0.7, "accuracy": 0.6}]
    run = save_listed_run(project / "runs" / "r1", fast_config(), history, classes=CLASSES,
                          backbone="mobilenet_v3_small", task=task, thresholds=thresholds)
    window.state.notify_runs()
    return project, run


def open_inference(qtbot, window: MainWindow):
    panel = window.panel("inference")
    window.show_panel("inference")
    qtbot.waitUntil(lambda: panel.predictor is not None, timeout=WAIT_MS)
    return panel


def predict_and_wait(qtbot, panel, *inputs: Path) -> None:
    panel.add_inputs(list(inputs))
    qtbot.waitUntil(lambda: panel.worker is None and panel.status.text().startswith("Predicted"), timeout=WAIT_MS)


def test_a_folder_is_predicted_like_the_engine_does_and_exports_csv_and_json(main_win: MainWindow, qtbot, tmp_path):
    _, run = project_and_run(qtbot, main_win, tmp_path)
    photos = write_photos(tmp_path / "new" / "nested", 6)
    (tmp_path / "new" / "broken.jpg").write_bytes(b"not a jpeg")
    panel = open_inference(qtbot, main_win)
    assert "r1" in panel.source.combo.currentText() and "2 classes (red, blue)" in panel.source.info.text()
    predict_and_wait(qtbot, panel, tmp_path / "new")
    rows = {row.prediction.path: row.prediction for row in panel.results.rows}
    assert len(rows) == 7 and rows[tmp_path / "new" / "broken.jpg"].error
    expected = {p.path: p for p in Predictor.load(run).predict(photos, top_k=2)}
    for path, prediction in expected.items():
        assert rows[path].label == prediction.label and rows[path].score == pytest.approx(prediction.score, abs=1e-5)
    assert "1 could not be read" in panel.status.text()

    panel.ask_save_path = lambda parent: str(tmp_path / "out.csv")
    panel.export_button.click()
    table = list(csv.DictReader((tmp_path / "out.csv").open()))
    assert len(table) == 7 and {r["path"]: r["label"] for r in table if not r["error"]} == {
        str(p): expected[p].label for p in photos}
    assert "top2_label" in table[0] and "top3_label" not in table[0]  # two classes: no empty third column
    panel.ask_save_path = lambda parent: str(tmp_path / "out.json")
    panel.export_button.click()
    assert len(json.loads((tmp_path / "out.json").read_text())) == 7


def test_the_panels_model_is_loaded_in_the_child_and_the_app_never_initialises_cuda(main_win: MainWindow, qtbot,
                                                                                      tmp_path, monkeypatch):
    """The app's process never loads the model (issue 20): with a GPU reported to this process, the panel's model
    is described by the child that loaded it, and a folder is predicted (there) without CUDA starting here."""
    import os

    import torch

    from imgcls_gui.engine import ModelDescription

    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)  # "auto" here would now pick CUDA
    _, run = project_and_run(qtbot, main_win, tmp_path)
    panel = open_inference(qtbot, main_win)
    assert isinstance(panel.predictor, ModelDescription) and panel.predictor.pid not in (0, os.getpid())
    assert panel.predictor.source == run and panel.predictor.classes == CLASSES
    photos = write_photos(tmp_path / "new", 3)
    predict_and_wait(qtbot, panel, tmp_path / "new")
    assert len(panel.results.rows) == len(photos) and not torch.cuda.is_initialized()


def test_cancel_keeps_the_results_so_far(main_win: MainWindow, qtbot, tmp_path):
    from imgcls_gui.gui.inference_panel.panel import BATCH_SIZE

    project_and_run(qtbot, main_win, tmp_path)
    panel = open_inference(qtbot, main_win)
    panel.inputs = write_photos(tmp_path / "many", 3 * BATCH_SIZE, size=(64, 64))
    panel.predict()
    assert panel.cancel_button.isEnabled()
    panel.cancel_button.click()  # the worker looks between batches: the first batch is all that comes back
    qtbot.waitUntil(lambda: panel.worker is None, timeout=WAIT_MS)
    assert len(panel.results.rows) == BATCH_SIZE and panel.status.text() == f"Cancelled after {BATCH_SIZE} image(s)."
    assert panel.predict_button.isEnabled() and panel.export_button.isEnabled()


def sort_through_dialog(qtbot, panel, dest: Path, answer_ok: bool = True):
    """Click Sort, type ``dest`` in the dialog, read what it says, then OK (or Cancel); returns the text shown."""
    from PySide6.QtCore import Qt
    from PySide6.QtWidgets import QDialogButtonBox

    panel.sort_button.click()
    dialog = panel.sort_dialog
    assert dialog is not None and dialog.isVisible()
    dialog.destination_edit.selectAll()
    qtbot.keyClicks(dialog.destination_edit, str(dest))
    said = dialog.summary.text() + " | " + dialog.ok_button.text()
    button = dialog.ok_button if answer_ok else dialog.buttons.button(QDialogButtonBox.StandardButton.Cancel)
    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)
    return said


def test_sorting_copies_and_moves_only_after_confirmation(main_win: MainWindow, qtbot, tmp_path):
    project_and_run(qtbot, main_win, tmp_path)
    photos = write_photos(tmp_path / "incoming", 5)
    panel = open_inference(qtbot, main_win)
    predict_and_wait(qtbot, panel, tmp_path / "incoming")
    labels = {row.prediction.path.name: row.prediction.label for row in panel.results.rows}
    said = sort_through_dialog(qtbot, panel, tmp_path / "new" / "sorted")  # neither folder exists yet
    assert str(tmp_path / "new" / "sorted") in said and "a new folder" in said and "Copy 5 image(s)" in said
    qtbot.waitUntil(lambda: panel.worker is None and panel.status.text().startswith("Sorted"), timeout=WAIT_MS)
    assert {p.name: p.parent.name for p in (tmp_path / "new" / "sorted").rglob("*.jpg")} == labels
    assert all(p.is_file() for p in photos)  # copied, not moved
    panel.move_check.setChecked(True)
    said = sort_through_dialog(qtbot, panel, tmp_path / "moved", answer_ok=False)
    assert "Move 5 image(s)" in said and "lose them" in said
    assert not (tmp_path / "moved").exists() and all(p.is_file() for p in photos)
    sort_through_dialog(qtbot, panel, tmp_path / "moved")
    qtbot.waitUntil(lambda: panel.worker is None and panel.status.text().startswith("Sorted"), timeout=WAIT_MS)
    assert not any(p.exists() for p in photos) and len(list((tmp_path / "moved").rglob("*.jpg"))) == 5


def test_a_prediction_corrected_with_a_key_or_the_menu_is_accepted_as_corrected(main_win: MainWindow, qtbot,
                                                                                   tmp_path):
    from PySide6.QtCore import QPoint, Qt

    project_and_run(qtbot, main_win, tmp_path)
    loose = write_photos(tmp_path / "loose", 3)
    import_and_wait(qtbot, main_win, *loose, format="files")
    state = main_win.state
    keys = sorted(state.project.class_names())  # blue, red: natural order, the class list's keys
    panel = open_inference(qtbot, main_win)
    panel.unlabeled_button.click()
    qtbot.waitUntil(lambda: panel.worker is None and panel.status.text().startswith("Predicted"), timeout=WAIT_MS)
    rows = panel.results.rows
    first, second = rows[0], rows[1]
    wanted_first = next(n for n in keys if n != first.prediction.label)  # a label the model did not give
    panel.table.setFocus()
    panel.table.selectRow(0)
    qtbot.keyClick(panel.table, getattr(Qt.Key, f"Key_{keys.index(wanted_first) + 1}"))
    assert panel.results.rows[0].corrected == (wanted_first,)
    assert panel.results.index(0, 1).data().startswith(wanted_first)
    wanted_second = next(n for n in keys if n != second.prediction.label)
    panel.table.selectRow(1)
    panel.table.customContextMenuRequested.emit(QPoint(5, 5))  # a right-click on the row
    menu = panel.corrector.menu
    [action] = [a for a in menu.actions() if a.data() == wanted_second]
    action.trigger()
    assert panel.results.rows[1].corrected == (wanted_second,)
    ids = {0: first.image_id, 1: second.image_id}
    panel.table.selectAll()
    with qtbot.waitSignal(state.labelsChanged):
        panel.accept_selected_button.click()
    labels = state.project.labels_of(ids.values())
    assert labels[ids[0]] == (wanted_first,) and labels[ids[1]] == (wanted_second,)


def test_predictions_become_labels_of_unlabeled_images_least_confident_first(main_win: MainWindow, qtbot, tmp_path):
    project, _ = project_and_run(qtbot, main_win, tmp_path)
    loose = write_photos(tmp_path / "loose", 5)
    import_and_wait(qtbot, main_win, *loose, format="files")
    state = main_win.state
    unlabeled = {r.id for r in state.project.images() if not r.labels}
    assert len(unlabeled) == 5
    panel = open_inference(qtbot, main_win)
    panel.unlabeled_button.click()
    qtbot.waitUntil(lambda: panel.worker is None and panel.status.text().startswith("Predicted"), timeout=WAIT_MS)
    scores = [row.prediction.score for row in panel.results.rows]
    assert len(scores) == 5 and scores == sorted(scores)
    assert {row.image_id for row in panel.results.rows} == unlabeled
    predicted = {row.image_id: row.prediction.label for row in panel.results.rows}
    panel.table.selectRow(0)
    with qtbot.waitSignal(state.labelsChanged):
        panel.accept_selected_button.click()
    assert len(panel.results.rows) == 4
    panel.accept_all_button.click()
    labels = state.project.labels_of(unlabeled)
    assert labels == {i: (predicted[i],) for i in unlabeled} and not panel.results.rows
    state.undo_stack.undo()
    assert sum(1 for v in state.project.labels_of(unlabeled).values() if v) == 1  # one undo step per accept


def test_multilabel_threshold_slider_decides_labels_again(main_win: MainWindow, qtbot, tmp_path):
    project_and_run(qtbot, main_win, tmp_path, task="multilabel", thresholds=[0.2, 0.8])
    write_photos(tmp_path / "new", 6)
    panel = open_inference(qtbot, main_win)
    assert panel.threshold_row.isVisibleTo(panel) and panel.model_thresholds.isChecked()
    predict_and_wait(qtbot, panel, tmp_path / "new")
    limits = dict(zip(CLASSES, (0.2, 0.8)))
    for row in panel.results.rows:
        probs = dict(row.prediction.top_k)
        assert set(row.prediction.labels_over_threshold) == {c for c in CLASSES if probs[c] >= limits[c]}
    panel.model_thresholds.setChecked(False)
    panel.threshold.setValue(99)
    low = sum(len(r.prediction.labels_over_threshold) for r in panel.results.rows)
    panel.threshold.setValue(1)
    high = sum(len(r.prediction.labels_over_threshold) for r in panel.results.rows)
    assert high == 2 * len(panel.results.rows) > low
    assert panel.threshold_label.text() == "0.01"


def test_an_onnx_export_predicts_what_its_checkpoint_predicts(main_win: MainWindow, qtbot, tmp_path):
    from imgcls_gui.engine.deploy.export import export_onnx

    _, run = project_and_run(qtbot, main_win, tmp_path)
    export_onnx(run, tmp_path / "model.onnx")
    photos = write_photos(tmp_path / "new", 12)
    panel = open_inference(qtbot, main_win)
    predict_and_wait(qtbot, panel, tmp_path / "new")
    from_checkpoint = {row.prediction.path: (row.prediction.label, row.prediction.score) for row in panel.results.rows}
    assert len({label for label, _ in from_checkpoint.values()}) == 2  # both classes predicted: names matter
    panel.source.ask_file = lambda parent, kind: str(tmp_path / "model.onnx")
    panel.source.onnx_button.click()
    qtbot.waitUntil(lambda: panel.predictor is not None and panel.predictor.kind == "onnx", timeout=WAIT_MS)
    assert panel.source.info.text().startswith("onnx:")
    predict_and_wait(qtbot, panel, tmp_path / "new")
    for row in panel.results.rows:
        label, score = from_checkpoint[row.prediction.path]
        assert row.prediction.label == label and row.prediction.score == pytest.approx(score, abs=1e-4)
    assert len(panel.results.rows) == len(photos)


def test_a_bad_model_file_shows_a_dialog_and_nothing_runs_without_a_model(main_win: MainWindow, qtbot, tmp_path):
    bad = tmp_path / "broken.pt"
    bad.write_bytes(b"this is not a checkpoint")
    panel = main_win.panel("inference")
    main_win.show_panel("inference")
    assert panel.predictor is None and "No trained model" in panel.source.combo.currentText()
    panel.source.ask_file = lambda parent, kind: str(bad)
    panel.source.checkpoint_button.click()
    qtbot.waitUntil(lambda: bool(gui_errors.open_error_dialogs()), timeout=WAIT_MS)
    assert "broken.pt" in gui_errors.open_error_dialogs()[0].text() and panel.predictor is None
    photos = write_photos(tmp_path / "new", 2)
    panel.ask_files = lambda parent: [str(p) for p in photos]
    panel.add_files_button.click()
    qtbot.waitUntil(lambda: any("Choose a model first" in d.text() for d in gui_errors.open_error_dialogs()),
                    timeout=WAIT_MS)
    assert panel.results.rowCount() == 0 and not panel.predict_button.isEnabled()


def test_a_torchscript_model_from_elsewhere_runs_only_after_the_user_agrees(main_win: MainWindow, qtbot, tmp_path):
    from imgcls_gui.engine.data.preprocess import Preprocessing
    from imgcls_gui.engine.deploy.model_info import ModelInfo

    from ..robustness.corpus import write_code_running_torchscript

    metadata = json.dumps(ModelInfo(CLASSES, "multiclass", Preprocessing.for_size(32)).to_json_dict())
    (tmp_path / "home").mkdir()
    evil = tmp_path / "shared-model.pt"
    markers = write_code_running_torchscript(evil, tmp_path / "home" / "bashrc", metadata)
    panel = main_win.panel("inference")
    main_win.show_panel("inference")
    asked: list[Path] = []

    def refuse(parent, path: Path) -> bool:
        asked.append(path)
        return False

    panel.source.confirm_code = refuse
    panel.source.ask_file = lambda parent, kind: str(evil)
    panel.source.checkpoint_button.click()
    qtbot.waitUntil(lambda: not panel.source.loading.busy and bool(asked), timeout=WAIT_MS)
    assert asked == [evil] and panel.predictor is None and "Not loaded" in panel.source.info.text()
    assert not any(marker.exists() for marker in markers) and not gui_errors.open_error_dialogs()

    panel.source.confirm_code = lambda parent, path: True
    panel.source.load_current()
    qtbot.waitUntil(lambda: panel.predictor is not None, timeout=WAIT_MS)
    assert panel.predictor.kind == "torchscript" and markers[0].exists()  # the user agreed: it loaded


def test_the_code_warning_names_the_file_and_the_risk(qtbot, tmp_path):
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication, QMessageBox

    from imgcls_gui.gui.inference_panel.model_source import confirm_running_code

    seen: list[str] = []

    def answer() -> None:
        box = next(w for w in QApplication.topLevelWidgets() if isinstance(w, QMessageBox) and w.isVisible())
        seen.append(box.text())
        box.button(QMessageBox.StandardButton.No).click()

    QTimer.singleShot(0, answer)
    assert confirm_running_code(None, tmp_path / "model.pt") is False
    assert "model.pt" in seen[0] and "program" in seen[0] and "read, change or delete your files" in seen[0]


def test_dropped_folders_are_predicted(main_win: MainWindow, qtbot, tmp_path):
    project_and_run(qtbot, main_win, tmp_path)
    write_photos(tmp_path / "dropped" / "a", 2)
    write_photos(tmp_path / "dropped" / "b", 3, seed=5)
    panel = open_inference(qtbot, main_win)
    drag_enter_then_drop(panel, [tmp_path / "dropped"])
    qtbot.waitUntil(lambda: panel.worker is None and panel.status.text().startswith("Predicted"), timeout=WAIT_MS)
    assert len(panel.results.rows) == 5


def test_multi_label_keys_toggle_a_label_and_accept_uses_the_toggled_set(main_win: MainWindow, qtbot, tmp_path):
    """No model needed: predictions of two unlabeled project images put in the table as a run would."""
    from PySide6.QtCore import Qt

    from imgcls_gui.engine import Prediction

    main_win.projects.create_project(tmp_path / "proj", task="multilabel")
    state = main_win.state
    main_win.panel("dataset").classes.add_class("cat")
    main_win.panel("dataset").classes.add_class("dog")
    photos = write_photos(tmp_path / "loose", 2)
    import_and_wait(qtbot, main_win, *photos, format="files")
    ids = {str(r.file): r.id for r in state.project.images()}
    panel = main_win.panel("inference")
    main_win.show_panel("inference")
    predictions = [Prediction(p, "cat", 0.9, (("cat", 0.9), ("dog", 0.2)), ("cat",)) for p in photos]
    panel.results.append(predictions, ids)
    panel._update_buttons()
    panel.table.setFocus()
    panel.table.selectRow(0)
    qtbot.keyClick(panel.table, Qt.Key.Key_2)  # dog added to cat
    assert panel.results.rows[0].corrected == ("cat", "dog")
    qtbot.keyClick(panel.table, Qt.Key.Key_1)  # cat toggled off
    assert panel.results.rows[0].corrected == ("dog",)
    assert panel.results.rows[1].corrected is None
    panel.table.selectAll()
    with qtbot.waitSignal(state.labelsChanged):
        panel.accept_selected_button.click()
    first, second = (ids[str(p)] for p in photos)
    assert state.project.labels_of([first, second]) == {first: ("dog",), second: ("cat",)}
