"""The engine's health report as a list whose rows select the images involved.

The check (decoding every file, hashing same-size files) runs in a worker; the rows are plain
``HealthFinding`` records built from the report by a Qt-free function.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import qtawesome as qta
from PySide6.QtCore import Qt, Signal, Slot
from PySide6.QtWidgets import QHBoxLayout, QLabel, QListWidget, QListWidgetItem, QProgressBar, QPushButton, QVBoxLayout, QWidget

from ...engine import LabeledDataset
from ..state import AppState
from ..worker import LatestTask, TaskState

IDS_ROLE = Qt.ItemDataRole.UserRole + 1
KIND_ICONS = {"problem": ("mdi6.alert-circle-outline", "#c0392b"), "duplicate": ("mdi6.content-copy", "#b07a1f"),
              "balance": ("mdi6.scale-unbalanced", "#b07a1f"), "info": ("mdi6.information-outline", "#4a6fa5"),
              "ok": ("mdi6.check-circle-outline", "#2e8b57")}


@dataclass(frozen=True)
class HealthFinding:
    kind: str  # problem | duplicate | balance | info | ok
    text: str
    image_ids: tuple[int, ...] = ()


def check_health(state: TaskState, dataset: LabeledDataset, min_per_class: int = 5):
    """Worker task: the engine's report, cancellable between files."""
    from ...engine import health_report

    def progress(done: int, total: int) -> None:
        state.raise_if_interrupted()
        state.set_progress(done, total)

    return health_report(dataset, check_images=True, min_per_class=min_per_class, progress=progress)


def findings_from_report(report, ids_by_path: Mapping[str, int], labels_by_id: Mapping[int, tuple[str, ...]]) -> list[HealthFinding]:
    """One row per thing to fix (each naming its images), after a one-line summary."""
    def ids_of(paths) -> tuple[int, ...]:
        return tuple(ids_by_path[p] for p in paths if p in ids_by_path)

    def ids_with(label: str) -> tuple[int, ...]:
        return tuple(i for i, labels in labels_by_id.items() if label in labels)

    findings = [HealthFinding("info", f"{report.total} images: {report.labeled} labeled, {report.unlabeled} unlabeled, "
                                      f"{len(report.class_counts)} classes")]
    for problem in report.problems:
        findings.append(HealthFinding("problem", f"{problem.kind}: {Path(problem.path).name} — {problem.reason}",
                                      ids_of([problem.path])))
    for group in report.duplicates:
        names = " = ".join(Path(p).name for p in group)
        findings.append(HealthFinding("duplicate", f"identical files: {names}", ids_of(group)))
    for name in report.tiny_classes:
        count = report.class_counts.get(name, 0)
        findings.append(HealthFinding("balance", f"class '{name}' has only {count} image(s); aim for at least "
                                                 f"{report.min_per_class}", ids_with(name)))
    present = {n: c for n, c in report.class_counts.items() if c > 0}
    if report.imbalance_ratio >= 2 and present:
        smallest = min(present, key=present.get)
        largest = max(present, key=present.get)
        findings.append(HealthFinding(
            "balance", f"imbalance {report.imbalance_ratio:.1f}×: '{largest}' {present[largest]} vs "
                       f"'{smallest}' {present[smallest]} images (selects '{smallest}')", ids_with(smallest)))
    if report.unlabeled:
        findings.append(HealthFinding("info", f"{report.unlabeled} unlabeled image(s): not used for training",
                                      tuple(i for i, labels in labels_by_id.items() if not labels)))
    if not any(f.kind in ("problem", "duplicate", "balance") for f in findings):
        findings.append(HealthFinding("ok", "No problems found."))
    return findings


