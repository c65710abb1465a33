"""The Export dialog: reachable from the Runs list, the Results view and File ▸ Export Model; it runs the
engine's export in a worker, shows the parity figure and the destination, and its ONNX file is one
that ``imgcls predict`` reads."""

from __future__ import annotations

import csv
import os
import subprocess
import sys
from pathlib import Path

from PySide6.QtCore import QObject, Slot

from imgcls_gui.engine import idle_children
from imgcls_gui.gui import errors as gui_errors
from imgcls_gui.gui.main_window import MainWindow

from .workflow_helpers import WAIT_MS, colour_project, fast_config, save_listed_run

EXPORT_MS = 600_000  # one ONNX export with its parity check: ~2 min on a busy 2-core machine
HISTORY = [{"epoch": 0, "val_loss": 0.7, "accuracy": 0.6}, {"epoch": 1, "val_loss": 0.5, "accuracy": 0.8}]


class FolderOpener(QObject):
    def __init__(self) -> None:
        super().__init__()
        self.opened: list[Path] = []

    @Slot(object)
    def open(self, folder: Path) -> bool:
        self.opened.append(folder)
        return True


def trained_run(project: Path, name: str = "20261201-010000-mobilenet_v3_small") -> Path:
    return save_listed_run(project / "runs" / name, fast_config(), HISTORY, classes=("blue", "red"),
                           backbone="mobilenet_v3_small")


