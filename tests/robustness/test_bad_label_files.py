"""Broken, oddly encoded and hostile label files: CSVs as people export them, VOC XML that attacks the parser."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from imgcls_gui import cli
from imgcls_gui.engine.data.datasets import load_dataset, require_trainable
from imgcls_gui.engine.errors import DatasetError
from imgcls_gui.engine.training.trainer import Trainer

from .corpus import CSV_CASES, GOOD_ROWS, noise, voc_cases, write_label_images
from .helpers import tiny_config

# What a user must see for each CSV: (classes, task, problems as (line, kind, words in the reason)) when it
# imports, or the words of the DatasetError when it cannot be used at all.
RED_BLUE = ["blue", "red"]
CSV_EXPECTED: dict[str, tuple] = {
    "csv-empty-labels": (RED_BLUE, "multiclass", []),
    "csv-unknown-paths": (RED_BLUE, "multiclass", [(8, "missing", "'images/gone.png' not found"),
                                                   (9, "missing", "'elsewhere/x.png' not found")]),
    "csv-utf8-bom": (RED_BLUE, "multiclass", []),
    "csv-quoted-separators": (["blue", "red", "shiny"], "multilabel", []),
    "csv-windows-line-ends": (RED_BLUE, "multiclass", []),
    "csv-cp1252": (["bleu", "rouge é"], "multiclass", []),
    "csv-utf16-excel": (RED_BLUE, "multiclass", []),
    "csv-ragged-rows": (RED_BLUE, "multiclass", [(8, "bad-row", "has 4 fields but the header has 2"),
                                                 (9, "bad-row", "has 1 fields but the header has 2")]),
    "csv-duplicate-rows": (RED_BLUE, "multiclass", [(8, "bad-row", "listed again (first at line 2)")]),
}
CSV_REFUSED = {
    "csv-only-label-column": "No column is named like a path column",
    "csv-binary": "not a text CSV file",
    "csv-empty": "the CSV is empty",
    "csv-header-only": "has a header but no rows",
}
CSV_UNTRAINABLE = {"csv-only-path-column": "none of its 6 images has a label (a CSV needs a label column"}


def test_every_csv_case_has_an_expectation():
    assert set(CSV_CASES) == set(CSV_EXPECTED) | set(CSV_REFUSED) | set(CSV_UNTRAINABLE)


@pytest.fixture(scope="module")
def csv_folder(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("csv")
    write_label_images(folder)
    for name, data in CSV_CASES.items():
        (folder / f"{name}.csv").write_bytes(data)
    return folder


@pytest.mark.parametrize("name", sorted(CSV_EXPECTED))
def test_usable_csv_imports_with_each_bad_row_named_by_file_and_line(csv_folder, name):
    classes, task, problems = CSV_EXPECTED[name]
    path = csv_folder / f"{name}.csv"
    ds = load_dataset(path)
    assert (ds.classes, ds.task) == (classes, task)
    assert sorted(s.path.name for s in ds.samples) == sorted(Path(p).name for p, _ in GOOD_ROWS)
    found = [(p.path, p.kind, p.reason) for p in ds.problems]
    assert len(found) == len(problems)
    for (where, kind, reason), (line, expected_kind, words) in zip(found, problems):
        assert where == f"{path}:{line}" and kind == expected_kind and words in reason
    require_trainable(ds)


@pytest.mark.parametrize("name", sorted(CSV_REFUSED))
def test_unusable_csv_is_one_error_naming_the_file(csv_folder, name):
    path = csv_folder / f"{name}.csv"
    with pytest.raises(DatasetError) as info:
        load_dataset(path)
    assert str(info.value).startswith(f"{path}:") and CSV_REFUSED[name] in str(info.value)


def test_csv_without_labels_imports_for_labeling_but_cannot_train(csv_folder):
    ds = load_dataset(csv_folder / "csv-only-path-column.csv")
    assert len(ds.samples) == 6 and not ds.labeled
    with pytest.raises(DatasetError, match="a CSV needs a label column"):
        require_trainable(ds)


@pytest.mark.parametrize("name", ["csv-utf16-excel", "csv-empty-labels", "csv-quoted-separators"])
def test_odd_but_usable_csvs_train(csv_folder, tmp_path, name):
    result = Trainer(tiny_config(csv_folder / f"{name}.csv", batch_size=4, val_fraction=0.34), tmp_path / "run").fit()
    assert result.epochs_run == 1 and (tmp_path / "run" / "best.pt").is_file()


def test_cli_reports_an_unusable_csv_in_one_line(csv_folder, capsys):
    assert cli.main(["inspect", str(csv_folder / "csv-binary.csv")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "csv-binary.csv: this is not a text CSV file" in err


# -- Pascal VOC -----------------------------------------------------------------------------------


@pytest.fixture
def listener():
    """A local TCP port that records whether anything connected: an XML parser must never fetch."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(8)
    server.setblocking(False)
    yield server, f"http://127.0.0.1:{server.getsockname()[1]}"
    server.close()


