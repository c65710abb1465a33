from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from imgcls_gui.engine.data.datasets import (
    detect_format,
    import_csv,
    import_folder,
    import_split_folders,
    import_voc,
    load_dataset,
    require_trainable,
)
from imgcls_gui.engine.errors import DatasetError
from imgcls_gui.engine.data.samples import LabeledDataset, Sample


def _labels_by_name(ds: LabeledDataset) -> dict[str, tuple[str, ...]]:
    return {s.path.name: s.labels for s in ds.samples}


def _problem_kinds(ds: LabeledDataset) -> dict[str, str]:
    return {p.path: p.kind for p in ds.problems}


# --- folder layouts -----------------------------------------------------------------------------------------


def test_import_folder_reads_class_folders_and_ignores_the_rest(tmp_path, make_image, make_folder_dataset):
    root = make_folder_dataset(tmp_path / "data", {"cat": 2, "dog": 3})
    make_image(root / "cat" / "nested" / "deeper" / "x.JPG", seed=50)  # nested + upper-case extension
    make_image(root / "loose.png", seed=51)  # no label: ignored
    (root / "cat" / "notes.txt").write_text("not an image")
    make_image(root / ".thumbnails" / "t.png", seed=52)  # hidden folder: not a class
    make_image(root / "dog" / "._y.png", seed=53)  # macOS AppleDouble file
    (root / "empty_class").mkdir()

    ds = import_folder(root)
    assert ds.format == "folder" and ds.task == "multiclass"
    assert ds.classes == ["cat", "dog"]
    assert Counter(s.labels[0] for s in ds.samples) == {"cat": 3, "dog": 3}
    assert root.resolve() / "cat" / "nested" / "deeper" / "x.JPG" in {s.path for s in ds.samples}
    assert all(s.split is None for s in ds.samples)
    assert ds.samples == import_folder(root).samples  # stable order


def test_import_split_folders_sets_split_and_unions_classes(tmp_path, make_image, make_folder_dataset):
    make_folder_dataset(tmp_path / "d" / "train", {"ant": 3, "bee": 2})
    make_folder_dataset(tmp_path / "d" / "Valid", {"ant": 1, "wasp": 1})
    make_folder_dataset(tmp_path / "d" / "test", {"bee": 2})
    make_image(tmp_path / "d" / "train" / "unlabeled.png", seed=99)

    ds = import_split_folders(tmp_path / "d")
    assert ds.classes == ["ant", "bee", "wasp"]
    assert Counter(s.split for s in ds.samples) == {"train": 5, "val": 2, "test": 2}
    assert {s.labels for s in ds.samples if s.split == "val"} == {("ant",), ("wasp",)}


def test_detect_format_for_each_layout(tmp_path, folder_dataset, make_folder_dataset):
    assert detect_format(folder_dataset) == "folder"
    make_folder_dataset(tmp_path / "split" / "train", {"a": 1})
    make_folder_dataset(tmp_path / "split" / "val", {"a": 1})
    assert detect_format(tmp_path / "split") == "split-folders"
    (tmp_path / "voc" / "JPEGImages").mkdir(parents=True)
    (tmp_path / "voc" / "Annotations").mkdir()
    assert detect_format(tmp_path / "voc") == "voc"
    (tmp_path / "labels.CSV").write_text("path,label\n")
    assert detect_format(tmp_path / "labels.CSV") == "csv"


def test_detect_format_explains_accepted_layouts(tmp_path, make_image):
    make_image(tmp_path / "flat" / "a.png")
    with pytest.raises(DatasetError, match="no label: move them into one subfolder per class") as info:
        detect_format(tmp_path / "flat")
    assert "JPEGImages" in str(info.value) and str(tmp_path / "flat") in str(info.value)
    with pytest.raises(DatasetError, match="not found"):
        detect_format(tmp_path / "missing")
    (tmp_path / "notes.txt").write_text("x")
    with pytest.raises(DatasetError, match="csv"):
        detect_format(tmp_path / "notes.txt")


def test_load_dataset_dispatches_and_reports_no_images(tmp_path, folder_dataset):
    ds = load_dataset(folder_dataset)
    assert ds.format == "folder" and len(ds.samples) == 16
    (tmp_path / "empty").mkdir()
    with pytest.raises(DatasetError, match="no images found"):
        load_dataset(tmp_path / "empty", format="folder")
    with pytest.raises(DatasetError, match="not found"):
        load_dataset(tmp_path / "nowhere")
    with pytest.raises(DatasetError, match="unknown dataset format"):
        load_dataset(folder_dataset, format="coco")


