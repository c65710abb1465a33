"""Choose split fractions and a seed; the engine's stratified splitter decides, the project stores it."""

from __future__ import annotations

import dataclasses

from PySide6.QtCore import Slot
from PySide6.QtWidgets import QCheckBox, QDialog, QDialogButtonBox, QDoubleSpinBox, QFormLayout, QLabel, QSpinBox, QVBoxLayout, QWidget

from ...engine import LabeledDataset
from ..worker import TaskState


def compute_split(state: TaskState, dataset: LabeledDataset, val_fraction: float, test_fraction: float, seed: int):
    """Worker task: the engine's ``split_dataset`` (multi-label stratification can take a moment)."""
    from ...engine import split_dataset

    return split_dataset(dataset, val_fraction=val_fraction, test_fraction=test_fraction, seed=seed)


def forget_given_splits(dataset: LabeledDataset) -> LabeledDataset:
    """The same samples with no split of their own, so the splitter assigns all of them afresh."""
    samples = [dataclasses.replace(s, split=None) for s in dataset.samples]
    return dataclasses.replace(dataset, samples=samples)


class SplitDialog(QDialog):
    def __init__(self, labeled: int, has_split: bool, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Split into train / validation / test")
        self.val_spin = self._fraction(0.2)
        self.test_spin = self._fraction(0.0)
        self.seed_spin = QSpinBox()
        self.seed_spin.setRange(0, 2**31 - 1)
        self.keep_check = QCheckBox("Keep current assignments (e.g. from train/val/test folders); split the rest")
        self.keep_check.setChecked(False)
        self.keep_check.setEnabled(has_split)
        intro = QLabel(
            f"Stratified by class, so every class appears in each part in the same proportion. "
            f"{labeled} labeled images will be split; unlabeled images stay unassigned. The same seed "
            "always gives the same split."
        )
        intro.setWordWrap(True)
        form = QFormLayout()
        form.addRow("Validation fraction:", self.val_spin)
        form.addRow("Test fraction:", self.test_spin)
        form.addRow("Seed:", self.seed_spin)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        self.ok_button = buttons.button(QDialogButtonBox.StandardButton.Ok)
        # Validation and test together must leave images to train on; the splitter would refuse later anyway.
        self.fraction_problem = QLabel("")
        self.fraction_problem.setObjectName("splitFractionProblem")
        self.fraction_problem.setWordWrap(True)
        self.fraction_problem.setStyleSheet("color: #b00020;")
        for spin in (self.val_spin, self.test_spin):
            spin.valueChanged.connect(self._check_fractions)
        layout = QVBoxLayout(self)
        layout.addWidget(intro)
        layout.addLayout(form)
        layout.addWidget(self.fraction_problem)
        layout.addWidget(self.keep_check)
        layout.addWidget(buttons)
        self._check_fractions()
        self.resize(460, self.sizeHint().height())

    @Slot()
    def _check_fractions(self) -> None:
        """OK only while validation + test leave some images for training (their sum is below 1)."""
        total = self.val_fraction + self.test_fraction
        too_much = total >= 1.0 - 1e-9
        self.fraction_problem.setText(
            f"Validation and test add up to {total:.2f}: nothing would be left to train on. "
            "Make their sum less than 1." if too_much else ""
        )
        self.fraction_problem.setVisible(too_much)
        self.ok_button.setEnabled(not too_much)
        if too_much:  # grow to fit the message; the wrapped label alone would squeeze the fields
            self.resize(self.width(), max(self.height(), self.sizeHint().height()))

    def accept(self) -> None:
        if self.ok_button.isEnabled():  # Return in a spin box accepts even while OK is disabled
            super().accept()

    @staticmethod
    def _fraction(value: float) -> QDoubleSpinBox:
        spin = QDoubleSpinBox()
        spin.setRange(0.0, 0.9)
        spin.setSingleStep(0.05)
        spin.setDecimals(2)
        spin.setValue(value)
        return spin

    @property
    def val_fraction(self) -> float:
        return self.val_spin.value()

    @property
    def test_fraction(self) -> float:
        return self.test_spin.value()

    @property
    def seed(self) -> int:
        return self.seed_spin.value()

    @property
    def keep_existing(self) -> bool:
        return self.keep_check.isChecked()
