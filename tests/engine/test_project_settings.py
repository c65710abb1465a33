"""Per-project settings in project.sqlite: stored as JSON, one transaction each, kept across reopening."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from imgcls_gui.engine.config import RunConfig, TrainConfig
from imgcls_gui.engine.project.settings import RUN_CONFIG_KEY
from imgcls_gui.engine.project.store import PROJECT_FILE, Project, ProjectReadOnlyError


def test_a_saved_run_config_comes_back_after_reopening(tmp_path: Path):
    config = RunConfig(train=TrainConfig(epochs=7))
    with Project.create(tmp_path / "p") as project:
        assert project.get_setting(RUN_CONFIG_KEY) is None and project.get_setting("x", 3) == 3
        project.set_setting(RUN_CONFIG_KEY, RunConfig().to_dict())
        project.set_setting(RUN_CONFIG_KEY, config.to_dict())  # replaces
    with Project.open(tmp_path / "p", read_only=True) as project:
        assert RunConfig.from_dict(project.get_setting(RUN_CONFIG_KEY)) == config
        with pytest.raises(ProjectReadOnlyError):
            project.set_setting("x", 1)


def test_a_project_made_before_settings_existed_gets_the_table_on_first_write(tmp_path: Path):
    Project.create(tmp_path / "old").close()
    with sqlite3.connect(tmp_path / "old" / PROJECT_FILE) as conn:
        conn.execute("DROP TABLE settings")
    with Project.open(tmp_path / "old", read_only=True) as project:
        assert project.get_setting(RUN_CONFIG_KEY, "none") == "none"
    with Project.open(tmp_path / "old") as project:
        project.set_setting("notes", {"a": [1, 2]})
        assert project.get_setting("notes") == {"a": [1, 2]}


def test_an_unreadable_setting_reads_as_missing(tmp_path: Path):
    with Project.create(tmp_path / "p") as project:
        project.set_setting("k", 1)
    with sqlite3.connect(tmp_path / "p" / PROJECT_FILE) as conn:
        conn.execute("UPDATE settings SET value = '{not json' WHERE key = 'k'")
    with Project.open(tmp_path / "p") as project:
        assert project.get_setting("k", "default") == "default"