class HealthView(QWidget):
    imagesRequested = Signal(list)  # ids to select in the grid
    flaggedChanged = Signal()  # ``flagged_ids`` changed (the grid's "health problems" filter uses it)

    def __init__(self, state: AppState, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.state = state
        self.flagged_ids: frozenset[int] = frozenset()
        self.findings: list[HealthFinding] = []
        self.check = LatestTask(self)  # closing the project drops its check
        self.run_button = QPushButton(qta.icon("mdi6.stethoscope"), "Check health")
        self.run_button.setObjectName("healthButton")
        self.run_button.clicked.connect(self.start)
        self.progress = QProgressBar()
        self.progress.setVisible(False)
        self.progress.setTextVisible(False)
        self.list = QListWidget()
        self.list.setObjectName("healthList")
        self.list.setWordWrap(True)
        self.list.currentItemChanged.connect(self._row_chosen)
        self.list.itemClicked.connect(self._row_clicked)
        self.summary = QLabel("Checks every file for decoding errors and duplicates, and the classes for balance.")
        self.summary.setWordWrap(True)
        top = QHBoxLayout()
        top.addWidget(self.run_button)
        top.addWidget(self.progress, 1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addLayout(top)
        layout.addWidget(self.summary)
        layout.addWidget(self.list, 1)
        state.projectChanged.connect(self._project_changed)

    @property
    def running(self) -> bool:
        return self.check.busy

    @Slot()
    def start(self) -> None:
        project = self.state.project
        if project is None or self.running:
            return
        dataset, _ = project.dataset_with_ids()
        self._records = {str(r.file): r for r in project.images()}
        self.run_button.setEnabled(False)
        self.progress.setVisible(True)
        self.progress.setRange(0, 0)
        self.summary.setText("Checking…")
        self.check.start(check_health, dataset, on_success=self._done, on_failure=self._failed,
                         on_progress=self._progress, on_cancel=self._cancelled)

    def cancel(self) -> None:
        self.check.cancel()

    @Slot(int, int)
    def _progress(self, done: int, total: int) -> None:
        self.progress.setRange(0, max(total, 1))
        self.progress.setValue(done)

    @Slot(object)
    def _done(self, report) -> None:
        self._finish()
        ids_by_path = {path: record.id for path, record in self._records.items()}
        labels_by_id = {record.id: record.labels for record in self._records.values()}
        self.show_findings(findings_from_report(report, ids_by_path, labels_by_id))

    @Slot(str, str)
    def _failed(self, message: str, details: str) -> None:
        self._finish()
        self.summary.setText(f"The check failed: {message}")

    @Slot()
    def _cancelled(self) -> None:
        self._finish()
        self.summary.setText("Check cancelled.")

    def _finish(self) -> None:
        self.run_button.setEnabled(True)
        self.progress.setVisible(False)

    def show_findings(self, findings: list[HealthFinding]) -> None:
        self.findings = findings
        self.list.clear()
        for finding in findings:
            icon, colour = KIND_ICONS[finding.kind]
            item = QListWidgetItem(qta.icon(icon, color=colour), finding.text)
            item.setData(IDS_ROLE, list(finding.image_ids))
            if finding.image_ids:
                item.setToolTip(f"Click to select the {len(finding.image_ids)} image(s) involved")
            self.list.addItem(item)
        fixes = [f for f in findings if f.kind in ("problem", "duplicate", "balance")]
        self.summary.setText(f"{len(fixes)} thing(s) to look at." if fixes else "Nothing to fix.")
        self.flagged_ids = frozenset(i for f in findings if f.kind in ("problem", "duplicate") for i in f.image_ids)
        self.flaggedChanged.emit()

    @Slot(QListWidgetItem, QListWidgetItem)
    def _row_chosen(self, item: QListWidgetItem | None, previous: QListWidgetItem | None) -> None:
        if item is not None:
            self._row_clicked(item)

    @Slot(QListWidgetItem)
    def _row_clicked(self, item: QListWidgetItem) -> None:
        ids = item.data(IDS_ROLE) or []
        if ids:
            self.imagesRequested.emit(list(ids))

    @Slot(object)
    def _project_changed(self, project: object) -> None:
        self.check.discard()
        self._finish()
        self.list.clear()
        self.findings = []
        self.flagged_ids = frozenset()
        self.summary.setText("Checks every file for decoding errors and duplicates, and the classes for balance.")
        self.flaggedChanged.emit()
