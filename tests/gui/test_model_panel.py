"""Model & Freezing panel on the real window: backbone table, layer tree, presets, head, weights sources."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QRadioButton

from imgcls_gui.engine.config import FreezeConfig, ModelConfig
from imgcls_gui.engine.models.freezing import apply_freeze_mode
from imgcls_gui.engine.models.build import build_model, count_parameters, head_module
from imgcls_gui.engine.models.registry import get_backbone, list_backbones
from imgcls_gui.gui import errors as gui_errors
from imgcls_gui.gui.main_window import MainWindow
from imgcls_gui.gui.model_panel.freeze_box import freeze_for_prefix

from .workflow_helpers import WAIT_MS

SMALL = "mobilenet_v3_small"


@pytest.fixture
def torch_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty torchvision cache, and no downloads (this machine is offline anyway)."""
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    monkeypatch.setenv("IMGCLS_OFFLINE", "1")
    return tmp_path / "torch"


def open_model_panel(qtbot, window: MainWindow, name: str = SMALL):
    panel = window.panel("model")
    window.show_panel("model")
    window.state.set_run_config(window.state.run_config.replace(model=ModelConfig(name=name, weights="none")))
    qtbot.waitUntil(lambda: len(panel.freeze.tree.groups) > 0 and panel.structure_key() in panel.group_cache,
                    timeout=WAIT_MS)
    return panel


def test_table_lists_the_registry_and_selecting_a_row_sets_the_backbone(main_win: MainWindow, qtbot, torch_home):
    panel = open_model_panel(qtbot, main_win)
    names = [panel.backbones.index(r, 0).data() for r in range(panel.backbones.rowCount())]
    assert names == [spec.name for spec in list_backbones()]
    row = panel.backbones.row_of("resnet18")
    assert panel.backbones.index(row, 2).data() == f"{get_backbone('resnet18').params_millions:.1f} M"
    qtbot.waitUntil(lambda: panel.backbones.cached is not None, timeout=WAIT_MS)
    assert panel.backbones.index(row, 4).data() == "not cached"
    panel.table.selectRow(row)
    assert main_win.state.run_config.model.name == "resnet18"
    assert "resnet18" in panel.description.text()
    qtbot.waitUntil(lambda: [g.name for g in panel.freeze.tree.groups][:1] == ["stem"], timeout=WAIT_MS)
    assert [g.name for g in panel.freeze.tree.groups] == [*get_backbone("resnet18").group_names, "head"]


@pytest.mark.parametrize("freeze", [FreezeConfig("none"), FreezeConfig("head"), FreezeConfig("first-n", groups=3),
                                    FreezeConfig("two-phase", head_epochs=2, lr_decay=0.5)])
def test_totals_match_the_engine_for_each_preset(main_win: MainWindow, qtbot, torch_home, freeze: FreezeConfig):
    panel = open_model_panel(qtbot, main_win)
    main_win.state.set_run_config(main_win.state.run_config.replace(freeze=freeze))
    model = build_model(ModelConfig(name=SMALL, weights="none"), 2)
    apply_freeze_mode(model, freeze.mode, freeze.groups)
    trainable, frozen = count_parameters(model)
    tree = panel.freeze.tree
    assert tree.total_params() == trainable + frozen
    assert tree.frozen_params() == frozen
    checked = [tree.tree_model.item(r, 0).checkState() == Qt.CheckState.Checked for r in range(len(tree.groups))]
    assert sum(checked) == panel.freeze.plan().frozen_count and not checked[-1]  # the head never freezes
    factors = [tree.tree_model.item(r, 3).text() for r in range(len(tree.groups))]
    assert (factors[-1] == "1") == (freeze.mode == "two-phase")
    if freeze.mode == "two-phase":
        assert factors[0] == f"{0.5 ** (len(tree.groups) - 1):.3g}"


def test_checking_a_group_freezes_a_prefix_and_sets_the_mode(main_win: MainWindow, qtbot, torch_home):
    panel = open_model_panel(qtbot, main_win)
    main_win.state.set_run_config(main_win.state.run_config.replace(freeze=FreezeConfig("none")))
    tree = panel.freeze.tree
    tree.tree_model.item(2, 0).setCheckState(Qt.CheckState.Checked)
    assert main_win.state.run_config.freeze.mode == "first-n" and main_win.state.run_config.freeze.groups == 3
    assert [tree.tree_model.item(r, 0).checkState() == Qt.CheckState.Checked for r in range(4)] == [True] * 3 + [False]
    tree.tree_model.item(tree.body_count - 1, 0).setCheckState(Qt.CheckState.Checked)
    assert main_win.state.run_config.freeze.mode == "head"
    tree.tree_model.item(0, 0).setCheckState(Qt.CheckState.Unchecked)
    assert main_win.state.run_config.freeze.mode == "none"
    assert panel.freeze.presets.checkedButton().objectName() == "freeze_none"


def test_presets_slider_and_two_phase_edit_the_config(main_win: MainWindow, qtbot, torch_home):
    panel = open_model_panel(qtbot, main_win)
    box = panel.freeze
    box.findChild(QRadioButton, "freeze_first-n").click()
    assert main_win.state.run_config.freeze.mode == "first-n" and box.slider.isEnabled()
    box.slider.setValue(5)
    assert main_win.state.run_config.freeze == FreezeConfig("first-n", groups=5)
    assert box.tree.frozen_params() == sum(g.params for g in box.tree.groups[:5])
    box.findChild(QRadioButton, "freeze_two-phase").click()
    box.head_epochs.setValue(3)
    box.lr_decay.setValue(0.5)
    freeze = main_win.state.run_config.freeze
    assert (freeze.mode, freeze.head_epochs, freeze.lr_decay) == ("two-phase", 3, 0.5)
    assert "phase 1" in box.totals.text()


