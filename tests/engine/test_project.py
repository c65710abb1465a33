"""The project store: one committed transaction per change, a lock per writer, missing files listed."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from .conftest import write_folder_dataset, write_image

from imgcls_gui.engine.project import lock as project_lock
from imgcls_gui.engine.project.store import (
    PROJECT_FILE,
    ImageInfo,
    Project,
    ProjectError,
    ProjectLockedError,
    ProjectReadOnlyError,
    scan_image_info,
    split_to_assignment,
)
from imgcls_gui.engine.data.samples import LabeledDataset, Sample


def folder_dataset_of(root: Path, task: str = "multiclass") -> LabeledDataset:
    """A LabeledDataset for root/<class>/<file> built by hand (the store must not depend on importers)."""
    samples = [Sample(p, (p.parent.name,)) for p in sorted(root.rglob("*.png"))]
    return LabeledDataset(root, "folder", samples, sorted({s.labels[0] for s in samples}), task)


@pytest.fixture
def pets(tmp_path: Path) -> LabeledDataset:
    return folder_dataset_of(write_folder_dataset(tmp_path / "pets", {"cat": 3, "dog": 3, "fox": 2}))


@pytest.fixture
def project(tmp_path: Path, pets: LabeledDataset):
    with Project.create(tmp_path / "proj", name="Pets") as proj:
        proj.import_dataset(pets)
        yield proj


def test_create_writes_a_wal_database_with_meta(tmp_path: Path):
    with Project.create(tmp_path / "p", name="My project", task="multilabel") as proj:
        assert (proj.name, proj.task) == ("My project", "multilabel")
    conn = sqlite3.connect(tmp_path / "p" / PROJECT_FILE)
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert {"images", "classes", "labels", "meta"} <= tables


def test_create_refuses_an_existing_project_and_open_refuses_an_empty_folder(tmp_path: Path):
    Project.create(tmp_path / "p").close()
    with pytest.raises(ProjectError, match="already holds a project"):
        Project.create(tmp_path / "p")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ProjectError, match="no project.sqlite"):
        Project.open(tmp_path / "empty")


def test_open_reports_a_corrupt_database_as_a_project_error(tmp_path: Path):
    (tmp_path / "p").mkdir()
    (tmp_path / "p" / PROJECT_FILE).write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(ProjectError, match="not a readable imgcls project"):
        Project.open(tmp_path / "p")


def test_import_stores_images_labels_classes_and_known_split(tmp_path: Path, pets: LabeledDataset):
    inside = write_image(tmp_path / "proj" / "local" / "a.png", seed=99)
    samples = [*pets.samples, Sample(inside, (), "val")]
    dataset = LabeledDataset(pets.root, "folder", samples, pets.classes, "multiclass")
    with Project.create(tmp_path / "proj") as proj:
        summary = proj.import_dataset(dataset)
        assert (summary.added, summary.skipped) == (9, 0)
        assert summary.classes_added == ("cat", "dog", "fox")
        assert proj.class_image_counts() == {"cat": 3, "dog": 3, "fox": 2}
        records = {r.file.name + r.file.parent.name: r for r in proj.images()}
        assert records["a.pnglocal"].path == "local/a.png"  # inside the project: relative
        assert records["a.pnglocal"].split == "val" and records["a.pnglocal"].labels == ()
        assert Path(records["000.pngcat"].path).is_absolute()  # outside: absolute
        assert records["000.pngcat"].size == (pets.root / "cat" / "000.png").stat().st_size
        assert len({c.colour for c in proj.classes()}) == 3
        again = proj.import_dataset(dataset)
        assert (again.added, again.skipped, again.classes_added) == (0, 9, ())
        assert proj.image_count() == 9


def test_import_reports_progress_and_handles_20000_rows(tmp_path: Path):
    samples = [Sample(tmp_path / "gone" / f"{i}.jpg", (f"c{i % 4}",)) for i in range(20_000)]
    dataset = LabeledDataset(tmp_path, "folder", samples, ["c0", "c1", "c2", "c3"], "multiclass")
    seen: list[tuple[int, int]] = []
    with Project.create(tmp_path / "big") as proj:
        proj.import_dataset(dataset, progress=lambda done, total: seen.append((done, total)))
        assert proj.image_count() == 20_000
        assert len(proj.images()) == 20_000
        assert proj.class_image_counts()["c3"] == 5_000
    assert seen[-1] == (20_000, 20_000) and len(seen) > 1


def test_empty_project_adopts_the_task_of_the_first_import_but_a_used_one_refuses(tmp_path: Path, pets):
    multilabel = LabeledDataset(pets.root, "csv", [Sample(pets.samples[0].path, ("cat", "dog"))], ["cat", "dog"], "multilabel")
    with Project.create(tmp_path / "a") as proj:
        proj.import_dataset(multilabel)
        assert proj.task == "multilabel"
        assert proj.labels_of([1]) == {1: ("cat", "dog")}
    with Project.create(tmp_path / "b") as proj:
        proj.import_dataset(pets)
        with pytest.raises(ProjectError, match="multi-label project"):
            proj.import_dataset(multilabel)


def test_set_labels_replaces_and_validates(project: Project):
    ids = [r.id for r in project.images()][:3]
    project.set_labels(ids, "fox")
    assert set(project.labels_of(ids).values()) == {("fox",)}
    project.set_labels(ids[:1], [])
    assert project.labels_of(ids[:1]) == {ids[0]: ()}
    with pytest.raises(ProjectError, match="no class named 'wolf'"):
        project.set_labels(ids, "wolf")
    with pytest.raises(ProjectError, match="single-label"):
        project.set_labels(ids, ["cat", "dog"])
    assert project.labels_of(ids[1:]) == {ids[1]: ("fox",), ids[2]: ("fox",)}  # failed calls changed nothing


def test_multilabel_add_and_remove_toggle_tags(tmp_path: Path, pets):
    with Project.create(tmp_path / "p", task="multilabel") as proj:
        proj.import_dataset(LabeledDataset(pets.root, "folder", pets.samples, pets.classes, "multilabel"))
        first = proj.images()[0]
        proj.add_label([first.id], "dog")
        assert proj.labels_of([first.id])[first.id] == ("cat", "dog")  # in class order
        proj.remove_label([first.id], "cat")
        assert proj.labels_of([first.id])[first.id] == ("dog",)


def test_add_label_in_a_multiclass_project_replaces(project: Project):
    first = project.images()[0]
    project.add_label([first.id], "fox")
    assert project.labels_of([first.id])[first.id] == ("fox",)


def test_remove_images_keeps_files_and_restore_brings_back_ids_and_labels(project: Project):
    records = project.images()[:2]
    removed = project.remove_images([r.id for r in records])
    assert project.image_count() == 6
    assert all(r.file.is_file() for r in records)
    project.restore_images(removed)
    assert [(r.id, r.labels) for r in project.images_by_id([r.id for r in records])] == [(r.id, r.labels) for r in records]


def test_class_rename_recolour_delete_and_restore(project: Project):
    project.rename_class("fox", "vixen")
    project.recolour_class("vixen", "#123456")
    assert [(c.name, c.colour) for c in project.classes()][-1] == ("vixen", "#123456")
    with pytest.raises(ProjectError, match="already exists"):
        project.rename_class("cat", "dog")
    with pytest.raises(ProjectError, match="#rrggbb"):
        project.recolour_class("cat", "red")
    before = project.class_names()
    deleted = project.delete_class("cat")
    assert len(deleted.image_ids) == 3 and "cat" not in project.class_names()
    assert project.unlabeled_count() == 3
    project.restore_class(deleted)
    assert project.class_names() == before and project.class_image_counts()["cat"] == 3
    new = project.add_class("  owl ")
    assert new.name == "owl" and new.position == 3


def test_assign_split_and_counts(project: Project):
    dataset, ids = project.dataset_with_ids(labeled_only=True)

    class FakeSplit:  # the engine's Split shape: index tuples into the dataset
        train, val, test = (0, 1, 2, 3, 4), (5, 6), (7,)

    assignment = split_to_assignment(FakeSplit, ids)
    project.assign_split(assignment)
    counts = project.split_counts()
    assert sum(c.get("train", 0) for c in counts.values()) == 5
    assert sum(c.get("test", 0) for c in counts.values()) == 1
    assert [s.split for s in project.to_labeled_dataset().samples].count("val") == 2
    with pytest.raises(ProjectError, match="unknown split"):
        project.assign_split({ids[0]: "holdout"})


def test_moved_images_are_listed_and_become_problems_not_failures(project: Project):
    victim = project.images()[0]
    victim.file.rename(victim.file.with_name("moved.png"))
    project.close()
    with Project.open(project.folder) as reopened:
        assert [r.id for r in reopened.missing_images()] == [victim.id]
        dataset = reopened.to_labeled_dataset()
        assert len(dataset.samples) == 7
        assert [p.kind for p in dataset.problems] == ["missing"]


def test_scan_image_info_fills_hash_and_size(project: Project):
    records = project.images()
    infos = scan_image_info(records)
    assert {i.image_id for i in infos} == {r.id for r in records}
    assert all(i.width == 24 and i.height == 16 and len(i.sha1 or "") == 40 for i in infos)
    project.update_image_info(infos)
    assert project.images()[0].sha1 == infos[0].sha1
    stopped = scan_image_info(records, should_stop=lambda: True)
    assert stopped == []


def test_update_image_info_on_unknown_id_is_harmless(project: Project):
    project.update_image_info([ImageInfo(999, "x", 1, 2, 3)])
    assert project.image_count() == 8


def test_second_writer_is_refused_and_read_only_works(project: Project):
    with pytest.raises(ProjectLockedError, match=f"process {os.getpid()}"):
        Project.open(project.folder)
    with Project.open(project.folder, read_only=True) as viewer:
        assert viewer.image_count() == 8
        with pytest.raises(ProjectReadOnlyError):
            viewer.set_labels([1], "cat")
    project.close()
    Project.open(project.folder).close()  # the lock went with close()


def _dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def test_stale_lock_of_a_killed_process_is_taken_over(tmp_path: Path):
    Project.create(tmp_path / "p").close()
    code = textwrap.dedent(f"""
        import sys, time
        from imgcls_gui.engine.project.store import Project
        p = Project.open({str(tmp_path / 'p')!r})
        print('ready', flush=True)
        time.sleep(60)
    """)
    child = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout.readline().strip() == "ready"
        with pytest.raises(ProjectLockedError, match=f"process {child.pid}"):
            Project.open(tmp_path / "p")
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait()
    assert project_lock.read_lock_owner(tmp_path / "p").pid == child.pid  # the file still names the dead PID
    Project.open(tmp_path / "p").close()


def test_without_os_locks_the_pid_decides(tmp_path: Path, monkeypatch):
    monkeypatch.setattr(project_lock, "fcntl", None)
    monkeypatch.setattr(project_lock, "msvcrt", None)
    monkeypatch.setattr(project_lock, "_HAS_OS_LOCKS", False)
    Project.create(tmp_path / "p").close()
    lock_file = tmp_path / "p" / project_lock.LOCK_FILE
    host = project_lock.socket.gethostname()
    lock_file.write_text(f"pid={_dead_pid()}\nhost={host}\n")
    Project.open(tmp_path / "p").close()  # dead PID: stale, taken over
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        lock_file.write_text(f"pid={sleeper.pid}\nhost={host}\n")
        with pytest.raises(ProjectLockedError, match=str(sleeper.pid)):
            Project.open(tmp_path / "p")
    finally:
        sleeper.kill()
        sleeper.wait()


CHILD_LABELER = textwrap.dedent("""
    import sys
    from imgcls_gui.engine.project.store import Project
    project = Project.open(sys.argv[1])
    names = project.class_names()
    for n, record in enumerate(project.images()):  # each image labeled once, so a later write cannot mask an earlier one
        project.set_labels([record.id], names[n % len(names)])
        print(record.id, names[n % len(names)], flush=True)  # printed only after the commit returned: acknowledged