def test_load_dataset_task_override(tmp_path, folder_dataset):
    assert load_dataset(folder_dataset, task="multilabel").task == "multilabel"
    csv_path = tmp_path / "pets" / "labels.csv"
    csv_path.write_text('path,labels\ncat/000.png,"cat,dog"\ndog/000.png,dog\n')
    assert load_dataset(csv_path).task == "multilabel"
    with pytest.raises(DatasetError, match="several labels"):
        load_dataset(csv_path, task="multiclass")


def test_require_trainable(tmp_path, folder_dataset):
    require_trainable(load_dataset(folder_dataset))
    one = LabeledDataset(tmp_path, "folder", [Sample(tmp_path / "a.png", ("ants",))], ["ants", "bees"], "multiclass")
    with pytest.raises(DatasetError, match="only one class 'ants'") as info:
        require_trainable(one)
    assert str(tmp_path) in str(info.value)
    unlabeled = LabeledDataset(tmp_path, "csv", [Sample(tmp_path / "a.png")], [], "multiclass")
    with pytest.raises(DatasetError, match="label"):
        require_trainable(unlabeled)


# --- CSV ----------------------------------------------------------------------------------------------------


@pytest.fixture
def csv_images(tmp_path, make_image) -> Path:
    """tmp/imgs/{a..f}.png, the folder a CSV beside it refers to."""
    for seed, name in enumerate("abcdef"):
        make_image(tmp_path / "imgs" / f"{name}.png", seed=seed)
    return tmp_path / "imgs"


def test_csv_single_label_with_malformed_rows(tmp_path, csv_images):
    csv_path = csv_images / "labels.csv"
    csv_path.write_text(
        "Image,Label,notes\n"  # line 1
        "a.png,cat,x\n"
        "b.png,dog,\n"
        "c.png,,empty label\n"  # unlabeled, not a problem
        "missing.png,cat,x\n"  # line 5: unknown file
        "d.png,cat\n"  # line 6: a column missing
        ",dog,x\n"  # line 7: no path
        "\n"
        "a.png,dog,x\n"  # line 9: listed again
        "e.png,dog,x,,\n"  # trailing empty cells are fine
    )
    ds = import_csv(csv_path)
    assert ds.format == "csv" and ds.task == "multiclass"
    assert ds.root == csv_images.resolve()
    assert _labels_by_name(ds) == {"a.png": ("cat",), "b.png": ("dog",), "c.png": (), "e.png": ("dog",)}
    assert ds.classes == ["cat", "dog"]
    assert _problem_kinds(ds) == {
        f"{csv_path}:5": "missing", f"{csv_path}:6": "bad-row", f"{csv_path}:7": "bad-row", f"{csv_path}:9": "bad-row"
    }


def test_csv_bom_crlf_cp1252_and_semicolons(tmp_path, csv_images):
    utf8 = csv_images / "utf8.csv"
    utf8.write_bytes("\ufefffilename;label\r\na.png;café\r\nb.png;cat,dog\r\n".encode("utf-8"))
    ds = import_csv(utf8)
    assert _labels_by_name(ds) == {"a.png": ("café",), "b.png": ("cat", "dog")}
    assert ds.task == "multilabel" and not ds.problems

    excel = csv_images / "excel.csv"
    excel.write_bytes("path;label\r\na.png;crème brûlée\r\n".encode("cp1252"))
    assert _labels_by_name(import_csv(excel)) == {"a.png": ("crème brûlée",)}


def test_csv_label_separators_in_one_cell(tmp_path, csv_images):
    quoted = csv_images / "quoted.csv"
    quoted.write_text('file,tags\na.png,"sea, sunset"\nb.png,trees|sea\nc.png,desert\n')
    assert _labels_by_name(import_csv(quoted)) == {"a.png": ("sea", "sunset"), "b.png": ("sea", "trees"), "c.png": ("desert",)}

    tabs = csv_images / "tabs.tsv"
    tabs.write_text("path\tlabel\na.png\tcat; dog\n")
    assert _labels_by_name(import_csv(tabs)) == {"a.png": ("cat", "dog")}


def test_csv_spaces_split_labels_only_when_words_are_labels_themselves(csv_images):
    words = csv_images / "words.csv"
    words.write_text("path,label\na.png,cat dog\nb.png,cat\n")
    assert _labels_by_name(import_csv(words))["a.png"] == ("cat", "dog")
    names = csv_images / "names.csv"
    names.write_text("path,label\na.png,golden retriever\nb.png,beagle\n")
    ds = import_csv(names)
    assert ds.classes == ["beagle", "golden retriever"] and ds.task == "multiclass"
    assert import_csv(names, task="multilabel").classes == ["beagle", "golden", "retriever"]