def test_head_options_change_the_config_and_the_head_size(main_win: MainWindow, qtbot, torch_home):
    panel = open_model_panel(qtbot, main_win)
    before = panel.freeze.tree.groups[-1].params
    panel.hidden_size.setValue(128)
    panel.dropout.setValue(0.25)
    model = main_win.state.run_config.model
    assert (model.hidden_size, model.dropout) == (128, 0.25)
    qtbot.waitUntil(lambda: panel.structure_key() in panel.group_cache, timeout=WAIT_MS)
    head = panel.freeze.tree.groups[-1]
    engine_head = sum(p.numel() for p in head_module(build_model(model, 2)).parameters())
    assert head.params == engine_head and head.params > before


def test_pure_prefix_rules():
    assert freeze_for_prefix(0, 5, FreezeConfig("head")).mode == "none"
    assert freeze_for_prefix(5, 5, FreezeConfig("none")).mode == "head"
    assert freeze_for_prefix(2, 5, FreezeConfig("two-phase", head_epochs=4)) == FreezeConfig("first-n", 2, 4)


def test_offline_imagenet_download_shows_the_engines_message_and_the_panel_stays_usable(
        main_win: MainWindow, qtbot, torch_home):
    panel = open_model_panel(qtbot, main_win)
    panel.weights.findChild(QRadioButton, "weights_imagenet").click()
    assert main_win.state.run_config.model.weights == "imagenet"
    qtbot.waitUntil(lambda: panel.weights.prepare_button.isEnabled(), timeout=WAIT_MS)
    panel.weights.prepare_button.click()
    qtbot.waitUntil(lambda: bool(gui_errors.open_error_dialogs()), timeout=WAIT_MS)
    message = gui_errors.open_error_dialogs()[0].text()
    assert "not cached" in message and "--weights none" in message
    assert main_win.state.run_config.model.weights == "imagenet"  # the choice stays: it works once online
    panel.table.selectRow(panel.backbones.row_of("resnet18"))
    assert main_win.state.run_config.model.name == "resnet18"


def test_cached_imagenet_weights_are_found_and_load_through_torchvision(main_win: MainWindow, qtbot, torch_home):
    import torchvision

    from imgcls_gui.engine.models.build import weights_cache_path

    path = weights_cache_path(SMALL)
    path.parent.mkdir(parents=True)
    torch.save(torchvision.models.mobilenet_v3_small(weights=None).state_dict(), path)
    panel = open_model_panel(qtbot, main_win)
    qtbot.waitUntil(lambda: panel.backbones.cached is not None, timeout=WAIT_MS)
    assert panel.backbones.index(panel.backbones.row_of(SMALL), 4).data() == "cached"
    assert panel.backbones.index(panel.backbones.row_of("resnet18"), 4).data() == "not cached"
    panel.weights.findChild(QRadioButton, "weights_imagenet").click()
    assert str(path) in panel.weights.status.text()
    panel.weights.prepare()
    with qtbot.waitSignal(panel.weights.cacheChanged, timeout=WAIT_MS):  # fires only when the build succeeded
        pass
    assert not gui_errors.open_error_dialogs() and str(path) in panel.weights.status.text()


def test_a_weights_file_that_does_not_fit_is_refused_with_a_dialog(main_win: MainWindow, qtbot, torch_home, tmp_path):
    bad = tmp_path / "garbage.pt"
    bad.write_bytes(b"this is not a weights file")
    panel = open_model_panel(qtbot, main_win)
    panel.weights.ask_path = lambda parent, kind: str(bad)
    panel.weights.findChild(QRadioButton, "weights_file").click()
    qtbot.waitUntil(lambda: bool(gui_errors.open_error_dialogs()), timeout=WAIT_MS)
    assert "garbage.pt" in gui_errors.open_error_dialogs()[0].text()
    assert main_win.state.run_config.model.weights == "none"  # a bad file never reaches a run
    assert "garbage.pt" in panel.weights.status.text()


def test_a_fitting_weights_file_and_a_cancelled_choice(main_win: MainWindow, qtbot, torch_home, tmp_path):
    import torchvision

    good = tmp_path / "mine.pth"
    torch.save(torchvision.models.mobilenet_v3_small(weights=None).state_dict(), good)
    panel = open_model_panel(qtbot, main_win)
    panel.weights.ask_path = lambda parent, kind: ""
    panel.weights.findChild(QRadioButton, "weights_run").click()
    assert main_win.state.run_config.model.weights == "none"
    assert panel.weights.buttons.checkedButton().objectName() == "weights_none"
    panel.weights.ask_path = lambda parent, kind: str(good)
    panel.weights.findChild(QRadioButton, "weights_file").click()
    assert main_win.state.run_config.model.weights == str(good)
    qtbot.waitUntil(lambda: panel.weights.worker is None, timeout=WAIT_MS)
    assert "fits" in panel.weights.status.text() and not gui_errors.open_error_dialogs()
