"""A run that ended in an error is listed as failed with its reason; resuming clears the mark."""

from __future__ import annotations

from pathlib import Path

from imgcls_gui.engine.config import RunConfig
from imgcls_gui.engine.project.runs import clear_failure, list_runs, mark_failed, read_run


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
