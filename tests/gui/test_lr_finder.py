"""Find learning rate in the Training panel: the button beside the rate opens the sweep's dialog, the sweep runs
in the warm child process with its points streaming to the plot, Cancel (at once or mid-sweep) leaves the rate
alone, and a click on a suggestion writes it into the form and the shared config."""

from __future__ import annotations

import json
import os

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QDialogButtonBox

from imgcls_gui.engine import idle_children, live_children
from imgcls_gui.engine.config import FreezeConfig, OptimConfig
from imgcls_gui.gui.main_window import MainWindow

from .workflow_helpers import WAIT_MS, colour_project, fast_config


def click(qtbot, button) -> None:
    """A left click on ``button`` once it is shown and laid out (a click on a 0x0 button hits nothing)."""
    qtbot.waitUntil(lambda: button.isVisible() and button.isEnabled() and not button.rect().isEmpty())
    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)


def plotted(curve) -> int:
    """How many points ``curve`` draws."""
    xs, _ys = curve.getOriginalDataset()
    return 0 if xs is None else len(xs)


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

    # Mid-sweep (each step slowed by a test hook in the child): the points reach the plot live, then Cancel is the
    # job's Stop: the sweep ends between steps, nothing is saved, the rate stays, and the child stays warm.
    panel.lr_finder.test_hooks = {"lr_step_delay_s": 0.05}
    click(qtbot, button)
    dialog = panel.lr_finder.dialog
    qtbot.waitUntil(lambda: plotted(dialog.smooth_curve) >= 3, timeout=WAIT_MS)
    busy = {child.pid for child in live_children()} - {child.pid for child in idle_children()}
    assert len(busy) == 1 and os.getpid() not in busy  # the sweep's child
    worker = dialog.worker
    with qtbot.waitSignal(worker.finished, timeout=WAIT_MS):
        click(qtbot, dialog.buttons.button(QDialogButtonBox.StandardButton.Cancel))
    assert panel.lr_finder.dialog is None and main_win.state.run_config.optim.lr == 0.02 and editor.value() == 0.02
    assert not list(project.glob("lr-find/*/lr_find.json"))
    assert busy <= {child.pid for child in idle_children()}  # stopped between steps, not ended
    panel.lr_finder.test_hooks = {}

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
    assert dialog.sweep_pid != os.getpid() and dialog.sweep_pid in busy  # swept by the warm child, reused

    click(qtbot, dialog.choice_buttons["valley"])
    chosen = float(f"{result.suggestions['valley']:.2g}")
    assert main_win.state.run_config.optim.lr == chosen
    assert editor.value() == chosen
    assert panel.lr_finder.dialog is None