def test_csv_one_hot_columns_are_multilabel(csv_images):
    csv_path = csv_images / "onehot.csv"
    csv_path.write_text("Filenames,sea,sky,sand\na.png,1,0,0\nb.png,1,1,0\nc.png,0,0,0\n")
    ds = import_csv(csv_path)
    assert ds.task == "multilabel"
    assert ds.classes == ["sea", "sky", "sand"]  # the CSV's columns, even one without positives
    assert _labels_by_name(ds) == {"a.png": ("sea",), "b.png": ("sea", "sky"), "c.png": ()}


def test_csv_paths_resolve_against_images_root_or_images_folder(tmp_path, csv_images, make_image):
    beside = tmp_path / "labels.csv"
    beside.write_text("path,label\nimgs/a.png,x\nimgs\\b.png,y\n")  # a Windows path too
    assert set(_labels_by_name(import_csv(beside))) == {"a.png", "b.png"}

    elsewhere = tmp_path / "meta" / "labels.csv"
    elsewhere.parent.mkdir()
    elsewhere.write_text("path,label\na.png,x\n")
    with pytest.raises(DatasetError, match="images_root") as info:
        import_csv(elsewhere)
    assert str(elsewhere) in str(info.value)
    ds = import_csv(elsewhere, images_root=csv_images)
    assert ds.root == csv_images.resolve() and len(ds.samples) == 1

    # miml layout: the CSV beside an images/ folder that holds the files
    make_image(tmp_path / "miml" / "images" / "1.jpg", seed=7)
    (tmp_path / "miml" / "l.csv").write_text("Filenames,labels\n1.jpg,desert\n")
    assert load_dataset(tmp_path / "miml" / "l.csv").samples[0].path == (tmp_path / "miml" / "images" / "1.jpg").resolve()


def test_csv_without_header_and_with_split_column(csv_images):
    bare = csv_images / "bare.csv"
    bare.write_text("a.png,cat\nb.png,dog\n")
    assert _labels_by_name(import_csv(bare)) == {"a.png": ("cat",), "b.png": ("dog",)}
    with_split = csv_images / "split.csv"
    with_split.write_text("path,label,split\na.png,cat,train\nb.png,dog,validation\nc.png,dog,test\nd.png,cat,\n")
    ds = import_csv(with_split)
    assert {s.path.name: s.split for s in ds.samples} == {"a.png": "train", "b.png": "val", "c.png": "test", "d.png": None}
    assert ds.classes == ["cat", "dog"]


def test_csv_that_cannot_be_used_raises_naming_the_file(tmp_path):
    binary = tmp_path / "data.csv"
    binary.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00")
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    header_only = tmp_path / "header.csv"
    header_only.write_text("path,label\n")
    for path in (binary, empty, header_only):
        with pytest.raises(DatasetError) as info:
            load_dataset(path)
        assert str(path) in str(info.value)


# --- Pascal VOC ---------------------------------------------------------------------------------------------

_XML = "<annotation><filename>{id}.jpg</filename>{objects}</annotation>"
_EVIL_EXTERNAL = (
    '<?xml version="1.0"?><!DOCTYPE a [<!ENTITY x SYSTEM "file:///etc/hostname">]>'
    "<annotation><object><name>&x;</name></object></annotation>"
)
_BILLION_LAUGHS = (
    '<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
    + "".join(f'<!ENTITY lol{i} "{("&lol" + (str(i - 1) if i > 1 else "") + ";") * 10}">' for i in range(1, 10))
    + "]><annotation><object><name>&lol9;</name></object></annotation>"
)


def _objects(*names: str) -> str:
    return "".join(f"<object><name> {n} </name><bndbox><xmin>1</xmin></bndbox></object>" for n in names)


def _write_voc(make_image, root: Path, annotations: dict[str, str | None], image_sets: dict[str, list[str]] | None = None) -> Path:
    for seed, (image_id, xml) in enumerate(annotations.items()):
        make_image(root / "JPEGImages" / f"{image_id}.jpg", seed=seed)
        if xml is not None:
            (root / "Annotations").mkdir(parents=True, exist_ok=True)
            (root / "Annotations" / f"{image_id}.xml").write_text(xml)
    for name, ids in (image_sets or {}).items():
        (root / "ImageSets" / "Main").mkdir(parents=True, exist_ok=True)
        (root / "ImageSets" / "Main" / f"{name}.txt").write_text("".join(f"{i}\n" for i in ids))
    return root


