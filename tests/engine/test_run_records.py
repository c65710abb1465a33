"""What the app records about a run besides training it: a failure and its reason (resuming clears it),
a title and notes, and deleting it."""

from __future__ import annotations

from pathlib import Path

from imgcls_gui.engine.config import RunConfig
import pytest

from imgcls_gui.engine.errors import ImgclsError
from imgcls_gui.engine.project.runs import (clear_failure, delete_run, list_runs, mark_failed, read_run,
                                            set_run_info)


def test_a_failed_run_is_listed_with_its_reason_even_without_a_config_of_its_own(tmp_path: Path):
    run = tmp_path / "runs" / "20261201-000000-resnet18"
    mark_failed(run, "ImageNet weights for resnet18 are not cached", RunConfig())
    [summary] = list_runs(tmp_path / "runs")
    assert (summary.status, summary.failure, summary.resumable) == ("failed", "ImageNet weights for resnet18 are not cached", False)
    clear_failure(run)
    assert read_run(run).status == "not started"


def test_an_unreadable_failure_record_still_reads_as_failed(tmp_path: Path):
    run = tmp_path / "run"
    mark_failed(run, "x", RunConfig())
    (run / "failed.json").write_text("{oops")
    assert read_run(run).status == "failed" and "unreadable" in read_run(run).failure


def test_title_and_notes_are_kept_beside_the_run_and_the_folder_keeps_its_name(tmp_path: Path):
    run = tmp_path / "20261201-000000-resnet18"
    mark_failed(run, "x", RunConfig())
    set_run_info(run, title="  baseline \n run ")
    set_run_info(run, notes="lr too high\n")
    summary = read_run(run)
    assert (summary.name, summary.display_name, summary.title, summary.notes) == (
        run.name, "baseline run", "baseline run", "lr too high")
    (run / "run-info.json").write_text("[1, 2]")  # damaged: ignored, never fatal
    assert read_run(run).display_name == run.name


def test_delete_run_removes_a_run_folder_and_refuses_anything_else(tmp_path: Path):
    run = tmp_path / "run"
    mark_failed(run, "x", RunConfig())
    delete_run(run)
    assert not run.exists()
    (tmp_path / "photos").mkdir()
    with pytest.raises(ImgclsError, match="not a run folder"):
        delete_run(tmp_path / "photos")
    assert (tmp_path / "photos").is_dir()
