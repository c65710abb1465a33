"""The Review view's "keep the label" answers in project.sqlite: kept across reopening, bound to the labels the
image had, gone with the image, and a project made before the table existed gets it on the first keep."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from imgcls_gui.engine import open_dataset
from imgcls_gui.engine.project.store import PROJECT_FILE, Project, ProjectReadOnlyError

from .tiny_data import make_class_folders


def _project_with_images(tmp_path: Path) -> list[int]:
    data = make_class_folders(tmp_path / "data", classes=("red", "blue"), per_class=2, size=8)
    with Project.create(tmp_path / "p") as project:
        return list(project.import_dataset(open_dataset(data)).added_ids)


def test_a_kept_issue_survives_reopening_and_goes_with_its_image(tmp_path: Path):
    first, second, *_ = _project_with_images(tmp_path)
    with Project.open(tmp_path / "p") as project:
        kept = project.kept_issues
        kept.keep(first, "label", ("red",))
        kept.keep(first, "outlier", ("red",))
        kept.keep(second, "duplicate", ("red",))
        kept.forget(first, "outlier")  # undo
    with Project.open(tmp_path / "p", read_only=True) as project:
        assert project.kept_issues.all() == {(first, "label"): ("red",), (second, "duplicate"): ("red",)}
        assert project.kept_issues.is_kept(first, "label", ("red",))
        assert not project.kept_issues.is_kept(first, "label", ("blue",))  # relabelled since: the answer lapses
        with pytest.raises(ProjectReadOnlyError):
            project.kept_issues.keep(first, "outlier", ("red",))
    with Project.open(tmp_path / "p") as project:
        project.remove_images([second])
        assert project.kept_issues.all() == {(first, "label"): ("red",)}


def test_a_project_made_before_kept_issues_existed_gets_the_table_on_first_keep(tmp_path: Path):
    first, *_ = _project_with_images(tmp_path)
    with sqlite3.connect(tmp_path / "p" / PROJECT_FILE) as conn:
        conn.execute("DROP TABLE kept_issues")
    with Project.open(tmp_path / "p", read_only=True) as project:
        assert project.kept_issues.all() == {}
    with Project.open(tmp_path / "p") as project:
        project.kept_issues.forget(first, "label")  # nothing to forget: no error
        project.kept_issues.keep(first, "label", ("blue",))
        assert project.kept_issues.all() == {(first, "label"): ("blue",)}
