"""kill -9 at random moments: acknowledged labels survive, training resumes to the same result, no half files."""

from __future__ import annotations

import ast
import json
import random
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
import torch

from imgcls_gui.engine.deploy import sorting
from imgcls_gui.engine.checkpoint import load_checkpoint
from imgcls_gui.engine.errors import ImgclsError
from imgcls_gui.engine.project.store import PROJECT_FILE, Project
from imgcls_gui.engine.data.samples import LabeledDataset, Sample

from ..engine.test_project import CHILD_LABELER
from ..engine.tiny_data import make_class_folders
from .helpers import REPO, TINY_TRAIN_FLAGS, child_env, cli_command, run_cli

IMAGES = 20_000  # more labels than a child applies before the latest kill below (commits take ~0.2 ms here)


def _kill_after(child: subprocess.Popen, seconds: float) -> str:
    """SIGKILL ``child`` ``seconds`` after its first line; returns everything it printed."""
    first = child.stdout.readline()
    time.sleep(seconds)
    child.send_signal(signal.SIGKILL)
    child.wait(30)
    return first + child.stdout.read()


@pytest.fixture(scope="module")
def unlabeled_project(tmp_path_factory) -> Path:
    """A closed project of IMAGES unlabeled images and three classes; each trial labels a copy."""
    folder = tmp_path_factory.mktemp("store") / "p"
    samples = [Sample(folder.parent / f"{i}.jpg") for i in range(IMAGES)]
    with Project.create(folder) as project:
        project.import_dataset(LabeledDataset(folder.parent, "files", samples, ["a", "b", "c"], "multiclass"))
    return folder


@pytest.mark.parametrize("trial", range(20))
def test_kill_9_at_a_random_moment_loses_no_acknowledged_label(unlabeled_project, tmp_path, trial):
    folder = Path(shutil.copytree(unlabeled_project, tmp_path / "p"))
    child = subprocess.Popen([sys.executable, "-c", CHILD_LABELER, str(folder)], stdout=subprocess.PIPE, text=True,
                             env=child_env())
    printed = _kill_after(child, random.Random(trial).uniform(0.0, 1.0))
    # Printed only after its commit returned; a line the kill cut short was never fully acknowledged.
    complete = printed.split("\n")[:-1]
    acknowledged = dict(line.split() for line in complete)
    assert child.returncode == -signal.SIGKILL and 0 < len(acknowledged) < IMAGES
    conn = sqlite3.connect(folder / PROJECT_FILE)
    assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    conn.close()
    with Project.open(folder) as project:  # the dead child's lock is stale and taken over
        stored = project.labels_of([int(i) for i in acknowledged])
        assert {str(i): labels[0] for i, labels in stored.items()} == acknowledged
        unlabeled = sum(1 for record in project.images() if not record.labels)
    assert unlabeled >= IMAGES - len(acknowledged) - 1  # at most the one in flight is there unacknowledged


CHILD_IMPORTER = textwrap.dedent("""
    import sys
    from pathlib import Path
    from imgcls_gui.engine.project.store import Project
    from imgcls_gui.engine.data.samples import LabeledDataset, Sample
    root = Path(sys.argv[1])
    project = Project.open(root / "p")
    print("ready", flush=True)
    for batch in range(100):
        samples = [Sample(root / f"b{batch}-{i}.jpg", ("a",)) for i in range(2000)]
        project.import_dataset(LabeledDataset(root, "files", samples, ["a", "b"], "multiclass"))
        print("imported", batch, flush=True)
""")


@pytest.mark.parametrize("trial", range(5))
def test_kill_9_during_an_import_leaves_whole_imports_only(tmp_path, trial):
    Project.create(tmp_path / "p").close()
    child = subprocess.Popen([sys.executable, "-c", CHILD_IMPORTER, str(tmp_path)], stdout=subprocess.PIPE, text=True,
                             env=child_env())
    printed = _kill_after(child, random.Random(100 + trial).uniform(0.0, 1.0))
    done = sum(1 for line in printed.splitlines() if line.startswith("imported"))
    assert child.returncode == -signal.SIGKILL and done < 100
    with Project.open(tmp_path / "p") as project:
        count = project.image_count()
        labeled = sum(1 for record in project.images() if record.labels == ("a",))
    assert count % 2000 == 0 and count // 2000 in (done, done + 1) and labeled == count