def test_export_from_the_runs_list_writes_a_verified_onnx_that_imgcls_predict_reads(
        main_win: MainWindow, qtbot, tmp_path: Path):
    project = colour_project(qtbot, main_win, tmp_path, per_class=3)
    run_dir = trained_run(project)
    panel = main_win.panel("training")
    main_win.show_panel("training")
    main_win.state.notify_runs()
    panel.runs.table.selectRow(0)
    assert panel.runs.export_button.isEnabled()
    menu = panel.runs.context_menu()
    assert "Export…" in [a.text() for a in menu.actions() if a.isEnabled()]
    panel.runs.export_button.click()
    dialog = main_win.export_dialog
    assert dialog is not None and dialog.isVisible() and dialog.run_dir() == run_dir
    out = Path(dialog.out_edit.text())
    assert out == project / "exports" / f"{run_dir.name}.onnx"
    dialog.bundle_check.setChecked(True)
    opener = FolderOpener()
    dialog.open_folder = opener.open

    with qtbot.waitSignal(dialog.exported, timeout=EXPORT_MS):
        assert dialog.start()
    assert not gui_errors.open_error_dialogs()
    assert out.is_file() and (project / "exports" / f"{run_dir.name}-bundle" / "predict.py").is_file()
    assert dialog.export_pid in [child.pid for child in idle_children()]  # written by the warm child, kept warm
    status = dialog.status.text()
    assert str(out) in status and "verified: largest probability difference vs PyTorch" in status
    assert dialog.open_button.isEnabled()
    dialog.open_button.click()
    assert opener.opened == [out.parent]

    results = tmp_path / "predictions.csv"
    proc = subprocess.run([sys.executable, "-m", "imgcls_gui.cli", "predict", str(out), str(tmp_path / "colours"),
                           "--out", str(results), "--quiet"], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    rows = list(csv.DictReader(results.open()))
    assert len(rows) == 6 and {row["label"] for row in rows} <= {"blue", "red"}


def test_export_is_in_the_file_menu_and_the_results_view(main_win: MainWindow, qtbot, tmp_path: Path):
    assert not main_win.actions["export_model"].isEnabled()  # no project yet
    project = colour_project(qtbot, main_win, tmp_path, per_class=3)
    older = trained_run(project, "20261201-010000-older")
    newer = trained_run(project, "20261201-020000-newer")
    assert main_win.actions["export_model"].isEnabled()
    main_win.actions["export_model"].trigger()
    dialog = main_win.export_dialog
    assert dialog.run_box.count() == 2 and dialog.run_dir() == newer  # the newest run first
    dialog.set_format("torchscript")
    assert dialog.out_edit.text().endswith(".pt")
    dialog.reject()

    panel = main_win.panel("training")
    panel.results.run_dir = older  # as after a run or Open: the view shows this run
    panel.results.export_button.setEnabled(True)
    panel.results.export_button.click()
    assert main_win.export_dialog is not dialog and main_win.export_dialog.run_dir() == older
    main_win.export_dialog.reject()


def test_an_export_that_fails_says_so_in_the_dialog(main_win: MainWindow, qtbot, tmp_path: Path):
    project = colour_project(qtbot, main_win, tmp_path, per_class=3)
    trained_run(project)
    dialog = main_win.show_export_dialog(None)
    dialog.out_edit.setText(str(tmp_path / "model.txt"))  # ONNX needs .onnx
    assert dialog.start()
    qtbot.waitUntil(lambda: dialog.worker is None, timeout=WAIT_MS)
    assert "Nothing was exported" in dialog.status.text() and ".onnx" in dialog.status.text()
    assert dialog.export_button.isEnabled() and not (tmp_path / "model.txt").exists()


def test_a_child_killed_mid_export_leaves_the_app_up_with_the_cause_and_the_next_export_works(
        main_win: MainWindow, qtbot, tmp_path: Path, monkeypatch):
    project = colour_project(qtbot, main_win, tmp_path, per_class=3)
    run_dir = trained_run(project)
    dialog = main_win.show_export_dialog(run_dir)
    dialog.set_format("torchscript")
    out = Path(dialog.out_edit.text())
    monkeypatch.setenv("IMGCLS_TEST_JOB_SIGNAL", "export:SIGKILL:1")  # the child kills itself at its first event
    assert dialog.start()
    qtbot.waitUntil(lambda: dialog.worker is None, timeout=EXPORT_MS)
    status = dialog.status.text()
    assert "Nothing was exported" in status and "signal SIGKILL" in status and "app keeps running" in status
    assert gui_errors.open_error_dialogs() and main_win.isVisible() and not out.exists()
    for error in gui_errors.open_error_dialogs():
        error.close()

    monkeypatch.delenv("IMGCLS_TEST_JOB_SIGNAL")
    with qtbot.waitSignal(dialog.exported, timeout=EXPORT_MS):  # a fresh child
        assert dialog.start()
    assert out.is_file() and dialog.reports[0].path == out and dialog.export_pid != os.getpid()
    dialog.reject()


def test_the_dialog_asks_before_replacing_files_and_no_means_nothing_is_written(
        main_win: MainWindow, qtbot, tmp_path: Path):
    from imgcls_gui.gui.export_dialog import ExportPlan, replaced_files

    project = colour_project(qtbot, main_win, tmp_path, per_class=3)
    run_dir = trained_run(project)
    main_win.state.notify_runs()
    from imgcls_gui.gui.export_dialog import ExportDialog

    dialog = ExportDialog(project / "runs", run_dir)
    qtbot.addWidget(dialog)
    bundle = tmp_path / "my-folder"
    bundle.mkdir()
    (bundle / "README.md").write_text("my own notes")
    (bundle / "predict.py").write_text("print('mine')")
    dialog.set_format("torchscript")
    dialog.out_edit.setText(str(run_dir / "best.pt"))
    dialog.bundle_check.setChecked(True)
    dialog.bundle_edit.setText(str(bundle))
    asked: list[list[str]] = []

    def refuse(parent, files: list[str]) -> bool:
        asked.append(files)
        return False

    dialog.confirm_replace = refuse
    before = (run_dir / "best.pt").read_bytes()
    assert dialog.start() is False and dialog.worker is None
    assert asked == [[f"{run_dir / 'best.pt'} (the run's own checkpoint: the trained model would be lost)",
                      str(bundle / "README.md"), str(bundle / "predict.py")]]
    assert "Nothing exported" in dialog.status.text()
    assert (run_dir / "best.pt").read_bytes() == before and sorted(p.name for p in bundle.iterdir()) == [
        "README.md", "predict.py"]
    fresh = ExportPlan(run_dir, "onnx", tmp_path / "new.onnx", tmp_path / "new-bundle")
    assert replaced_files(fresh) == []  # nothing to replace: no question


def test_int8_export_shows_the_parity_report_and_writes_a_model_imgcls_reads(
        main_win: MainWindow, qtbot, tmp_path: Path):
    from imgcls_gui.engine import Predictor, load_dataset, read_quantization_report, split_dataset

    project = colour_project(qtbot, main_win, tmp_path, per_class=4)
    data = tmp_path / "colours"
    run_dir = save_listed_run(project / "runs" / "20261201-010000-int8", fast_config(), HISTORY,
                              classes=("blue", "red"), backbone="mobilenet_v3_small", data_path=str(data))
    dataset = load_dataset(data)
    (run_dir / "split.json").write_text(split_dataset(dataset, val_fraction=0.5).to_json(dataset), encoding="utf-8")
    main_win.state.notify_runs()
    dialog = main_win.show_export_dialog(run_dir)
    assert not dialog.int8_row.isEnabled()  # the INT8 settings mean nothing for fp32
    dialog.set_format("onnx_int8")
    out = Path(dialog.out_edit.text())
    assert out == project / "exports" / f"{run_dir.name}-int8.onnx" and dialog.int8_row.isEnabled()
    dialog.calibration_spin.setValue(4)
    dialog.agreement_spin.setValue(50.0)

    with qtbot.waitSignal(dialog.exported, timeout=EXPORT_MS):
        assert dialog.start()
    assert not gui_errors.open_error_dialogs()
    status = dialog.status.text()
    assert str(out) in status and "top-1 agreement with fp32" in status and "latency on this machine" in status
    report = read_quantization_report(out)
    assert report.calibration_images == 4 and report.min_agreement == 0.5
    assert (out.parent / f"{out.stem}.quantization.json").is_file()
    predictions = Predictor.load(out).predict(sorted(data.rglob("*.png")))  # as the Inference panel loads it
    assert {p.label for p in predictions} <= {"blue", "red"} and not any(p.error for p in predictions)
    dialog.set_format("onnx")
    assert Path(dialog.out_edit.text()).name == f"{run_dir.name}.onnx"  # the dialog's own name follows the format
    dialog.reject()
