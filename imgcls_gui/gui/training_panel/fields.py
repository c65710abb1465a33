"""Config forms built from the engine's option table: one editor per ``RunConfig`` option, with its tooltip.

Each ``Field`` names an option (``"optim.lr"``); its label, tooltip, choices and range come from
the option table (``engine.run_options()``), the field adds only presentation. The editor kind
follows the option's type (choices → combo box, bool → check box, int → spin box, float → spin
box, ``log`` → a spin box stepping 1-2-5 through powers of ten, for learning rates). ``FieldForm`` reads a config into
its editors and writes the editors back into a copy of a config, so the form never holds state
of its own that could drift from ``AppState.run_config``.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from dataclasses import dataclass

from PySide6.QtCore import Signal, Slot
from PySide6.QtGui import QValidator
from PySide6.QtWidgets import QCheckBox, QComboBox, QDoubleSpinBox, QFormLayout, QHBoxLayout, QSpinBox, QWidget

from ...engine import OptionSpec, RunConfig, option_spec

_LADDER = (1.0, 2.0, 5.0)
LABEL_WIDTH = 125
DEFAULT_MAXIMUM = 1e6


@dataclass(frozen=True)
class Field:
    """How the form shows one option of the engine's option table (label, help, choices and range come from there).

    ``minimum``/``maximum`` narrow the option's range for the spin box (which needs finite ends
    and cannot show an open bound); they never widen it (a test checks every editor).
    """

    name: str  # "section.key" of RunConfig, as in the option table
    minimum: float | None = None
    maximum: float | None = None
    step: float = 1.0
    decimals: int = 2
    log: bool = False
    suffix: str = ""
    special: str = ""  # text shown instead of the minimum value ("auto", "off")
    choices: tuple[str, ...] = ()  # a text option's usual values (the option's own choices otherwise)
    note: str = ""  # added to the option's help in the tooltip (how the editor works)

    @property
    def section(self) -> str:
        return self.name.split(".")[0]

    @property
    def key(self) -> str:
        return self.name.split(".")[1]

    @property
    def spec(self) -> OptionSpec:
        return option_spec(self.name)

    @property
    def label(self) -> str:
        return self.spec.option.label

    @property
    def tip(self) -> str:
        return f"{self.spec.option.help} {self.note}".strip()

    def editor_range(self) -> tuple[float, float]:
        """The spin box's (minimum, maximum): the option's range, narrowed where the form says so."""
        option = self.spec.option
        low = self.minimum if self.minimum is not None else option.minimum
        high = self.maximum if self.maximum is not None else option.maximum
        return (0.0 if low is None else low), (DEFAULT_MAXIMUM if high is None else high)


def ladder_step(value: float, steps: int) -> float:
    """Move ``steps`` rungs along 1, 2, 5, 10, 20, 50... (negative steps go down)."""
    if value <= 0:
        return 1e-6 if steps > 0 else value
    exponent = math.floor(math.log10(value) + 1e-9)
    mantissa = value / 10**exponent
    rung = min(range(3), key=lambda i: abs(_LADDER[i] - mantissa))
    position = exponent * 3 + rung + steps
    return _LADDER[position % 3] * 10 ** (position // 3)


class LogSpinBox(QDoubleSpinBox):
    """A float editor for values spanning decades: shows ``1e-04``-style text, steps 1-2-5."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setDecimals(12)

    def textFromValue(self, value: float) -> str:  # noqa: N802 - Qt API
        return f"{value:g}"

    def valueFromText(self, text: str) -> float:  # noqa: N802 - Qt API
        try:
            return float(text.strip())
        except ValueError:
            return self.value()

    def validate(self, text: str, pos: int):  # Qt API: (state, text, pos)
        stripped = text.strip()
        try:
            value = float(stripped)
        except ValueError:
            partial = stripped == "" or stripped[-1] in "eE.-+"
            return (QValidator.State.Intermediate if partial else QValidator.State.Invalid), text, pos
        ok = self.minimum() <= value <= self.maximum()
        return (QValidator.State.Acceptable if ok else QValidator.State.Intermediate), text, pos

    def stepBy(self, steps: int) -> None:  # noqa: N802 - Qt API
        self.setValue(min(self.maximum(), max(self.minimum(), ladder_step(self.value(), steps))))


