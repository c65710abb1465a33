"""Find learning rate in the Training panel: the button beside the rate opens the sweep's dialog, Cancel leaves
the rate alone, and a click on a suggestion writes it into the form and the shared config."""

from __future__ import annotations

import json

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QDialogButtonBox

from imgcls_gui.engine.config import FreezeConfig, OptimConfig
from imgcls_gui.gui.main_window import MainWindow

from .workflow_helpers import WAIT_MS, colour_project, fast_config


def click(qtbot, button) -> None:
    """A left click on ``button`` once it is shown and laid out (a click on a 0x0 button hits nothing)."""
    qtbot.waitUntil(lambda: button.isVisible() and button.isEnabled() and not button.rect().isEmpty())
    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)


def test_find_learning_rate_cancels_then_sweeps_and_one_click_sets_the_rate(main_win: MainWindow, qtbot, tmp_path):
    project = colour_project(qtbot, main_win, tmp_path, per_class=6)
    config = fast_config(feature_cache_dir=str(tmp_path / "features")).replace(
        freeze=FreezeConfig(mode="head"), optim=OptimConfig(optimizer="sgd", lr=0.02, scheduler="constant"))
    main_win.state.set_run_config(config)
    panel = main_win.panel("training")
    main_win.show_panel("training")
    panel.set_advanced(True)  # the rate and its button are advanced options
    editor = panel.form.editor("optim.lr")
    button = panel.form.find_lr_button
    assert button.parentWidget() is editor.parentWidget()  # in the rate's row, beside its editor

    click(qtbot, button)
    dialog = panel.lr_finder.dialog
    worker = dialog.worker
    with qtbot.waitSignal(worker.finished, timeout=WAIT_MS):
        click(qtbot, dialog.buttons.button(QDialogButtonBox.StandardButton.Cancel))
    assert panel.lr_finder.dialog is None and main_win.state.run_config.optim.lr == 0.02

    click(qtbot, button)
    dialog = panel.lr_finder.dialog
    assert dialog.plot.getPlotItem().ctrl.logXCheck.isChecked()  # rates on a log axis
    qtbot.waitUntil(lambda: bool(dialog.choice_buttons), timeout=WAIT_MS)
    result = dialog.result
    assert list(dialog.choice_buttons) == list(result.suggestions) and "valley" in result.suggestions
    xs, _ys = dialog.smooth_curve.getOriginalDataset()
    assert list(xs) == result.lrs and len(result.lrs) >= 5
    assert len(dialog.marks) == 1 + len(result.suggestions)  # the current rate and each suggestion marked
    saved = list(project.glob("lr-find/*/lr_find.json"))
    assert len(saved) == 1 and json.loads(saved[0].read_text())["lrs"] == result.lrs

    click(qtbot, dialog.choice_buttons["valley"])
    chosen = float(f"{result.suggestions['valley']:.2g}")
    assert main_win.state.run_config.optim.lr == chosen
    assert editor.value() == chosen
    assert panel.lr_finder.dialog is None