# -- training -----------------------------------------------------------------------------------------


def _history(run: Path) -> list[dict]:
    """Per-epoch metrics without the wall-clock ones, which differ between any two runs."""
    history = json.loads((run / "metrics.json").read_text())["history"]
    return [{k: v for k, v in epoch.items() if k not in ("seconds", "images_per_s")} for epoch in history]


def _checkpoint_epoch(path: Path) -> int:
    try:
        return load_checkpoint(path)["epoch"]
    except ImgclsError:  # not there yet
        return 0


@pytest.mark.slow
@pytest.mark.timeout(600)
@pytest.mark.parametrize("workers", ["0", "2"])
def test_kill_9_during_training_then_resume_matches_an_uninterrupted_run(tmp_path, workers):
    data = make_class_folders(tmp_path / "data", per_class=12, size=32)
    flags = list(TINY_TRAIN_FLAGS)
    flags[flags.index("--workers") + 1] = workers  # loader worker processes draw the augmentation
    train = ["train", str(data), "--epochs", "6", *flags]
    full = run_cli(*train, "--out", str(tmp_path / "full"))
    assert full.returncode == 0, full.stderr[-2000:]

    part = tmp_path / "part"
    child = subprocess.Popen(cli_command(*train, "--out", str(part)), stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL, env=child_env())
    try:
        deadline = time.monotonic() + 240
        while _checkpoint_epoch(part / "last.pt") < 1 and child.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(random.Random(7).uniform(0.0, 0.3))  # somewhere inside the next epoch
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait(30)
    assert child.returncode == -signal.SIGKILL
    assert 1 <= load_checkpoint(part / "last.pt")["epoch"] < 6  # killed mid-run, last.pt whole
    (part / ".last.pt.k1ll3d.tmp").write_bytes(b"half a checkpoint")  # as a kill during a save leaves it

    resumed = run_cli("train", "--resume", str(part), "--quiet")
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert _history(part) == _history(tmp_path / "full")
    assert not list(part.glob(".*.tmp"))
    a, b = load_checkpoint(tmp_path / "full" / "last.pt")["model"], load_checkpoint(part / "last.pt")["model"]
    assert all(torch.equal(a[k], b[k]) for k in a)


# -- every file the app writes appears whole or not at all ----------------------------------------------

# Places that write a file other than through checkpoint.atomic_write_bytes/atomic_write_text, and why each
# still never leaves a half-written file under its final name.
DIRECT_WRITES = {
    ("engine/checkpoint.py", "atomic_write_bytes"): "the temp file + rename itself",
    ("engine/training/feature_cache.py", "cached_features"): "FeatureStore.save, which writes through atomic_write_bytes",
    ("engine/deploy/sorting.py", "_copy_exclusive"): "copies to a temp file, then hard-links it to the free name",
    ("engine/project/lock.py", "acquire"): "the lock file is rewritten in place on purpose (its inode holds the lock)",
    ("engine/training/launch_job.py", "__init__"): "rank 0's messages to the launcher, appended one line each to a log "
                                                   "in the run's private temp folder (the reader takes whole lines only)",
    ("engine/data/demo.py", "_write_digits"): "writes into a staging folder that is renamed into place when complete",
    ("engine/data/demo.py", "demo_dataset_dir"): "the staging folder's marker, renamed into place with the folder",
    ("engine/deploy/bundle/predict.py", "main"): "the stand-alone script shipped in export bundles, not part of the app",
    ("smoke_child.py", "predict_folder_in_child"): "packaging smoke test: copies sample photos into a scratch folder",
    ("smoke.py", "arm_deadline"): "packaging smoke test: opens os.devnull",
    ("engine/deploy/predict_io.py", "append_csv"): "watch mode appends whole rows; a row cut short by a crash is "
                                                   "truncated away before the next rows go in",
    ("engine/deploy/quantize.py", "_quantize"): "scratch files inside a TemporaryDirectory; the INT8 model is then "
                                                "written through atomic_write_bytes",
    ("engine/training/lr_find.py", "find_lr"): "LrFindResult.save, which writes through atomic_write_text/bytes",
    ("engine/training/child.py", "slow"): "test hook (IMGCLS_TEST_HOOKS=1 only): half a temp file on purpose, as a "
                                          "crash in the middle of a checkpoint write leaves; then the real write",
}
_MODE = re.compile(r"^[rwxabt+]*[wxa+][rwxabt+]*$")
_MODULE_WRITERS = {("shutil", n) for n in ("copy", "copy2", "copyfile", "copytree", "move")} | {
    (m, "dump") for m in ("json", "yaml", "pickle")}


