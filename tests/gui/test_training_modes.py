"""The Training panel's simple mode: presets, model size and epochs by default, "Advanced options"
showing the rest; one draft RunConfig behind both, and the toggle kept across a reopen."""

from __future__ import annotations

from PySide6.QtCore import QPoint, Qt
from PySide6.QtWidgets import QCheckBox

from imgcls_gui.gui.main_window import MainWindow
from imgcls_gui.gui.training_panel.presets import MODEL_SIZES, PRESETS

from .workflow_helpers import colour_project, wait_workers


def click(qtbot, widget) -> None:
    """A left click as a user's mouse gives it, on a check box's box (the widget must be shown and enabled)."""
    assert widget.isVisible() and widget.isEnabled(), widget.objectName()
    qtbot.waitUntil(lambda: widget.height() > 0)  # laid out again after sections were shown or hidden
    where = QPoint(8, widget.height() // 2) if isinstance(widget, QCheckBox) else QPoint()
    qtbot.mouseClick(widget, Qt.MouseButton.LeftButton, pos=where if not where.isNull() else widget.rect().center())


def test_the_panel_offers_the_presets_imgcls_train_takes():
    from imgcls_gui import engine

    assert PRESETS is engine.PRESETS  # one table: the simple mode's buttons and `imgcls train --preset`


def advanced_editors(panel) -> list:
    return [editor for form in panel.form.forms[1:] for editor in form.editors.values()] + list(
        panel.augmentation.form.editors.values())


def started_config(panel, monkeypatch):
    """The RunConfig that Start would train with (the run itself is not started, and the weights cache is
    not looked at: ImageNet weights missing from it are test_missing_weights.py's business)."""
    started: list = []
    monkeypatch.setattr(panel, "_begin", lambda config, run_dir, dataset, resume: started.append(config))
    assert panel._start(check_weights=False)
    return started[-1]


def test_the_panel_opens_in_simple_mode_with_presets_size_and_epochs_only(main_win: MainWindow):
    panel = main_win.panel("training")
    main_win.show_panel("training")
    basics = panel.form.basics
    shown = [*basics.preset_buttons.values(), basics.size, basics.form.editors["train.epochs"], basics.advanced]
    assert all(widget.isVisible() for widget in shown)
    assert not basics.advanced.isChecked()
    assert not any(editor.isVisible() for editor in advanced_editors(panel))
    assert not panel.augment_box.isVisible()
    assert basics.size.currentData() == main_win.state.run_config.model.name == "resnet18"
    for preset in PRESETS:  # each preset's tooltip names what it sets, in the option table's words
        tip = basics.preset_buttons[preset.name].toolTip()
        assert preset.purpose in tip and "Epochs:" in tip and "Freezing:" in tip and "Image size:" in tip


def test_a_preset_sets_the_options_it_names_and_keeps_advanced_edits(main_win: MainWindow, qtbot, tmp_path,
                                                                     monkeypatch):
    colour_project(qtbot, main_win, tmp_path, per_class=3)
    panel = main_win.panel("training")
    main_win.show_panel("training")
    basics = panel.form.basics
    click(qtbot, basics.advanced)
    lr = panel.form.editor("optim.lr")
    lr.setValue(5e-4)  # an advanced edit, made before any preset
    click(qtbot, basics.advanced)  # back to simple: the edit stays in the draft config
    assert not lr.isVisible()
    for preset in PRESETS:
        click(qtbot, basics.preset_buttons[preset.name])
        config = started_config(panel, monkeypatch)
        for name, value in preset.values:
            section, key = name.split(".")
            assert getattr(getattr(config, section), key) == value, (preset.name, name)
        assert config.optim.lr == 5e-4 and config.model.name == "resnet18"
        assert [p.name for p in PRESETS if basics.preset_buttons[p.name].isChecked()] == [preset.name]
    basics.form.editors["train.epochs"].setValue(7)  # a custom edit: no preset is highlighted any more
    assert not any(button.isChecked() for button in basics.preset_buttons.values())
    assert started_config(panel, monkeypatch).train.epochs == 7
    wait_workers(qtbot)


def test_model_size_writes_the_backbone_and_shows_one_chosen_elsewhere(main_win: MainWindow, qtbot):
    panel = main_win.panel("training")
    main_win.show_panel("training")
    size = panel.form.basics.size
    small = size.findData(MODEL_SIZES[0][1])
    size.setCurrentIndex(small)
    assert main_win.state.run_config.model.name == "mobilenet_v3_small"
    model = main_win.panel("model")
    assert model.backbones.specs[model.table.currentIndex().row()].name == "mobilenet_v3_small"
    config = main_win.state.run_config
    main_win.state.set_run_config(config.replace(model=config.model.__class__(name="efficientnet_b0")))
    assert size.currentData() == "efficientnet_b0" and "efficientnet_b0" in size.currentText()
    assert size.count() == len(MODEL_SIZES) + 1
    size.setCurrentIndex(size.findData("convnext_tiny"))
    assert main_win.state.run_config.model.name == "convnext_tiny" and size.count() == len(MODEL_SIZES)
    wait_workers(qtbot)


def test_advanced_shows_every_editor_and_the_choice_survives_a_reopen(main_win: MainWindow, qtbot):
    panel = main_win.panel("training")
    main_win.show_panel("training")
    click(qtbot, panel.form.basics.advanced)
    assert all(editor.isVisible() for editor in advanced_editors(panel))
    assert panel.augment_box.isVisible() and panel.form.basics.size.isVisible()
    main_win.close()
    reopened = MainWindow(probe_device=False)
    qtbot.addWidget(reopened)
    reopened.show()
    reopened.show_panel("training")
    again = reopened.panel("training")
    assert again.form.basics.advanced.isChecked()
    assert all(editor.isVisible() for editor in advanced_editors(again))
    click(qtbot, again.form.basics.advanced)
    reopened.close()
    last = MainWindow(probe_device=False)
    qtbot.addWidget(last)
    last.show()
    last.show_panel("training")
    assert not last.panel("training").form.basics.advanced.isChecked()
    assert not last.panel("training").augment_box.isVisible()
    last.close()
