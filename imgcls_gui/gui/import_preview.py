"""What an import would do, shown before it lands: the classes found (checkable), the task, the change.

``build_import_preview`` runs in the import worker beside the reading (it is plain data); the dialog
only shows it and says which classes the user kept; ``keep_classes`` trims the read datasets to them.
"""

from __future__ import annotations

import dataclasses
import os
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from PySide6.QtCore import Qt, Slot
from PySide6.QtWidgets import (
    QDialog, QDialogButtonBox, QHBoxLayout, QLabel, QListWidget, QListWidgetItem, QMessageBox, QPushButton,
    QVBoxLayout, QWidget,
)

from ..engine import LabeledDataset
from .common.natural_sort import natural_key

TASK_SHORT = {"multiclass": "single-label", "multilabel": "multi-label"}
TASK_WORDS = {"multiclass": "single-label (one class per image)", "multilabel": "multi-label (several classes per image)"}


@dataclass(frozen=True)
class ProjectSnapshot:
    """What the preview compares against, read on the UI thread (which owns the project) before the scan."""

    name: str
    task: str
    image_count: int
    class_names: frozenset[str]
    image_paths: frozenset[str]  # absolute


@dataclass(frozen=True)
class ImportPreview:
    """The read data summed up against the project it would go into."""

    source: str
    task: str  # detected: multilabel when any dataset has several labels per image
    project: ProjectSnapshot
    class_counts: dict[str, int]  # naturally sorted
    label_sets: dict[tuple[tuple[str, ...], bool], int]  # (labels, not yet in the project) -> images
    unlabeled_new: int

    @property
    def changes_task(self) -> bool:
        """An empty project takes the task of the first data imported into it (Project.import_dataset)."""
        return self.project.image_count == 0 and self.task != self.project.task

    @property
    def refused(self) -> str:
        """Why the project would refuse this import, or ''."""
        if self.project.task == "multiclass" and self.task == "multilabel" and self.project.image_count > 0:
            return (f"These images have several labels each, but project '{self.project.name}' is single-label, "
                    "so they cannot be imported into it. Create a multi-label project for this data.")
        return ""

    def images_added(self, kept: Iterable[str]) -> int:
        kept = set(kept)
        labeled = sum(n for (labels, new), n in self.label_sets.items() if new and kept.intersection(labels))
        return labeled + self.unlabeled_new

    def images_known(self, kept: Iterable[str]) -> int:
        kept = set(kept)
        return sum(n for (labels, new), n in self.label_sets.items() if not new and kept.intersection(labels))

    def new_classes(self, kept: Iterable[str]) -> list[str]:
        return [name for name in self.class_counts if name in set(kept) and name not in self.project.class_names]


def build_import_preview(datasets: Sequence[LabeledDataset], source: str, project: ProjectSnapshot) -> ImportPreview:
    """Count classes and which images are new; pure, so it runs in the worker that read the data."""
    class_counts: Counter[str] = Counter()
    label_sets: Counter[tuple[tuple[str, ...], bool]] = Counter()
    unlabeled_new = 0
    for dataset in datasets:
        for name in dataset.classes:
            class_counts[name] += 0
        for sample in dataset.samples:
            new = os.path.abspath(sample.path) not in project.image_paths
            if sample.labels:
                class_counts.update(sample.labels)
                label_sets[(tuple(sample.labels), new)] += 1
            else:
                unlabeled_new += new
    labeled = [d for d in datasets if d.format != "files"]  # loose photos carry the project's own task
    task = "multilabel" if any(d.task == "multilabel" for d in labeled) else ("multiclass" if labeled else project.task)
    counts = {name: class_counts[name] for name in sorted(class_counts, key=natural_key)}
    return ImportPreview(source, task, project, counts, dict(label_sets), unlabeled_new)


def keep_classes(datasets: Sequence[LabeledDataset], kept: Iterable[str]) -> list[LabeledDataset]:
    """The datasets without the unchecked classes: an image left with no kept label is not imported;
    unlabeled images stay (they belong to no class)."""
    kept = set(kept)
    trimmed: list[LabeledDataset] = []
    for dataset in datasets:
        samples = []
        for sample in dataset.samples:
            labels = tuple(name for name in sample.labels if name in kept)
            if labels or not sample.labels:
                samples.append(sample if labels == sample.labels else dataclasses.replace(sample, labels=labels))
        classes = [name for name in dataset.classes if name in kept]
        trimmed.append(dataclasses.replace(dataset, samples=samples, classes=classes))
    return trimmed