def make_editor(field: Field) -> QWidget:
    """The editor widget for one option: its kind follows the option's type, its range the option's."""
    kind = field.spec.kind
    low, high = field.editor_range()
    choices = field.choices or field.spec.choices
    if choices:
        editor: QWidget = QComboBox()
        editor.addItems(list(choices))
    elif kind is bool:
        editor = QCheckBox()
    elif kind is int:
        editor = QSpinBox()
        editor.setRange(int(low), int(high))
        editor.setSingleStep(int(field.step))
    elif field.log:
        editor = LogSpinBox()
        editor.setRange(low, high)
    else:
        editor = QDoubleSpinBox()
        editor.setDecimals(field.decimals)
        editor.setRange(low, high)
        editor.setSingleStep(field.step)
    if isinstance(editor, (QSpinBox, QDoubleSpinBox)):
        editor.setSuffix(field.suffix)
        editor.setSpecialValueText(field.special)
        editor.setKeyboardTracking(False)  # one change per finished edit, not per keystroke
    editor.setToolTip(field.tip)
    editor.setObjectName(field.name)
    editor.setMinimumWidth(90)  # a spin box's own minimum fits its largest value (a 10-digit seed): too wide
    return editor


def read_editor(editor: QWidget, kind: type) -> object:
    if isinstance(editor, QComboBox):  # an item may show a label for its value ("All 2 GPUs" for cuda:all)
        value = editor.currentData()
        return value if isinstance(value, str) else editor.currentText()
    if isinstance(editor, QCheckBox):
        return editor.isChecked()
    value = editor.value()  # type: ignore[attr-defined]
    return int(value) if kind is int else float(value)


def write_editor(editor: QWidget, value: object) -> None:
    if isinstance(editor, QComboBox):
        index = editor.findData(str(value))
        index = index if index >= 0 else editor.findText(str(value))
        if index < 0:  # a value from a config file the list does not know (a custom device)
            editor.addItem(str(value))
            index = editor.count() - 1
        editor.setCurrentIndex(index)
    elif isinstance(editor, QCheckBox):
        editor.setChecked(bool(value))
    else:
        editor.setValue(value)  # type: ignore[attr-defined]


class FieldForm(QWidget):
    """A QFormLayout of editors for ``fields``; ``changed`` fires after any edit by the user."""

    changed = Signal()

    def __init__(self, fields: Sequence[Field], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.fields = tuple(fields)
        self.editors: dict[str, QWidget] = {}
        self._kinds: dict[str, type] = {}
        self._loading = False
        layout = QFormLayout(self)
        layout.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        for field in self.fields:
            editor = make_editor(field)
            self.editors[field.name] = editor
            self._kinds[field.name] = field.spec.kind
            layout.addRow(field.label, editor)
            label = layout.labelForField(editor)
            label.setToolTip(field.tip)
            label.setMinimumWidth(LABEL_WIDTH)  # the same label column in every section
            self._connect(editor)

    def _connect(self, editor: QWidget) -> None:
        if isinstance(editor, QComboBox):
            editor.currentIndexChanged.connect(self._edited)
        elif isinstance(editor, QCheckBox):
            editor.toggled.connect(self._edited)
        else:
            editor.valueChanged.connect(self._edited)  # type: ignore[attr-defined]

    @Slot()
    def _edited(self) -> None:
        if not self._loading:
            self.changed.emit()

    def editor(self, name: str) -> QWidget:
        return self.editors[name]

    def add_beside(self, name: str, widget: QWidget) -> None:
        """Put ``widget`` (a button acting on that option) to the right of ``name``'s editor, in its row."""
        layout = self.layout()
        editor = self.editors[name]
        row, _role = layout.getWidgetPosition(editor)
        label = layout.itemAt(row, QFormLayout.ItemRole.LabelRole).widget()
        layout.takeRow(row)  # takes the row out without deleting its label or editor
        holder = QWidget()
        line = QHBoxLayout(holder)
        line.setContentsMargins(0, 0, 0, 0)
        line.addWidget(editor, 1)
        line.addWidget(widget)
        layout.insertRow(row, label, holder)

    def set_config(self, config: RunConfig) -> None:
        """Show ``config``'s values (no ``changed`` signal)."""
        self._loading = True
        try:
            for field in self.fields:
                write_editor(self.editors[field.name], getattr(getattr(config, field.section), field.key))
        finally:
            self._loading = False

    def apply(self, config: RunConfig) -> RunConfig:
        """``config`` with this form's values put in."""
        changes: dict[str, dict[str, object]] = {}
        for field in self.fields:
            changes.setdefault(field.section, {})[field.key] = read_editor(self.editors[field.name], self._kinds[field.name])
        sections = {name: dataclasses.replace(getattr(config, name), **values) for name, values in changes.items()}
        return config.replace(**sections)
