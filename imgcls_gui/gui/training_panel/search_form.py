"""The Search tab's form: which options a search varies (the space file as rows of editors) and how long it runs.

A ticked row is searched over its range or choices; an unticked row keeps the Training form's value.
``space()`` is the same mapping a space YAML file holds (``imgcls tune --space``), so the engine
checks both the same way; ``state()`` / ``set_state()`` keep everything, unticked rows too, for the
project settings.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Signal, Slot
from PySide6.QtWidgets import (QCheckBox, QComboBox, QFormLayout, QGridLayout, QGroupBox, QLabel, QLineEdit, QSpinBox,
                               QVBoxLayout, QWidget)

from ...engine import METRICS, PRUNERS
from ..common.metric_names import metric_name

# name, label, kind ("range" or "choices"), default range/choices, ticked by default, tooltip
ROWS: tuple[tuple[str, str, str, Any, bool, str], ...] = (
    ("lr", "Learning rate", "range", (1e-4, 1e-1, True), True, "Step size of the optimizer."),
    ("weight_decay", "Weight decay", "range", (1e-6, 1e-2, True), True, "L2 penalty on the weights."),
    ("optimizer", "Optimizer", "choices", "adamw, sgd", True, "adamw, sgd, adam, rmsprop, adagrad, adadelta."),
    ("freeze", "Freezing", "choices", "head", True, "head, none, two-phase, or N (the first N layer groups frozen). "
     "Head-only trials share the backbone's cached features: seconds each."),
    ("dropout", "Dropout", "range", (0.0, 0.5, False), True, "Dropout before the head's last layer."),
    ("hidden_size", "Hidden layer", "choices", "0, 256, 512", True, "Units of an extra hidden layer in the head; "
     "0 = none."),
    ("label_smoothing", "Label smoothing", "range", (0.0, 0.2, False), True, "Train towards 1 - e instead of 1."),
    ("augment", "Augmentation strength", "range", (0.0, 1.0, False), False, "0 to 1: random crop, colour jitter and "
     "rotation together. Changes training only where images pass through the backbone (a backbone that trains, "
     "or cached features with augmented views)."),
    ("image_size", "Image size", "choices", "160, 224", False, "Sides in pixels; 0 = the backbone's own."),
    ("backbone", "Backbone", "choices", "resnet18, mobilenet_v3_small", False, "Backbones to try (see the Model "
     "panel); trials of each backbone share its cached features."),
)
PRUNER_LABELS = {"median": "Median (stop trials below the median)", "halving": "Successive halving", "none": "None"}


def _number(text: str) -> float | str:
    try:
        return float(text)
    except ValueError:
        return text  # the engine names what is wrong with it


def _choices(text: str) -> list[Any]:
    values: list[Any] = []
    for part in (p.strip() for p in text.replace(";", ",").split(",")):
        if part:
            number = _number(part)
            values.append(int(number) if isinstance(number, float) and number.is_integer() else
                          number)
    return values


class _Row:
    """One parameter's editors: the tick, then low/high/log or a list of choices."""

    def __init__(self, name: str, label: str, kind: str, default: Any, ticked: bool, tip: str) -> None:
        self.name, self.kind = name, kind
        self.tick = QCheckBox(label)
        self.tick.setObjectName(f"search_{name}")
        self.tick.setToolTip(tip)
        self.tick.setChecked(ticked)
        if kind == "range":
            low, high, log = default
            self.low, self.high = QLineEdit(f"{low:g}"), QLineEdit(f"{high:g}")
            for edit in (self.low, self.high):
                edit.setMaximumWidth(64)
            self.log = QCheckBox("log")
            self.log.setChecked(log)
            self.low.setToolTip("lowest value tried")
            self.high.setToolTip("highest value tried")
            self.log.setToolTip("Try values evenly on a log scale (rates and penalties that span powers of ten).")
            self.editors: list[QWidget] = [self.low, self.high, self.log]
        else:
            self.text = QLineEdit(default)
            self.text.setToolTip(tip + " Separate values with commas; one value is used in every trial.")
            self.editors = [self.text]
        self.tick.toggled.connect(self._enable)
        self._enable(ticked)

    def _enable(self, on: bool) -> None:
        for editor in self.editors:
            editor.setEnabled(on)

    def value(self) -> Any:
        if self.kind == "range":
            entry: dict[str, Any] = {"low": _number(self.low.text()), "high": _number(self.high.text())}
            if self.log.isChecked():
                entry["log"] = True
            return entry
        values = _choices(self.text.text())
        return values if len(values) != 1 else values[0]

    def set_value(self, value: Any) -> None:
        if self.kind == "range" and isinstance(value, dict):
            self.low.setText(f"{value.get('low', '')}")
            self.high.setText(f"{value.get('high', '')}")
            self.log.setChecked(bool(value.get("log", False)))
        elif self.kind == "choices":
            values = value if isinstance(value, list) else [value]
            self.text.setText(", ".join(str(v) for v in values))


