"""Undoable changes to a project (QUndoStack commands), each one committed transaction per step.

Every change of labels, classes or membership goes through here, so the undo stack always
matches the database: undoing in LIFO order meets the classes exactly as they were when the
command ran. ``push`` applies a command first and only records it if that worked, so a refused
change (read-only project, unknown class) never lands on the stack.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from PySide6.QtGui import QUndoCommand

from ...engine import DeletedClass, LabeledDataset, RemovedImages
from ..state import AppState


class ProjectCommand(QUndoCommand):
    def __init__(self, state: AppState, text: str) -> None:
        super().__init__(text)
        self.state = state
        self._skip_next_redo = False

    def apply(self) -> None:
        raise NotImplementedError

    def revert(self) -> None:
        raise NotImplementedError

    def redo(self) -> None:
        if self._skip_next_redo:  # QUndoStack.push calls redo(); push() already applied it
            self._skip_next_redo = False
            return
        self.apply()

    def undo(self) -> None:
        self.revert()

    @property
    def project(self):
        assert self.state.project is not None, "commands only exist while a project is open"
        return self.state.project


def push(state: AppState, command: ProjectCommand) -> None:
    """Apply ``command`` now (exceptions propagate, nothing is recorded) and put it on the undo stack."""
    command.apply()
    command._skip_next_redo = True
    state.undo_stack.push(command)


class SetLabelsCommand(ProjectCommand):
    """Each image goes from its ``before`` labels to its ``after`` labels."""

    def __init__(self, state: AppState, before: Mapping[int, Sequence[str]], after: Mapping[int, Sequence[str]], text: str):
        super().__init__(state, text)
        self.before = {k: tuple(v) for k, v in before.items()}
        self.after = {k: tuple(v) for k, v in after.items()}

    def apply(self) -> None:
        self.project.apply_labels(self.after)
        self.state.notify_labels(list(self.after))

    def revert(self) -> None:
        self.project.apply_labels(self.before)
        self.state.notify_labels(list(self.before))


def assign_class(state: AppState, image_ids: Iterable[int], name: str) -> None:
    """Give every image exactly ``name`` (single-label projects; ``toggle_tag`` is the multi-label twin)."""
    before = state.project.labels_of(image_ids)
    _push_labels(state, before, {i: (name,) for i in before}, f"Label {len(before)} image(s) '{name}'")


def toggle_tag(state: AppState, image_ids: Iterable[int], name: str) -> None:
    """Multi-label: remove ``name`` if every image has it, else add it to those that lack it."""
    before = state.project.labels_of(image_ids)
    if before and all(name in labels for labels in before.values()):
        after = {i: tuple(n for n in labels if n != name) for i, labels in before.items()}
        text = f"Remove tag '{name}' from {len(before)} image(s)"
    else:
        order = {n: k for k, n in enumerate(state.project.class_names())}
        after = {i: tuple(sorted({*labels, name}, key=order.get)) for i, labels in before.items()}
        text = f"Tag {len(before)} image(s) '{name}'"
    _push_labels(state, before, after, text)


def clear_labels(state: AppState, image_ids: Iterable[int]) -> None:
    before = state.project.labels_of(image_ids)
    _push_labels(state, before, {i: () for i in before}, f"Clear labels of {len(before)} image(s)")


def _push_labels(state: AppState, before: dict[int, tuple[str, ...]], after: dict[int, tuple[str, ...]], text: str) -> None:
    changed = [i for i in before if before[i] != after[i]]
    if changed:
        push(state, SetLabelsCommand(state, {i: before[i] for i in changed}, {i: after[i] for i in changed}, text))


class KeepIssueCommand(ProjectCommand):
    """The Review view's "keep the label": this suspicion of this image, with these labels, is not listed again."""

    def __init__(self, state: AppState, image_id: int, kind: str, labels: Sequence[str], text: str) -> None:
        super().__init__(state, text)
        self.image_id, self.kind, self.labels = image_id, kind, tuple(labels)

    def apply(self) -> None:
        self.project.kept_issues.keep(self.image_id, self.kind, self.labels)
        self.state.notify_kept([self.image_id])

    def revert(self) -> None:
        self.project.kept_issues.forget(self.image_id, self.kind)
        self.state.notify_kept([self.image_id])


class RemoveImagesCommand(ProjectCommand):
    """Take images out of the project; their files stay on disk."""

    def __init__(self, state: AppState, image_ids: Iterable[int]) -> None:
        self.image_ids = list(image_ids)
        super().__init__(state, f"Remove {len(self.image_ids)} image(s) from the project")
        self.removed: RemovedImages | None = None

    def apply(self) -> None:
        self.removed = self.project.remove_images(self.image_ids)
        self.state.notify_images()

    def revert(self) -> None:
        if self.removed is not None:
            self.project.restore_images(self.removed)
            self.state.notify_images()


class AddImagesCommand(ProjectCommand):
    """Add a dataset's images (captured frames) to the project; undo takes them out again (files stay on
    disk, so redo brings back the same images with the same ids)."""

    def __init__(self, state: AppState, dataset: LabeledDataset, text: str) -> None:
        super().__init__(state, text)
        self.dataset = dataset
        self.added_ids: tuple[int, ...] = ()
        self.removed: RemovedImages | None = None

    def apply(self) -> None:
        if self.removed is None:
            self.added_ids = self.project.import_dataset(self.dataset).added_ids
        else:
            self.project.restore_images(self.removed)
        self.state.notify_classes()
        self.state.notify_images()

    def revert(self) -> None:
        self.removed = self.project.remove_images(self.added_ids)
        self.state.notify_images()


class AddClassCommand(ProjectCommand):
    def __init__(self, state: AppState, name: str, colour: str | None = None) -> None:
        super().__init__(state, f"Add class '{name.strip()}'")
        self.name, self.colour = name.strip(), colour

    def apply(self) -> None:
        self.colour = self.project.add_class(self.name, self.colour).colour  # redo keeps the same colour
        self.state.notify_classes()

    def revert(self) -> None:
        self.project.delete_class(self.name)
        self.state.notify_classes()


class RenameClassCommand(ProjectCommand):
    def __init__(self, state: AppState, old: str, new: str) -> None:
        super().__init__(state, f"Rename class '{old}' to '{new.strip()}'")
        self.old, self.new = old, new.strip()

    def apply(self) -> None:
        self.project.rename_class(self.old, self.new)
        self.state.notify_classes()

    def revert(self) -> None:
        self.project.rename_class(self.new, self.old)
        self.state.notify_classes()


class RecolourClassCommand(ProjectCommand):
    def __init__(self, state: AppState, name: str, colour: str) -> None:
        super().__init__(state, f"Recolour class '{name}'")
        self.name, self.colour = name, colour
        self.old_colour = next(c.colour for c in state.project.classes() if c.name == name)

    def apply(self) -> None:
        self.project.recolour_class(self.name, self.colour)
        self.state.notify_classes()

    def revert(self) -> None:
        self.project.recolour_class(self.name, self.old_colour)
        self.state.notify_classes()


class DeleteClassCommand(ProjectCommand):
    """Delete a class and its labels; undo restores both."""

    def __init__(self, state: AppState, name: str) -> None:
        super().__init__(state, f"Delete class '{name}'")
        self.name = name
        self.deleted: DeletedClass | None = None

    def apply(self) -> None:
        self.deleted = self.project.delete_class(self.name)
        self.state.notify_classes()

    def revert(self) -> None:
        if self.deleted is not None:
            self.project.restore_class(self.deleted)
            self.state.notify_classes()