def _direct_writes(tree: ast.AST) -> list[tuple[str, int, str]]:
    """(enclosing function, line, call) for each call that writes a file by itself."""
    found: list[tuple[str, int, str]] = []

    def visit(node: ast.AST, function: str) -> None:
        for child in ast.iter_child_nodes(node):
            name = child.name if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef)) else function
            if isinstance(child, ast.Call) and _writes(child):
                found.append((function, child.lineno, ast.unparse(child.func)))
            visit(child, name)

    visit(tree, "<module>")
    return found


def _writes(call: ast.Call) -> bool:
    func = call.func
    name = func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else ""
    owner = func.value.id if isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name) else ""
    if (owner, name) == ("os", "open"):  # os.open(path, flags): a write when the flags allow one
        return any(flag in ast.unparse(call.args[1]) for flag in ("O_WRONLY", "O_RDWR", "O_CREAT")) if len(call.args) > 1 else False
    if name in ("open", "fdopen"):  # open(path, mode), os.fdopen(fd, mode), path.open(mode)
        modes = call.args[:2] + [k.value for k in call.keywords if k.arg == "mode"]
        return any(isinstance(m, ast.Constant) and isinstance(m.value, str) and _MODE.match(m.value) for m in modes)
    if (owner, name) in _MODULE_WRITERS or name in ("write_text", "write_bytes"):
        return True
    if name == "save" and call.args:  # torch/np/onnx/PIL/Qt save; into an in-memory buffer is the safe pattern
        return not any(isinstance(arg, ast.Name) and arg.id == "buffer" for arg in call.args[:2])
    return False


def test_every_file_write_is_a_temp_file_and_rename_or_explained():
    package = REPO / "imgcls_gui"
    unexplained, explained = [], set()
    for path in sorted(package.rglob("*.py")):
        relative = path.relative_to(package).as_posix()
        for function, line, call in _direct_writes(ast.parse(path.read_text(encoding="utf-8"))):
            if (relative, function) in DIRECT_WRITES:
                explained.add((relative, function))
            else:
                unexplained.append(f"{relative}:{line} {function}(): {call}(...)")
    assert not unexplained, "write through checkpoint.atomic_write_bytes/text instead:\n" + "\n".join(unexplained)
    assert explained == set(DIRECT_WRITES), f"stale entries: {set(DIRECT_WRITES) - explained}"


def test_the_write_scanner_finds_direct_writes():
    code = textwrap.dedent("""
        def bad(path, model):
            open(path, "w").write("x")
            path.write_text("x")
            torch.save(model, path)
        def good(path, model):
            open(path, "rb").read()
            torch.save(model, buffer)
            atomic_write_bytes(path, buffer.getvalue())
    """)
    assert [(f, c) for f, _, c in _direct_writes(ast.parse(code))] == [
        ("bad", "open"), ("bad", "path.write_text"), ("bad", "torch.save")]


def test_sorted_copies_appear_under_their_name_only_when_complete(tmp_path, monkeypatch):
    source = tmp_path / "photo.jpg"
    source.write_bytes(b"\xff\xd8" + b"x" * 5000)
    target_folder = tmp_path / "sorted" / "cats"
    seen_mid_copy: list[list[str]] = []
    real_copy = sorting.shutil.copyfileobj

    def watching_copy(src, dst, length=0):
        seen_mid_copy.append(sorted(p.name for p in target_folder.iterdir() if not p.name.startswith(".")))
        return real_copy(src, dst, length)

    monkeypatch.setattr(sorting.shutil, "copyfileobj", watching_copy)
    first = sorting.place_file(source, target_folder, move=False)
    second = sorting.place_file(source, target_folder, move=False)
    assert seen_mid_copy == [[], ["photo.jpg"]]  # while copying, the new name does not exist yet
    assert (first.name, second.name) == ("photo.jpg", "photo-1.jpg")
    assert first.read_bytes() == second.read_bytes() == source.read_bytes()
    assert sorted(p.name for p in target_folder.iterdir()) == ["photo-1.jpg", "photo.jpg"]  # no temp files left