class SearchForm(QWidget):
    """The space and the settings of a search; ``changed`` after every edit."""

    changed = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.rows = {row[0]: _Row(*row) for row in ROWS}
        space_box = QGroupBox("Search space")
        grid = QGridLayout(space_box)
        grid.setContentsMargins(6, 6, 6, 6)
        intro = QLabel("Ticked options are searched; the others keep the Training form's value.")
        intro.setWordWrap(True)
        grid.addWidget(intro, 0, 0, 1, 4)
        for number, row in enumerate(self.rows.values(), start=1):
            grid.addWidget(row.tick, number, 0)
            if row.kind == "range":
                for column, editor in enumerate(row.editors, start=1):
                    grid.addWidget(editor, number, column)
            else:
                grid.addWidget(row.text, number, 1, 1, 3)
            for widget in (row.tick, *row.editors):
                signal = widget.toggled if isinstance(widget, QCheckBox) else widget.editingFinished
                signal.connect(self._edited)
        settings_box = QGroupBox("Search")
        form = QFormLayout(settings_box)
        self.trials = QSpinBox(minimum=1, maximum=10_000, value=20)
        self.trials.setToolTip("Trials in all. Each trial is one training run with the settings the search picks.")
        self.epochs = QSpinBox(minimum=1, maximum=1000, value=5, suffix=" epochs")
        self.epochs.setToolTip("Epochs of each trial (the Training form's epochs are kept for the full run).")
        self.minutes = QSpinBox(minimum=0, maximum=100_000, value=0, suffix=" min", specialValueText="none")
        self.minutes.setToolTip("Start no new trial after this long.")
        self.metric = QComboBox()
        for key in METRICS:
            self.metric.addItem("auto (accuracy, or mAP)" if key == "auto" else metric_name(key), key)
        self.metric.setToolTip("The validation metric each trial is judged by, on one fixed split.")
        self.pruner = QComboBox()
        for key in PRUNERS:
            self.pruner.addItem(PRUNER_LABELS[key], key)
        self.pruner.setToolTip("Stop trials whose validation metric trails the others' at the same epoch.")
        form.addRow("Trials", self.trials)
        form.addRow("Epochs per trial", self.epochs)
        form.addRow("Time limit", self.minutes)
        form.addRow("Judge by", self.metric)
        form.addRow("Pruning", self.pruner)
        for spin in (self.trials, self.epochs, self.minutes):
            spin.valueChanged.connect(self._edited)
        for combo in (self.metric, self.pruner):
            combo.currentIndexChanged.connect(self._edited)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(space_box)
        layout.addWidget(settings_box)

    def row(self, name: str) -> _Row:
        return self.rows[name]

    def space(self) -> dict[str, Any]:
        """The ticked rows as a space mapping (what a space YAML file holds)."""
        return {name: row.value() for name, row in self.rows.items() if row.tick.isChecked()}

    def settings(self) -> dict[str, Any]:
        return {"trials": self.trials.value(), "timeout_s": 60.0 * self.minutes.value(),
                "metric": self.metric.currentData(), "pruner": self.pruner.currentData()}

    def state(self) -> dict[str, Any]:
        """Everything on the form, unticked rows included (kept in the project)."""
        return {"rows": {name: {"on": row.tick.isChecked(), "value": row.value()} for name, row in self.rows.items()},
                "settings": self.settings(), "epochs": self.epochs.value()}

    def set_state(self, state: Any) -> None:
        """Show a saved ``state()``; anything unreadable in it keeps the form's value."""
        if not isinstance(state, dict):
            return
        blockers = [w.blockSignals(True) for w in (self, self.trials, self.epochs, self.minutes, self.metric, self.pruner)]
        try:
            rows = state.get("rows") if isinstance(state.get("rows"), dict) else {}
            for name, saved in rows.items():
                if name in self.rows and isinstance(saved, dict):
                    self.rows[name].set_value(saved.get("value"))
                    self.rows[name].tick.setChecked(bool(saved.get("on")))
            settings = state.get("settings") if isinstance(state.get("settings"), dict) else {}
            for spin, value in ((self.trials, settings.get("trials")), (self.epochs, state.get("epochs")),
                                (self.minutes, (settings.get("timeout_s") or 0) / 60)):
                if isinstance(value, (int, float)):
                    spin.setValue(int(value))
            for combo, key in ((self.metric, settings.get("metric")), (self.pruner, settings.get("pruner"))):
                index = combo.findData(key)
                if index >= 0:
                    combo.setCurrentIndex(index)
        finally:
            for widget, was in zip((self, self.trials, self.epochs, self.minutes, self.metric, self.pruner), blockers):
                widget.blockSignals(was)

    def set_running(self, running: bool) -> None:
        for widget in self.findChildren(QGroupBox):
            widget.setEnabled(not running)

    @Slot()
    def _edited(self) -> None:
        self.changed.emit()