def test_voc_labels_problems_and_image_sets(tmp_path, make_image):
    root = _write_voc(
        make_image,
        tmp_path / "voc",
        {
            "multi": _XML.format(id="multi", objects=_objects("dog", "person", "dog")),
            "single": _XML.format(id="single", objects=_objects("cat")),
            "broken": "<annotation><object><name>cat</name></annotation>",
            "empty": _XML.format(id="empty", objects=""),
            "external": _EVIL_EXTERNAL,
            "laughs": _BILLION_LAUGHS,
            "noxml": None,
        },
        {"train": ["multi", "broken"], "val": ["single"]},
    )
    (root / "Annotations" / "orphan.xml").write_text(_XML.format(id="orphan", objects=_objects("cat")))

    ds = load_dataset(root)
    assert ds.format == "voc" and ds.task == "multilabel"
    assert ds.classes == ["cat", "dog", "person"]  # nothing from the entities leaked in
    labels = _labels_by_name(ds)
    assert labels["multi.jpg"] == ("dog", "person") and labels["single.jpg"] == ("cat",)
    assert all(labels[f"{i}.jpg"] == () for i in ("broken", "empty", "external", "laughs", "noxml"))
    xml = root.resolve() / "Annotations"
    assert _problem_kinds(ds) == {
        str(xml / "broken.xml"): "bad-row", str(xml / "empty.xml"): "bad-row", str(xml / "external.xml"): "bad-row",
        str(xml / "laughs.xml"): "bad-row", str(xml / "orphan.xml"): "missing",
    }
    reasons = {Path(p.path).stem: p.reason for p in ds.problems}
    assert "entities" in reasons["external"] and "entities" in reasons["laughs"]  # refused, not merely malformed
    assert "not valid XML" in reasons["broken"]
    splits = {s.path.stem: s.split for s in ds.samples}
    assert (splits["multi"], splits["single"], splits["noxml"]) == ("train", "val", None)


def test_voc_single_label_is_multiclass_and_trainval_leaves_split_open(tmp_path, make_image):
    root = _write_voc(
        make_image,
        tmp_path / "voc",
        {"a": _XML.format(id="a", objects=_objects("cat", "cat")), "b": _XML.format(id="b", objects=_objects("dog")),
         "c": _XML.format(id="c", objects=_objects("dog"))},
        {"trainval": ["a", "b"], "test": ["c"]},
    )
    ds = import_voc(root)
    assert ds.task == "multiclass"
    assert {s.path.stem: s.split for s in ds.samples} == {"a": None, "b": None, "c": "test"}
    assert load_dataset(root, task="multilabel").task == "multilabel"


# --- real photos --------------------------------------------------------------------------------------------


def test_real_hymenoptera_is_split_folders(shared_datasets):
    ds = load_dataset(shared_datasets / "hymenoptera")
    assert ds.format == "split-folders" and ds.classes == ["ants", "bees"]
    assert Counter(s.split for s in ds.samples) == {"train": 245, "val": 153}
    assert any(s.path.suffix == ".gif" for s in ds.samples)  # the placeholder GIF is still an image
    require_trainable(ds)


@pytest.mark.parametrize("name", ["miml_labels_1.csv", "miml_labels_2.csv"])
def test_real_miml_csvs_are_multilabel(shared_datasets, name):
    ds = load_dataset(shared_datasets / "miml" / name)
    assert ds.task == "multilabel" and ds.classes == ["desert", "mountains", "sea", "sunset", "trees"]
    assert len(ds.samples) == 2000 and not ds.problems
    counts = Counter(label for s in ds.samples for label in s.labels)
    assert counts == {"desert": 409, "mountains": 458, "sea": 580, "sunset": 465, "trees": 560}


def test_real_miml_csvs_agree(shared_datasets):
    one = _labels_by_name(load_dataset(shared_datasets / "miml" / "miml_labels_1.csv"))
    two = _labels_by_name(load_dataset(shared_datasets / "miml" / "miml_labels_2.csv"))
    assert one == two


def test_real_flowers17_is_a_folder_dataset(shared_datasets):
    ds = load_dataset(shared_datasets / "flowers17")
    assert ds.format == "folder" and len(ds.classes) == 17
    assert set(Counter(s.labels[0] for s in ds.samples).values()) == {80}


def test_start_up_modules_do_not_import_torch_or_sklearn():
    # The GUI imports these while its window opens; torch alone takes seconds to import.
    import subprocess
    import sys

    modules = ["data.images", "data.datasets", "data.csv_import", "data.split", "data.health", "data.transforms", "data.demo"]
    code = (
        "import sys\n"
        + "".join(f"import imgcls_gui.engine.{m}\n" for m in modules)
        + "print(sorted(m for m in ('torch', 'torchvision', 'sklearn', 'iterstrat') if m in sys.modules))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    assert result.stdout.strip() == "[]"
