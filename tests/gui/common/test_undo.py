"""Undoable project changes: the database follows undo/redo, refused changes never reach the stack."""

from __future__ import annotations

from pathlib import Path

import pytest

from imgcls_gui.engine.project.store import Project, ProjectError
from imgcls_gui.engine.data.samples import LabeledDataset, Sample
from imgcls_gui.gui.common.undo import (
    AddClassCommand,
    DeleteClassCommand,
    RemoveImagesCommand,
    RenameClassCommand,
    assign_class,
    clear_labels,
    push,
    toggle_tag,
)
from imgcls_gui.gui.state import AppState


@pytest.fixture
def state(qtbot, tmp_path: Path):
    state = AppState()
    project = Project.create(tmp_path / "p", task="multilabel")
    samples = [Sample(tmp_path / f"{i}.png", ("a",) if i < 2 else ()) for i in range(4)]
    project.import_dataset(LabeledDataset(tmp_path, "files", samples, ["a", "b"], "multilabel"))
    state.set_project(project)
    yield state
    state.close_project()


def labels(state: AppState) -> dict[int, tuple[str, ...]]:
    return state.project.labels_of([1, 2, 3, 4])


def test_toggle_tag_adds_to_those_lacking_it_then_removes_from_all(state: AppState, qtbot):
    with qtbot.waitSignal(state.labelsChanged) as changed:
        toggle_tag(state, [1, 3], "a")
    assert changed.args == [[3]]  # image 1 already had it: not touched
    assert labels(state) == {1: ("a",), 2: ("a",), 3: ("a",), 4: ()}
    toggle_tag(state, [1, 3], "a")
    assert labels(state) == {1: (), 2: ("a",), 3: (), 4: ()}
    state.undo_stack.undo()
    state.undo_stack.undo()
    assert labels(state) == {1: ("a",), 2: ("a",), 3: (), 4: ()}
    state.undo_stack.redo()
    assert labels(state)[3] == ("a",)


def test_tags_keep_class_order(state: AppState):
    toggle_tag(state, [1], "b")
    assert labels(state)[1] == ("a", "b")
    clear_labels(state, [1, 2])
    assert labels(state)[1] == () and labels(state)[2] == ()


def test_unchanged_labels_push_nothing(state: AppState):
    assign_class(state, [], "a")
    toggle_tag(state, [], "a")
    assert state.undo_stack.count() == 0


def test_refused_changes_are_not_recorded(state: AppState):
    with pytest.raises(ProjectError):
        assign_class(state, [1], "zebra")
    with pytest.raises(ProjectError):
        push(state, AddClassCommand(state, "a"))
    assert state.undo_stack.count() == 0


def test_class_commands_undo_in_order(state: AppState):
    push(state, AddClassCommand(state, "c"))
    toggle_tag(state, [4], "c")
    push(state, RenameClassCommand(state, "c", "cee"))
    push(state, DeleteClassCommand(state, "cee"))
    assert state.project.class_names() == ["a", "b"] and labels(state)[4] == ()
    state.undo_stack.undo()
    assert labels(state)[4] == ("cee",)
    state.undo_stack.undo()
    assert labels(state)[4] == ("c",)
    state.undo_stack.undo()
    state.undo_stack.undo()
    assert state.project.class_names() == ["a", "b"]
    for _ in range(4):
        state.undo_stack.redo()
    assert state.project.class_names() == ["a", "b"] and state.undo_stack.canUndo()
    state.undo_stack.undo()
    assert labels(state)[4] == ("cee",)


def test_remove_and_undo_keep_ids(state: AppState, qtbot):
    with qtbot.waitSignal(state.imagesChanged):
        push(state, RemoveImagesCommand(state, [1, 4]))
    assert state.project.image_count() == 2
    state.undo_stack.undo()
    assert labels(state) == {1: ("a",), 2: ("a",), 3: (), 4: ()}


def test_switching_projects_clears_the_undo_stack(state: AppState, tmp_path: Path):
    toggle_tag(state, [4], "b")
    state.set_project(Project.create(tmp_path / "other"))
    assert state.undo_stack.count() == 0
