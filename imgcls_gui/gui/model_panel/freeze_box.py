"""Freezing presets (train everything, head only, first N groups, two-phase), the layer tree and the
trainable / frozen parameter counts. Everything maps onto ``FreezeConfig``."""

from __future__ import annotations

import dataclasses

from PySide6.QtCore import Qt, Signal, Slot
from PySide6.QtWidgets import (
    QButtonGroup,
    QDoubleSpinBox,
    QGridLayout,
    QLabel,
    QRadioButton,
    QSlider,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from ...engine import FreezeConfig, FreezePlan, freeze_plan, option_spec
from .layers import LayerTree, format_count
from .tasks import GroupSummary

MAX_HEAD_EPOCHS = 1000
MIN_LR_DECAY = 0.01
PRESETS = (
    ("none", "Train everything", "Every layer learns: best with many images (thousands) or images unlike ImageNet's."),
    ("head", "Head only", "Only the new classifier learns; the backbone is a fixed feature extractor. Fast, "
     "and best with few images."),
    ("first-n", "Freeze the first N groups", "Early groups (generic edges and textures) stay fixed, later ones adapt."),
    ("two-phase", "Two-phase fine-tuning", "Train the head alone first, then unfreeze everything with smaller "
     "learning rates for earlier groups (× factor per group)."),
)


def freeze_for_prefix(count: int, body_groups: int, base: FreezeConfig) -> FreezeConfig:
    """The freeze mode that freezes exactly the first ``count`` body groups."""
    if count <= 0:
        return dataclasses.replace(base, mode="none", groups=0)
    if count >= body_groups:
        return dataclasses.replace(base, mode="head", groups=0)
    return dataclasses.replace(base, mode="first-n", groups=count)


class FreezeBox(QWidget):
    freezeChosen = Signal(object)  # FreezeConfig

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.freeze = FreezeConfig()
        self.groups: tuple[GroupSummary, ...] = ()
        self._loading = False
        self.presets = QButtonGroup(self)
        grid = QGridLayout()
        for row, (key, text, tip) in enumerate(PRESETS):
            radio = QRadioButton(text)
            radio.setObjectName(f"freeze_{key}")
            radio.setToolTip(tip)
            self.presets.addButton(radio, row)
            grid.addWidget(radio, row, 0)
        self.presets.idClicked.connect(self._preset_clicked)
        self.slider = QSlider(Qt.Orientation.Horizontal)
        self.slider.setObjectName("freezeGroups")
        self.slider.setToolTip("How many layer groups, counted from the input, stay frozen")
        self.slider.valueChanged.connect(self._slider_moved)
        self.slider_label = QLabel()
        head_epochs, lr_decay = option_spec("freeze.head_epochs"), option_spec("freeze.lr_decay")
        self.head_epochs = QSpinBox()
        self.head_epochs.setObjectName(head_epochs.name)
        self.head_epochs.setRange(int(head_epochs.option.minimum or 1), MAX_HEAD_EPOCHS)
        self.head_epochs.setPrefix("head alone for ")
        self.head_epochs.setSuffix(" epoch(s)")
        self.head_epochs.setToolTip(head_epochs.option.help)
        self.lr_decay = QDoubleSpinBox()
        self.lr_decay.setObjectName(lr_decay.name)
        self.lr_decay.setRange(MIN_LR_DECAY, lr_decay.option.maximum or 1.0)  # the option's minimum (0) is excluded
        self.lr_decay.setSingleStep(0.05)
        self.lr_decay.setPrefix("then LR × ")
        self.lr_decay.setSuffix(" per group down")
        self.lr_decay.setToolTip(lr_decay.option.help)
        for editor in (self.head_epochs, self.lr_decay):
            editor.setKeyboardTracking(False)
            editor.valueChanged.connect(self._two_phase_edited)
        grid.addWidget(self.slider, 2, 1)
        grid.addWidget(self.slider_label, 2, 2)
        grid.addWidget(self.head_epochs, 3, 1)
        grid.addWidget(self.lr_decay, 3, 2)
        grid.setColumnStretch(1, 1)
        self.tree = LayerTree()
        self.tree.prefixChosen.connect(self._prefix_chosen)
        self.totals = QLabel("Building the model to count its parameters…")
        self.totals.setObjectName("freezeTotals")
        self.totals.setWordWrap(True)
        layout = QVBoxLayout(self)
        layout.addLayout(grid)
        layout.addWidget(self.tree, 1)
        layout.addWidget(self.totals)

    @property
    def body_count(self) -> int:
        return self.tree.body_count

    def plan(self, freeze: FreezeConfig | None = None) -> FreezePlan:
        """The engine's reading of ``freeze`` (default: the shown one) for the shown layer groups."""
        return freeze_plan([group.name for group in self.groups if not group.is_head], freeze or self.freeze)

    def set_groups(self, groups: tuple[GroupSummary, ...]) -> None:
        self.groups = tuple(groups)
        self.tree.set_groups(self.groups)
        self.set_freeze(self.freeze)

    def set_freeze(self, freeze: FreezeConfig) -> None:
        """Show ``freeze`` (from the config) without announcing it."""
        self.freeze = freeze
        self._loading = True
        try:
            keys = [key for key, _, _ in PRESETS]
            self.presets.button(keys.index(freeze.mode)).setChecked(True)
            self.slider.setRange(0, max(self.body_count, 1))
            plan = self.plan(freeze)
            self.slider.setValue(plan.frozen_count if freeze.mode == "first-n" else freeze.groups)
            self.head_epochs.setValue(freeze.head_epochs)
            self.lr_decay.setValue(freeze.lr_decay)
        finally:
            self._loading = False
        first_n, two_phase = freeze.mode == "first-n", freeze.mode == "two-phase"
        self.slider.setEnabled(first_n)
        self.slider_label.setEnabled(first_n)
        self.head_epochs.setEnabled(two_phase)
        self.lr_decay.setEnabled(two_phase)
        self.slider_label.setText(f"{self.slider.value()} of {self.body_count}")
        factors = tuple(group.lr_factor for group in plan.groups) if plan.unfreezes else None
        self.tree.set_frozen_count(plan.frozen_count, factors)
        self._show_totals()

    def _show_totals(self) -> None:
        if not self.groups:
            self.totals.setText("Building the model to count its parameters…")
            return
        total = self.tree.total_params()
        frozen = self.tree.frozen_params()
        trainable = total - frozen
        text = (f"<b>{format_count(trainable)}</b> of {format_count(total)} parameters train "
                f"({trainable / max(total, 1):.0%}); <b>{format_count(frozen)}</b> frozen.")
        if self.freeze.mode == "two-phase":
            text += (f" That is phase 1 ({self.freeze.head_epochs} epoch(s)); in phase 2 all "
                     f"{format_count(total)} train, at the learning-rate factors shown.")
        self.totals.setText(text)

    def _announce(self, freeze: FreezeConfig) -> None:
        if not self._loading and freeze != self.freeze:
            self.freezeChosen.emit(freeze)

    @Slot(int)
    def _preset_clicked(self, button_id: int) -> None:
        mode = PRESETS[button_id][0]
        groups = self.slider.value() if mode == "first-n" else self.freeze.groups
        if mode == "first-n" and groups == 0:
            groups = max(1, self.body_count // 2)  # a useful start: the first half stays fixed
        self._announce(dataclasses.replace(self.freeze, mode=mode, groups=groups))

    @Slot(int)
    def _slider_moved(self, value: int) -> None:
        if not self._loading:
            self._announce(dataclasses.replace(self.freeze, mode="first-n", groups=value))

    @Slot()
    def _two_phase_edited(self) -> None:
        if not self._loading:
            self._announce(dataclasses.replace(self.freeze, head_epochs=self.head_epochs.value(),
                                               lr_decay=round(self.lr_decay.value(), 4)))

    @Slot(int)
    def _prefix_chosen(self, count: int) -> None:
        self._announce(freeze_for_prefix(count, self.body_count, self.freeze))
