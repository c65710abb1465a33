"""Health findings from the engine's report, and the class/split bar chart."""

from __future__ import annotations

from pathlib import Path

from imgcls_gui.engine.data.health import HealthReport
from imgcls_gui.engine.project.store import Project
from imgcls_gui.engine.data.samples import LabeledDataset, Problem, Sample
from imgcls_gui.gui.dataset.health_view import findings_from_report
from imgcls_gui.gui.dataset.stats_chart import ClassStatsChart, bar_layout
from imgcls_gui.gui.state import AppState


def report(**changes) -> HealthReport:
    base = dict(total=10, labeled=9, unlabeled=1, class_counts={"big": 8, "small": 1}, problems=(), duplicates=(),
                imbalance_ratio=8.0, tiny_classes=("small",), min_per_class=5)
    return HealthReport(**{**base, **changes})


def test_each_finding_names_its_images():
    ids = {"/d/a.jpg": 1, "/d/b.jpg": 2, "/d/c.jpg": 3, "/d/u.jpg": 4}
    labels = {1: ("big",), 2: ("big",), 3: ("small",), 4: ()}
    findings = findings_from_report(
        report(problems=(Problem("/d/a.jpg", "image data is truncated", "truncated"),),
               duplicates=(("/d/b.jpg", "/d/c.jpg"),)), ids, labels)
    by_kind = {}
    for finding in findings:
        by_kind.setdefault(finding.kind, []).append(finding)
    assert by_kind["problem"][0].image_ids == (1,) and "a.jpg" in by_kind["problem"][0].text
    assert by_kind["duplicate"][0].image_ids == (2, 3)
    assert [f.image_ids for f in by_kind["balance"]] == [(3,), (3,)]  # tiny class, then imbalance: both 'small'
    assert by_kind["info"][-1].image_ids == (4,)
    assert "ok" not in by_kind


def test_a_healthy_dataset_says_so():
    findings = findings_from_report(report(unlabeled=0, tiny_classes=(), imbalance_ratio=1.0,
                                           class_counts={"big": 5, "small": 5}), {}, {})
    assert [f.kind for f in findings] == ["info", "ok"]


def test_bar_layout_groups_splits_per_class():
    bars = bar_layout({"ants": {"train": 10, "val": 3}, "bees": {"train": 8, "none": 2}})
    assert [b[0] for b in bars] == ["train", "val", "none"]  # "test" has no image: no bars for it
    train = bars[0]
    assert train[2] == [10, 8] and abs(train[1][1] - train[1][0] - 1.0) < 1e-9
    assert bar_layout({"ants": {}}) == []


def test_chart_draws_one_bar_item_per_split(qtbot, tmp_path: Path):
    state = AppState()
    project = Project.create(tmp_path / "p")
    samples = [Sample(tmp_path / f"{i}.png", ("ants" if i % 3 else "bees",), "train" if i < 6 else "val") for i in range(9)]
    project.import_dataset(LabeledDataset(tmp_path, "files", samples, ["ants", "bees"], "multiclass"))
    state.set_project(project)
    chart = ClassStatsChart(state)
    qtbot.addWidget(chart)
    chart.show()
    qtbot.waitUntil(lambda: len(chart.bars) == 2, timeout=10_000)
    heights = [list(bar.opts["height"]) for bar in chart.bars]
    assert heights == [[4, 2], [2, 1]]  # train: ants 4, bees 2; val: ants 2, bees 1
    assert [label.text for _, label in chart.legend.items] == ["train", "val"]
    project.assign_split({})
    state.notify_split()
    qtbot.waitUntil(lambda: len(chart.bars) == 1, timeout=10_000)
    assert list(chart.bars[0].opts["height"]) == [6, 3]
    assert [label.text for _, label in chart.legend.items] == ["not assigned"]
    state.close_project()
