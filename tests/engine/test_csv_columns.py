"""The CSV importer (data/csv_import.py) on the CSVs people have: which column is which, what counts as a
label, rows that cannot be used. Written to kill the mutants tools/mutation.sh found surviving."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from imgcls_gui.engine.data.csv_import import read_csv_dataset
from imgcls_gui.engine.errors import DatasetError


def _images(folder: Path, names: list[str]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for name in names:
        (folder / name).write_bytes(b"not decoded by the importer")


def test_path_and_split_columns_are_found_by_header_anywhere(tmp_path):
    _images(tmp_path, ["a.png", "b.png", "c.png"])
    csv = tmp_path / "labels.csv"
    csv.write_text("Subset,Class,File Name\ntraining,wasp,a.png\nvalidation,ant,b.png\nTEST,wasp,c.png\n")
    ds = read_csv_dataset(csv)
    assert [(s.path.name, s.labels, s.split) for s in ds.samples] == [
        ("a.png", ("wasp",), "train"), ("b.png", ("ant",), "val"), ("c.png", ("wasp",), "test")]
    assert (ds.classes, ds.task, ds.problems) == (["ant", "wasp"], "multiclass", [])


def _write(tmp_path: Path, data: bytes | str, names=("a.png", "b.png", "c.png")) -> Path:
    _images(tmp_path, list(names))
    csv = tmp_path / "labels.csv"
    csv.write_bytes(data if isinstance(data, bytes) else data.encode("utf-8"))
    return csv


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-be", "utf-32", "utf-32-be"])
def test_unicode_exports_with_a_byte_order_mark_are_read(tmp_path, encoding):
    text = "path,label\na.png,Wespe\nb.png,fourmi é\n"
    bom = {"utf-16": "", "utf-32": ""}.get(encoding, "\ufeff")
    csv = _write(tmp_path, (bom + text).encode(encoding))
    ds = read_csv_dataset(csv)
    assert [s.labels for s in ds.samples] == [("Wespe",), ("fourmi é",)]


def test_cp1252_and_latin1_bytes_are_decoded_not_refused(tmp_path):
    # 0xe9 is é in cp1252; 0x81 is undefined in cp1252, so only latin-1 reads that file.
    ds = read_csv_dataset(_write(tmp_path, b"path,label\na.png,caf\xe9\nb.png,\x93quoted\x94\n"))
    assert [s.labels for s in ds.samples] == [("caf\u00e9",), ("\u201cquoted\u201d",)]
    ds = read_csv_dataset(_write(tmp_path, b"path,label\na.png,x\x81y\n"))
    assert ds.samples[0].labels == ("x\x81y",)


def test_a_bom_like_start_of_a_binary_file_is_refused_as_binary(tmp_path):
    csv = _write(tmp_path, b"\xff\xfe\x00\x00\x00\xd8\x00\x00" + b"path,label\x00")
    with pytest.raises(DatasetError, match="not a text CSV file"):
        read_csv_dataset(csv)


def test_tab_separated_cells_may_hold_commas(tmp_path):
    ds = read_csv_dataset(_write(tmp_path, "path\tlabels\na.png\twasp,ant\nb.png\tbee\n"))
    assert [s.labels for s in ds.samples] == [("ant", "wasp"), ("bee",)]
    assert ds.task == "multilabel"


def test_without_a_header_columns_are_numbered(tmp_path):
    ds = read_csv_dataset(_write(tmp_path, "a.png,wasp\nb.png,ant\n"))
    assert [(s.path.name, s.labels) for s in ds.samples] == [("a.png", ("wasp",)), ("b.png", ("ant",))]
    with pytest.raises(DatasetError, match="in column 'column 1'"):
        read_csv_dataset(_write(tmp_path, "gone.png,wasp\n"))


def test_empty_and_header_only_csvs_say_what_is_missing(tmp_path):
    with pytest.raises(DatasetError, match="the CSV is empty; it needs a column of image paths"):
        read_csv_dataset(_write(tmp_path, "\n \n"))
    with pytest.raises(DatasetError, match="the CSV has a header but no rows"):
        read_csv_dataset(_write(tmp_path, "path,label\n"))


def test_when_no_path_exists_the_message_names_the_column_and_the_folders(tmp_path):
    csv = _write(tmp_path, "picture,label\nx.png,wasp\ny.png,ant\n")
    with pytest.raises(DatasetError) as caught:
        read_csv_dataset(csv)
    message = str(caught.value)
    assert "none of the 2 paths in column 'picture' is an existing file" in message
    assert f"(looked in {tmp_path} and {tmp_path / 'images'})" in message
    assert "No column is named like a path column (path, file, filename, image), so 'picture' was taken." in message
    with pytest.raises(DatasetError) as caught:
        read_csv_dataset(_write(tmp_path, "filename,label\nx.png,wasp\n"))
    assert "No column is named like a path column" not in str(caught.value)


def test_unusable_rows_become_problems_with_their_line(tmp_path):
    csv = _write(tmp_path, 'path,label\na.png,wasp,,\n"b.png","multi\nline",extra\n,ant\ngone.png,ant\na.png,ant\nc.png,bee\n')
    ds = read_csv_dataset(csv)
    assert [(s.path.name, s.labels) for s in ds.samples] == [("a.png", ("wasp",)), ("c.png", ("bee",))]
    problems = [(p.path, p.kind, p.reason) for p in ds.problems]
    assert problems == [
        (f"{csv}:3", "bad-row", "has 3 fields but the header has 2; quote cells that contain the delimiter"),
        (f"{csv}:5", "bad-row", "no image path in column 'path'"),
        (f"{csv}:6", "missing", f"image 'gone.png' not found (looked in {tmp_path} and {tmp_path / 'images'})"),
        (f"{csv}:7", "bad-row", "a.png is listed again (first at line 2); row ignored"),
    ]


def test_one_hot_words_and_numbers_read_as_yes_and_no(tmp_path):
    csv = _write(tmp_path, "file,Wasp,ant,Bee\na.png,TRUE,no,1.0\nb.png,0.0,yes,-1\nc.png,,false,0\n")
    ds = read_csv_dataset(csv)
    assert ds.classes == ["Wasp", "ant", "Bee"]  # the CSV's column order, not sorted
    assert [s.labels for s in ds.samples] == [("Bee", "Wasp"), ("ant",), ()]
    assert ds.task == "multilabel"


def test_one_column_of_zeros_and_ones_is_a_label_column_not_one_hot(tmp_path):
    ds = read_csv_dataset(_write(tmp_path, "path,defect\na.png,1\nb.png,0\n"))
    assert (ds.classes, ds.task) == (["0", "1"], "multiclass")
    ds = read_csv_dataset(_write(tmp_path, "path,x,y\na.png,0,0\nb.png,0,-1\n"))
    assert (ds.classes, ds.task) == (["0"], "multiclass")  # no positive anywhere: not one-hot, "x" is the label


def test_a_csv_of_paths_only_gives_unlabeled_images(tmp_path):
    ds = read_csv_dataset(_write(tmp_path, "path\na.png\nb.png\n"))
    assert [s.labels for s in ds.samples] == [(), ()]
    assert (ds.classes, ds.task) == ([], "multiclass")


def test_spaces_split_labels_when_the_user_chose_multilabel(tmp_path):
    text = "path,label\na.png,golden retriever\nb.png,cat dog\n"
    assert [s.labels for s in read_csv_dataset(_write(tmp_path, text)).samples] == [
        ("golden retriever",), ("cat dog",)]
    hinted = read_csv_dataset(_write(tmp_path, text), multilabel_hint=True)
    assert [s.labels for s in hinted.samples] == [("golden", "retriever"), ("cat", "dog")]
    with_sep = read_csv_dataset(_write(tmp_path, text + "c.png,cat;dog\n"), multilabel_hint=True)
    assert with_sep.samples[0].labels == ("golden retriever",)
    single = read_csv_dataset(_write(tmp_path, "path,label\na.png,cat\nb.png,big cat\n"))
    assert [s.labels for s in single.samples] == [("cat",), ("big", "cat")]


def test_windows_paths_and_the_images_folder_are_found(tmp_path):
    _images(tmp_path / "images" / "sub", ["a.png"])
    _images(tmp_path / "other", ["b.png"])
    csv = _write(tmp_path, "path,label\nsub\\a.png,wasp\n", names=[])
    assert read_csv_dataset(csv).samples[0].path == tmp_path / "images" / "sub" / "a.png"
    csv.write_text("path,label\nb.png,ant\n")
    ds = read_csv_dataset(csv, images_root=tmp_path / "other")
    assert (ds.root, ds.samples[0].path) == (tmp_path / "other", tmp_path / "other" / "b.png")
    csv.write_text(f"path,label\n{tmp_path / 'other' / 'b.png'},ant\n")
    assert read_csv_dataset(csv).samples[0].path == tmp_path / "other" / "b.png"
    assert read_csv_dataset(csv).root == tmp_path


def test_unknown_split_names_leave_the_split_open(tmp_path):
    ds = read_csv_dataset(_write(tmp_path, "path,label,set\na.png,wasp,holdout\nb.png,ant,Valid\n"))
    assert [s.split for s in ds.samples] == [None, "val"]


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="FIFOs are POSIX")
def test_a_csv_that_is_a_fifo_or_missing_is_one_line_naming_it(tmp_path):
    fifo = tmp_path / "labels.csv"
    os.mkfifo(fifo)  # reading it would block forever
    with pytest.raises(DatasetError, match=f"^{re.escape(str(fifo))}: is .*, not a CSV file\\.$"):
        read_csv_dataset(fifo)
    gone = tmp_path / "gone.csv"
    with pytest.raises(DatasetError, match=f"^{re.escape(str(gone))}: cannot read the CSV \\(No such file or directory\\)\\.$"):
        read_csv_dataset(gone)


def test_one_hot_csvs_keep_their_split_column(tmp_path):
    ds = read_csv_dataset(_write(tmp_path, "path,wasp,ant,split\na.png,1,0,train\nb.png,0,1,val\nc.png,1,1,test\n"))
    assert ds.classes == ["wasp", "ant"]
    assert [(s.labels, s.split) for s in ds.samples] == [(("wasp",), "train"), (("ant",), "val"), (("ant", "wasp"), "test")]
