"""Runs can be renamed, annotated and deleted (after a confirmation) from the Runs list; names are shown
whole in the compare caption and legend."""

from __future__ import annotations

import json
from pathlib import Path

from PySide6.QtCore import Qt

from imgcls_gui.gui.main_window import MainWindow

from .workflow_helpers import fast_config, save_listed_run

HISTORY = [{"epoch": 0, "val_loss": 0.7, "accuracy": 0.6}]


class Answers:
    """Stands in for the dialogs: records what was asked, answers what the test says."""

    def __init__(self, title=None, notes=None, confirm=False, trash=False) -> None:
        self.title, self.notes, self.confirm, self.trash = title, notes, confirm, trash
        self.asked: list[str] = []

    def ask_title(self, parent, run):
        self.asked.append(f"title {run.name}")
        return self.title

    def ask_notes(self, parent, run):
        return self.notes

    def confirm_delete(self, parent, runs):
        self.asked.append("delete " + ", ".join(run.display_name for run in runs))
        return self.confirm

    def move_to_trash(self, path):
        return self.trash


def runs_panel(main_win: MainWindow, qtbot, tmp_path: Path):
    assert main_win.projects.create_project(tmp_path / "p")
    runs = tmp_path / "p" / "runs"
    save_listed_run(runs / "20261201-010000-mobilenet_v3_small", fast_config(), HISTORY)
    save_listed_run(runs / "20261201-020000-mobilenet_v3_small", fast_config(), HISTORY)
    panel = main_win.panel("training")
    main_win.state.notify_runs()
    return panel


def test_rename_and_notes_are_kept_in_the_run_folder_and_shown(main_win: MainWindow, qtbot, tmp_path):
    panel = runs_panel(main_win, qtbot, tmp_path)
    view = panel.runs
    answers = Answers(title="  head only,  lr 3e-3 ", notes="first try\nfrozen backbone")
    view.edits.ask_title, view.edits.ask_notes = answers.ask_title, answers.ask_notes
    view.table.selectRow(1)
    folder = view.selected()[0].path
    menu = [action.text() for action in view.context_menu().actions()]
    assert menu[-3:] == ["Rename…", "Notes…", "Delete…"]
    view.edits.rename_action.trigger()
    view.edits.notes_action.trigger()
    run = next(run for run in view.model.runs if run.path == folder)
    assert folder.is_dir() and run.display_name == "head only, lr 3e-3"
    assert json.loads((folder / "run-info.json").read_text())["notes"] == "first try\nfrozen backbone"
    row = view.model.runs.index(run)
    assert view.model.data(view.model.index(row, 0)) == "head only, lr 3e-3"
    assert view.model.data(view.model.index(row, 7)) == "first try"
    assert "frozen backbone" in view.model.data(view.model.index(row, 0), Qt.ItemDataRole.ToolTipRole)
    other = next(r for r in view.model.runs if r.path != folder)
    panel.compare_runs(other, run)
    assert "dashed: head only, lr 3e-3." in panel.controls.status_label.text()  # not cut to 15 characters
    assert other.name in panel.controls.status_label.toolTip()


def test_delete_asks_first_names_the_runs_and_never_takes_the_training_run(main_win: MainWindow, qtbot, tmp_path):
    panel = runs_panel(main_win, qtbot, tmp_path)
    view = panel.runs
    answers = Answers(confirm=False)
    view.edits.confirm_delete, view.edits.move_to_trash = answers.confirm_delete, answers.move_to_trash
    view.table.selectRow(0)
    doomed = view.selected()[0]
    view.edits.delete_action.trigger()
    assert answers.asked == [f"delete {doomed.name}"] and doomed.path.is_dir()  # said no
    answers.confirm = True
    view.edits.delete_action.trigger()  # no trash here: deleted for good, as the question said
    assert not doomed.path.exists() and [r.path for r in view.model.runs] != [doomed.path]
    assert view.model.rowCount() == 1
    view.model.active = view.model.runs[0].path  # the run now training
    view.table.selectRow(0)
    view._selection_changed()
    assert not view.edits.delete_action.isEnabled()


def test_compared_run_names_keep_what_tells_them_apart():
    from imgcls_gui.gui.training_panel.controls import short_run_name as _short

    assert _short("20261201-014918-mobilenet_v3_small") == "014918-mobilenet_v3_small"  # the time, not the day
    assert _short("head only, lr 3e-3, first try of the day", 20) == "head only…of the day"
