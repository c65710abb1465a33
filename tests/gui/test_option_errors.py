"""An out-of-range option reaches the app in its own words: the editor's label and its panel."""

from __future__ import annotations

import pytest

from imgcls_gui.engine import OptionValueError, RunConfig
from imgcls_gui.gui.errors import describe_exception


@pytest.mark.parametrize(("section", "key", "value", "expected"), [
    ("optim", "lr", -1, "Learning rate (Training panel): -1 is out of range; use a number >= 0."),
    ("freeze", "lr_decay", 2, "Rate factor per group (Model & Freezing panel): 2 is out of range; use a number > 0 "
     "and <= 1."),
    ("model", "image_size", -5, "Image size (Training panel): -5 is out of range; use a whole number from 0 to 4096."),
])
def test_the_dialog_names_the_editor_not_the_key(section, key, value, expected, tmp_path):
    path = tmp_path / "run.yaml"
    path.write_text(f"{section}:\n  {key}: {value}\n")
    with pytest.raises(OptionValueError) as info:
        RunConfig.from_file(path)
    assert str(info.value).startswith(f"{path}: config.{section}.{key}: ")  # the CLI and the file keep the key path
    message, details = describe_exception(info.value)
    assert message == expected and f"config.{section}.{key}" in details


def test_a_project_with_a_hand_edited_bad_option_says_which_editor(main_win, qtbot, tmp_path):
    from imgcls_gui.engine import RUN_CONFIG_KEY, Project

    assert main_win.projects.create_project(tmp_path / "p")
    main_win.actions["close_project"].trigger()
    saved = RunConfig().to_dict()
    saved["optim"]["lr"] = -0.5
    with Project.open(tmp_path / "p") as project:
        project.set_setting(RUN_CONFIG_KEY, saved)
    with qtbot.waitSignal(main_win.state.statusMessage, timeout=10_000,
                          check_params_cb=lambda text: "could not be read" in text) as status:
        assert main_win.projects.open_project(tmp_path / "p")
    assert "Learning rate (Training panel): -0.5 is out of range; use a number >= 0." in status.args[0]
    assert main_win.state.run_config.optim.lr == RunConfig().optim.lr  # the options shown are kept