class ImportPreviewDialog(QDialog):
    """Classes with counts and checkboxes, the task detected, what the project gains; Import asks once
    more when the import would change the project's task."""

    def __init__(self, preview: ImportPreview, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.preview = preview
        self.task_confirmation: QMessageBox | None = None
        self.setWindowTitle("Import preview")
        self.setObjectName("importPreviewDialog")
        layout = QVBoxLayout(self)
        found = sum(preview.class_counts.values())
        heading = QLabel(f"<b>{preview.source}</b>: {len(preview.class_counts)} classes found. "
                         "Unchecked classes are not imported.")
        heading.setWordWrap(True)
        layout.addWidget(heading)
        self.task_label = QLabel(f"Task detected: {TASK_WORDS[preview.task]}")
        layout.addWidget(self.task_label)
        self.class_list = QListWidget()
        self.class_list.setObjectName("importClasses")
        for name, count in preview.class_counts.items():
            is_new = name not in preview.project.class_names
            item = QListWidgetItem(f"{name}  —  {count} image{'s' * (count != 1)}{'  (new class)' if is_new else ''}")
            item.setData(Qt.ItemDataRole.UserRole, name)
            item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
            item.setCheckState(Qt.CheckState.Checked)
            self.class_list.addItem(item)
        self.class_list.setToolTip(f"{found} labels in all; click a box to leave a class out")
        self.class_list.itemChanged.connect(self._update_summary)
        layout.addWidget(self.class_list)
        row = QHBoxLayout()
        self.check_all = QPushButton("Check all")
        self.check_all.clicked.connect(self._check_all)
        self.uncheck_all = QPushButton("Uncheck all")
        self.uncheck_all.clicked.connect(self._uncheck_all)
        row.addWidget(self.check_all)
        row.addWidget(self.uncheck_all)
        row.addStretch(1)
        layout.addLayout(row)
        self.summary = QLabel()
        self.summary.setObjectName("importSummary")
        self.summary.setWordWrap(True)
        layout.addWidget(self.summary)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        self.import_button = self.buttons.button(QDialogButtonBox.StandardButton.Ok)
        self.import_button.setText("Import")
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        layout.addWidget(self.buttons)
        self.resize(520, 480)
        self._update_summary()

    def kept_classes(self) -> list[str]:
        items = (self.class_list.item(row) for row in range(self.class_list.count()))
        return [i.data(Qt.ItemDataRole.UserRole) for i in items if i.checkState() == Qt.CheckState.Checked]

    def set_class_checked(self, name: str, checked: bool) -> None:
        for row in range(self.class_list.count()):
            item = self.class_list.item(row)
            if item.data(Qt.ItemDataRole.UserRole) == name:
                item.setCheckState(Qt.CheckState.Checked if checked else Qt.CheckState.Unchecked)

    @Slot()
    def _check_all(self) -> None:
        self._set_all(Qt.CheckState.Checked)

    @Slot()
    def _uncheck_all(self) -> None:
        self._set_all(Qt.CheckState.Unchecked)

    def _set_all(self, state: Qt.CheckState) -> None:
        for row in range(self.class_list.count()):
            self.class_list.item(row).setCheckState(state)

    @Slot()
    def _update_summary(self) -> None:
        preview, kept = self.preview, self.kept_classes()
        added, known, new_classes = preview.images_added(kept), preview.images_known(kept), preview.new_classes(kept)
        lines = [f"Project '{preview.project.name}' gains {added} image{'s' * (added != 1)} and "
                 f"{len(new_classes)} new class{'es' * (len(new_classes) != 1)}"
                 + (f" ({', '.join(new_classes[:8])}{', …' if len(new_classes) > 8 else ''})." if new_classes else ".")]
        if known:
            lines.append(f"{known} image{'s are' if known != 1 else ' is'} already in the project and will be skipped.")
        if preview.unlabeled_new:
            lines.append(f"{preview.unlabeled_new} unlabeled image(s) are added whatever is checked.")
        if preview.changes_task:
            lines.append(f"<b>The project becomes {TASK_WORDS[preview.task]}</b> "
                         f"(it is {TASK_WORDS[preview.project.task]} now).")
        if preview.refused:
            lines.append(f"<b>{preview.refused}</b>")
        self.summary.setText("<br>".join(lines))
        self.import_button.setEnabled(not preview.refused and added > 0)

    def accept(self) -> None:
        """Import, after a confirmation when the project's task would change (never silently)."""
        if not self.preview.changes_task:
            super().accept()
            return
        box = QMessageBox(QMessageBox.Icon.Question, "Change the project's task?",
                          f"Importing these images changes project '{self.preview.project.name}' from "
                          f"{TASK_WORDS[self.preview.project.task]} to {TASK_WORDS[self.preview.task]}.",
                          QMessageBox.StandardButton.Cancel, self)
        box.addButton(f"Import and make it {TASK_SHORT[self.preview.task]}",
                      QMessageBox.ButtonRole.AcceptRole)
        box.setDefaultButton(QMessageBox.StandardButton.Cancel)
        box.finished.connect(self._task_change_answered)
        self.task_confirmation = box
        box.open()

    @Slot(int)
    def _task_change_answered(self, _result: int) -> None:
        box, self.task_confirmation = self.task_confirmation, None
        if box is not None and box.buttonRole(box.clickedButton()) == QMessageBox.ButtonRole.AcceptRole:
            super().accept()
        else:
            self.reject()  # Cancel: nothing imported, the project as it was
