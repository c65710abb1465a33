from __future__ import annotations

import json
import shutil

import pytest

from imgcls_gui.engine.data.datasets import load_dataset
from imgcls_gui.engine.data.health import health_report
from imgcls_gui.engine.data.samples import LabeledDataset, Problem, Sample


@pytest.fixture
def messy_dataset(tmp_path, make_folder_dataset, make_image):
    """cat 6, dog 6, fox 2 + a copy of cat/000 in dog, a truncated file, a text file named .jpg."""
    root = make_folder_dataset(tmp_path / "pets", {"cat": 6, "dog": 6, "fox": 2})
    shutil.copy(root / "cat" / "000.png", root / "dog" / "copy_of_cat.png")
    broken = make_image(root / "dog" / "broken.jpg", size=(64, 64), seed=77)
    broken.write_bytes(broken.read_bytes()[:300])
    (root / "fox" / "readme.jpg").write_text("not an image")
    return root


def test_report_counts_problems_duplicates_and_tiny_classes(messy_dataset):
    ds = load_dataset(messy_dataset)
    ds.problems.append(Problem("labels.csv:3", "row skipped at import", "bad-row"))
    calls: list[tuple[int, int]] = []
    report = health_report(ds, min_per_class=5, progress=lambda done, total: calls.append((done, total)))

    assert (report.total, report.labeled, report.unlabeled) == (17, 17, 0)
    assert report.class_counts == {"cat": 6, "dog": 8, "fox": 3}
    assert report.tiny_classes == ("fox",)
    assert report.imbalance_ratio == pytest.approx(8 / 3)
    kinds = {p.path.split("/")[-1]: p.kind for p in report.problems}
    assert kinds == {"labels.csv:3": "bad-row", "broken.jpg": "truncated", "readme.jpg": "not-image"}
    root = messy_dataset.resolve()
    assert report.duplicates == ((str(root / "cat" / "000.png"), str(root / "dog" / "copy_of_cat.png")),)
    # progress is monotonic and ends at its total
    assert calls and [done for done, _ in calls] == list(range(1, len(calls) + 1))
    assert calls[-1][0] == calls[-1][1] and len({total for _, total in calls}) == 1


def test_without_image_checks_only_import_problems_and_missing_files_are_reported(tmp_path, messy_dataset):
    ds = load_dataset(messy_dataset)
    ds.samples.append(Sample(tmp_path / "gone.png", ("cat",)))
    report = health_report(ds, check_images=False)
    assert [(p.path, p.kind) for p in report.problems] == [(str(tmp_path / "gone.png"), "missing")]
    assert len(report.duplicates) == 1  # duplicates need no decoding


def test_clean_dataset_and_unlabeled_images(tmp_path, make_folder_dataset):
    root = make_folder_dataset(tmp_path / "ok", {"a": 5, "b": 5})
    ds = load_dataset(root)
    ds.samples.append(Sample(root / "a" / "000.png"))  # same file again, unlabeled: a duplicate of itself is not
    report = health_report(LabeledDataset(ds.root, ds.format, ds.samples[:-1], ds.classes, ds.task))
    assert report.ok and report.problems == () and report.duplicates == () and report.tiny_classes == ()
    assert report.imbalance_ratio == 1.0
    assert "No problems found" in report.to_text()

    empty = LabeledDataset(tmp_path, "csv", [Sample(root / "a" / "000.png")], ["a", "b"], "multiclass")
    report = health_report(empty, min_per_class=1)
    assert (report.labeled, report.unlabeled, report.imbalance_ratio) == (0, 1, 0.0)
    assert report.tiny_classes == ("a", "b")


def test_text_and_dict_forms(messy_dataset):
    report = health_report(load_dataset(messy_dataset))
    text = report.to_text()
    assert "17 images" in text and "fox" in text and "broken.jpg" in text and "copy_of_cat.png" in text
    data = json.loads(json.dumps(report.to_dict()))
    assert data["class_counts"] == report.class_counts
    assert {p["kind"] for p in data["problems"]} == {"truncated", "not-image"}
    assert data["duplicates"] == [list(report.duplicates[0])]


def test_multilabel_counts_every_label(tmp_path, make_image):
    paths = [make_image(tmp_path / f"{i}.png", seed=i) for i in range(3)]
    samples = [Sample(paths[0], ("sea", "sky")), Sample(paths[1], ("sea",)), Sample(paths[2], ())]
    report = health_report(LabeledDataset(tmp_path, "csv", samples, ["sea", "sky"], "multilabel"), min_per_class=2)
    assert report.class_counts == {"sea": 2, "sky": 1}
    assert (report.labeled, report.unlabeled, report.tiny_classes) == (2, 1, ("sky",))


def test_real_hymenoptera_is_healthy(shared_datasets):
    report = health_report(load_dataset(shared_datasets / "hymenoptera"))
    assert (report.total, report.labeled) == (398, 398)
    assert report.class_counts == {"ants": 124 + 70, "bees": 121 + 83}
    assert report.problems == () and report.duplicates == () and report.tiny_classes == ()