def _connected(server: socket.socket) -> bool:
    try:
        server.accept()[0].close()
    except BlockingIOError:
        return False
    return True


@pytest.fixture
def voc(tmp_path, listener) -> tuple[Path, dict[str, bytes]]:
    """A VOC folder: three cats and three dogs annotated properly, then one image per hostile annotation."""
    root = tmp_path / "voc"
    (root / "JPEGImages").mkdir(parents=True)
    (root / "Annotations").mkdir()
    secret = tmp_path / "secret.txt"
    secret.write_text("SECRET-CONTENT")
    cases = voc_cases(secret, listener[1])
    good = {f"cat{i}": "cat" for i in range(3)} | {f"dog{i}": "dog" for i in range(3)}
    for n, (image_id, name) in enumerate(good.items()):
        noise((32, 32), seed=n).save(root / "JPEGImages" / f"{image_id}.jpg")
        (root / "Annotations" / f"{image_id}.xml").write_text(f"<annotation><object><name>{name}</name></object></annotation>")
    for n, (image_id, data) in enumerate(cases.items()):
        noise((32, 32), seed=50 + n).save(root / "JPEGImages" / f"{image_id}.jpg")
        (root / "Annotations" / f"{image_id}.xml").write_bytes(data)
    return root, cases


VOC_REASONS = {
    "voc-malformed": "not valid XML",
    "voc-binary": "not valid XML",
    "voc-no-objects": "annotation has no <object><name>",
    "voc-external-entity-file": "XML declares entities or external references, refused",
    "voc-external-entity-url": "XML declares entities or external references, refused",
    "voc-external-parameter-entity": "XML declares entities or external references, refused",
    "voc-billion-laughs": "XML declares entities or external references, refused",
}


def test_hostile_annotations_are_refused_unexpanded_and_unfetched(voc, listener):
    root, cases = voc
    ds = load_dataset(root)
    labels = {s.path.stem: s.labels for s in ds.samples}
    reasons = {Path(p.path).stem: p.reason for p in ds.problems}
    assert ds.format == "voc" and ds.classes == ["cat", "dog"]  # no entity text became a class
    for image_id, words in VOC_REASONS.items():
        assert labels[image_id] == () and words in reasons[image_id], image_id
    assert labels["voc-external-dtd"] == ("cat",)  # an external DTD is ignored, not loaded
    assert set(reasons) == set(VOC_REASONS)
    assert not _connected(listener[0]), "the XML parser opened a network connection"
    assert "SECRET-CONTENT" not in repr(ds)


def test_voc_with_hostile_annotations_still_trains_on_the_good_ones(voc, tmp_path, capsys):
    root, _ = voc
    result = Trainer(tiny_config(root, batch_size=4, val_fraction=0.34), tmp_path / "run").fit()
    assert result.epochs_run == 1
    assert cli.main(["inspect", str(root), "--quick"]) == 0
    out = capsys.readouterr().out
    for image_id in VOC_REASONS:
        assert str(root / "Annotations" / f"{image_id}.xml") in out
