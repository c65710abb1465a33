"""The simple mode's box: presets, model size and epochs, with the toggle that shows every other option.

It edits the same draft ``RunConfig`` as the advanced sections: a preset is sent up as
``presetChosen`` and written into the config by the panel, the size combo writes ``model.name``,
and the epochs editor is an ordinary ``FieldForm`` field, so the option-table checks cover it.
"""

from __future__ import annotations

import dataclasses

from PySide6.QtCore import Qt, Signal, Slot
from PySide6.QtWidgets import QCheckBox, QComboBox, QHBoxLayout, QPushButton, QVBoxLayout, QWidget

from ...engine import RunConfig, option_spec
from .fields import LABEL_WIDTH, Field, FieldForm
from .presets import MODEL_SIZES, PRESETS, Preset, matches, preset_tooltip, size_tooltip

BASIC_FIELDS = (Field("train.epochs", maximum=10_000),)
OTHER_SIZE_TIP = "This backbone was chosen in the Model & Freezing panel; pick a size here to replace it."


class BasicsBox(QWidget):
    """Presets, model size, epochs and the Advanced toggle; ``changed`` after an edit of size or epochs."""

    changed = Signal()
    presetChosen = Signal(object)  # a Preset
    advancedToggled = Signal(bool)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._loading = False
        self.preset_buttons: dict[str, QPushButton] = {}
        presets_row = QHBoxLayout()
        presets_row.setContentsMargins(0, 0, 0, 0)
        for preset in PRESETS:
            button = QPushButton(preset.name)
            button.setObjectName(f"preset_{preset.name}")
            button.setCheckable(True)  # checked while the config holds the preset's values
            button.setToolTip(preset_tooltip(preset))
            button.clicked.connect(self._preset_clicked)
            presets_row.addWidget(button)
            self.preset_buttons[preset.name] = button
        self.size = QComboBox()
        self.size.setObjectName("model.size")
        for label, backbone in MODEL_SIZES:
            self.size.addItem(f"{label} ({backbone})", backbone)
            self.size.setItemData(self.size.count() - 1, size_tooltip(backbone), Qt.ItemDataRole.ToolTipRole)
        self.size.setToolTip(option_spec("model.name").option.help + " Small trains fastest; large is the most "
                             "accurate and the slowest. Every backbone is in the Model & Freezing panel.")
        self.size.currentIndexChanged.connect(self._size_edited)
        self.form = FieldForm(BASIC_FIELDS)
        self.form.changed.connect(self._form_changed)
        self.advanced = QCheckBox("Advanced options")
        self.advanced.setObjectName("advancedToggle")
        self.advanced.setToolTip("Show every training option: optimizer, schedule, loop, split and augmentation. "
                                 "Presets and edits made there are kept either way.")
        self.advanced.toggled.connect(self._advanced_toggled)
        form_layout = self.form.layout()  # every row in the epochs editor's form: one label column, one margin
        form_layout.insertRow(0, presets_row)
        form_layout.insertRow(1, "Model size", self.size)
        form_layout.labelForField(self.size).setMinimumWidth(LABEL_WIDTH)
        form_layout.labelForField(self.size).setToolTip(self.size.toolTip())
        column = QVBoxLayout(self)
        column.setContentsMargins(0, 0, 0, 0)
        form_layout.addRow(self.advanced)
        column.addWidget(self.form)

    def set_config(self, config: RunConfig) -> None:
        """Show ``config``: its backbone's size (or the backbone itself), epochs, the preset it matches."""
        self._loading = True
        try:
            self.form.set_config(config)
            self._show_backbone(config.model.name)
        finally:
            self._loading = False
        for preset in PRESETS:
            self.preset_buttons[preset.name].setChecked(matches(config, preset))

    def _show_backbone(self, backbone: str) -> None:
        for index in range(self.size.count() - 1, len(MODEL_SIZES) - 1, -1):  # the previous "other" entry
            self.size.removeItem(index)
        index = self.size.findData(backbone)
        if index < 0:
            self.size.addItem(f"{backbone} (Model & Freezing)", backbone)
            index = self.size.count() - 1
            self.size.setItemData(index, OTHER_SIZE_TIP, Qt.ItemDataRole.ToolTipRole)
        self.size.setCurrentIndex(index)

    def apply(self, config: RunConfig) -> RunConfig:
        """``config`` with this box's epochs and backbone put in."""
        config = self.form.apply(config)
        backbone = self.size.currentData()
        if backbone and backbone != config.model.name:
            config = config.replace(model=dataclasses.replace(config.model, name=backbone))
        return config

    def chosen_preset(self) -> Preset | None:
        return next((p for p in PRESETS if self.preset_buttons[p.name].isChecked()), None)

    @Slot()
    def _preset_clicked(self) -> None:
        button = self.sender()
        preset = next(p for p in PRESETS if self.preset_buttons[p.name] is button)
        button.setChecked(True)  # a second click on the chosen preset keeps it chosen
        self.presetChosen.emit(preset)

    @Slot()
    def _size_edited(self) -> None:
        if not self._loading:
            self.changed.emit()

    @Slot()
    def _form_changed(self) -> None:
        self.changed.emit()

    @Slot(bool)
    def _advanced_toggled(self, shown: bool) -> None:
        self.advancedToggled.emit(shown)