""")


@pytest.mark.parametrize("trial", range(4))
def test_kill_9_mid_labeling_loses_nothing_acknowledged(tmp_path: Path, trial: int):
    samples = [Sample(tmp_path / f"{i}.jpg") for i in range(2000)]
    with Project.create(tmp_path / "p") as proj:
        proj.import_dataset(LabeledDataset(tmp_path, "files", samples, ["a", "b", "c"], "multiclass"))
    child = subprocess.Popen([sys.executable, "-c", CHILD_LABELER, str(tmp_path / "p")], stdout=subprocess.PIPE, text=True)
    acknowledged: dict[int, str] = {}
    try:
        for _ in range(10 + 25 * trial):
            image_id, name = child.stdout.readline().split()
            acknowledged[int(image_id)] = name
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait()
    # Lines written after our last read were acknowledged too; a line the kill cut short was not.
    for line in child.stdout.read().split("\n")[:-1]:
        image_id, name = line.split()
        acknowledged[int(image_id)] = name
    conn = sqlite3.connect(tmp_path / "p" / PROJECT_FILE)
    assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    conn.close()
    with Project.open(tmp_path / "p") as reopened:  # the dead child's lock is stale and taken over
        stored = reopened.labels_of(acknowledged)
    assert {image_id: labels[0] for image_id, labels in stored.items()} == acknowledged
