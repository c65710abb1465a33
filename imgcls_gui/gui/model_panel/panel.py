"""The Model & Freezing panel: backbone, weights source, head options and what to freeze.

It edits the ``model`` and ``freeze`` sections of ``AppState.run_config`` (the Training panel
edits the rest). The layer tree needs the built model, so the model is built in a worker (random
weights: only the structure matters) whenever the backbone or head changes; results are cached.
"""

from __future__ import annotations

import dataclasses

from PySide6.QtCore import QItemSelection, Qt, Slot
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDoubleSpinBox,
    QFormLayout,
    QGroupBox,
    QHeaderView,
    QLabel,
    QSpinBox,
    QSplitter,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from ...engine import FreezeConfig, ModelConfig, RunConfig, get_backbone, option_spec
from .. import errors as gui_errors
from ..state import AppState
from ..worker import LatestTask
from .backbones import BackboneModel
from .freeze_box import FreezeBox
from .tasks import GroupSummary, layer_groups_task, weights_cache_task
from .weights_box import WeightsBox

StructureKey = tuple[str, int, int, int]  # backbone, hidden size, image size, classes
RANDOM_FROZEN_WARNING = ("⚠ Starting weights are None (random) and the backbone is frozen: the frozen layers keep "
                         "their random values, so the head learns from random features. Choose ImageNet or a "
                         "weights file, or Train everything.")


def frozen_random_backbone(config: RunConfig) -> bool:
    """Random starting weights with frozen layers: allowed, but almost never what anyone wants."""
    freeze = config.freeze
    return config.model.weights == "none" and (freeze.mode == "head" or (freeze.mode == "first-n" and freeze.groups > 0))


class ModelPanel(QWidget):
    def __init__(self, state: AppState, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.state = state
        self.group_cache: dict[StructureKey, tuple[GroupSummary, ...]] = {}
        self.group_build = LatestTask(self)  # one build at a time; its result is cached, then asked again
        self._groups_building: StructureKey | None = None
        self._groups_wanted: StructureKey | None = None
        self.cache_check = LatestTask(self)  # a newer look at the weights cache supersedes an older one
        self._loading = False
        self.backbones = BackboneModel(self)
        self.table = QTableView()
        self.table.setObjectName("backboneTable")
        self.table.setModel(self.backbones)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.verticalHeader().setVisible(False)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.table.horizontalHeader().setStretchLastSection(True)
        self.table.selectionModel().selectionChanged.connect(self._backbone_selected)
        self.description = QLabel()
        self.description.setWordWrap(True)
        self.weights = WeightsBox(self._model_config, self.num_classes)
        self.weights.weightsChosen.connect(self._weights_chosen)
        self.weights.cacheChanged.connect(self.check_cache)
        state.weightsCacheChanged.connect(self.check_cache)
        self.hidden_size = QSpinBox()
        self.hidden_size.setRange(0, 8192)  # within the option table's range (a test checks)
        self.hidden_size.setSingleStep(64)
        self.hidden_size.setSpecialValueText("none (one linear layer)")
        self.hidden_size.setToolTip(option_spec("model.hidden_size").option.help)
        self.dropout = QDoubleSpinBox()
        self.dropout.setRange(0.0, 0.95)
        self.dropout.setSingleStep(0.05)
        self.dropout.setSpecialValueText("off")
        self.dropout.setToolTip(option_spec("model.dropout").option.help)
        for editor in (self.hidden_size, self.dropout):
            editor.setKeyboardTracking(False)
            editor.valueChanged.connect(self._head_edited)
        self.freeze = FreezeBox()
        self.random_frozen_warning = QLabel(RANDOM_FROZEN_WARNING)
        self.random_frozen_warning.setObjectName("randomFrozenWarning")
        self.random_frozen_warning.setWordWrap(True)
        self.random_frozen_warning.setStyleSheet("color: #a61e4d")
        self.random_frozen_warning.setVisible(False)
        self.freeze.freezeChosen.connect(self._freeze_chosen)
        self._build_layout()
        state.runConfigChanged.connect(self._config_changed)
        state.projectChanged.connect(self._project_changed)
        state.classesChanged.connect(self._classes_changed)
        self._config_changed(state.run_config)
        self.check_cache()

    def _build_layout(self) -> None:
        backbone_box = QGroupBox("Backbone")
        column = QVBoxLayout(backbone_box)
        column.addWidget(self.table, 1)
        column.addWidget(self.description)
        weights_box = QGroupBox("Starting weights")
        QVBoxLayout(weights_box).addWidget(self.weights)
        head_box = QGroupBox("New classifier head")
        head_form = QFormLayout(head_box)
        head_form.addRow("Hidden layer", self.hidden_size)
        head_form.addRow("Dropout", self.dropout)
        left = QWidget()
        left_column = QVBoxLayout(left)
        left_column.setContentsMargins(0, 0, 0, 0)
        left_column.addWidget(backbone_box, 1)
        left_column.addWidget(weights_box)
        left_column.addWidget(head_box)
        freeze_box = QGroupBox("Freezing")
        freeze_column = QVBoxLayout(freeze_box)
        freeze_column.addWidget(self.random_frozen_warning)
        freeze_column.addWidget(self.freeze, 1)
        self.splitter = QSplitter(Qt.Orientation.Horizontal)
        self.splitter.addWidget(left)
        self.splitter.addWidget(freeze_box)
        self.splitter.setStretchFactor(0, 1)
        self.splitter.setStretchFactor(1, 1)
        left.setMinimumWidth(400)  # with the freezing side, the window still fits a 1280 px screen
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self.splitter)

    # -- config ------------------------------------------------------------------------------

    def _model_config(self) -> ModelConfig:
        return self.state.run_config.model

    def num_classes(self) -> int:
        project = self.state.project
        return max(2, len(project.class_names())) if project is not None and not project.closed else 2

    def _set_model(self, **changes: object) -> None:
        config = self.state.run_config
        self.state.set_run_config(config.replace(model=dataclasses.replace(config.model, **changes)))

    @Slot(object)
    def _config_changed(self, config: RunConfig) -> None:
        self._loading = True
        try:
            row = self.backbones.row_of(config.model.name)
            if row >= 0 and self.table.currentIndex().row() != row:
                self.table.selectRow(row)
                self.table.scrollTo(self.backbones.index(row, 0))
            self.hidden_size.setValue(config.model.hidden_size)
            self.dropout.setValue(config.model.dropout)
        finally:
            self._loading = False
        spec = get_backbone(config.model.name) if row >= 0 else None
        self.description.setText(f"<b>{spec.name}</b> ({spec.family}, {spec.params_millions:.1f} M parameters, "
                                 f"{spec.input_size} px): {spec.description}" if spec else "")
        self.weights.set_weights(config.model.weights)
        self.freeze.set_freeze(config.freeze)
        self.random_frozen_warning.setVisible(frozen_random_backbone(config))
        self.request_groups()

    @Slot(QItemSelection, QItemSelection)
    def _backbone_selected(self, selected: QItemSelection, deselected: QItemSelection) -> None:
        rows = self.table.selectionModel().selectedRows()
        if self._loading or not rows:
            return
        self._set_model(name=self.backbones.specs[rows[0].row()].name)

    @Slot(str)
    def _weights_chosen(self, weights: str) -> None:
        self._set_model(weights=weights)

    @Slot()
    def _head_edited(self) -> None:
        if not self._loading:
            self._set_model(hidden_size=self.hidden_size.value(), dropout=round(self.dropout.value(), 4))

    @Slot(object)
    def _freeze_chosen(self, freeze: FreezeConfig) -> None:
        self.state.set_run_config(self.state.run_config.replace(freeze=freeze))

    @Slot(object)
    def _project_changed(self, project: object) -> None:
        if project is not None:  # a closed project (or the app quitting) leaves the tree as it is
            self.request_groups()

    @Slot()
    def _classes_changed(self) -> None:
        self.request_groups()

    # -- workers -----------------------------------------------------------------------------

    def structure_key(self) -> StructureKey:
        model = self._model_config()
        return model.name, model.hidden_size, model.image_size, self.num_classes()

    def request_groups(self) -> None:
        """Show the layer groups of the configured model, building it in a worker if not cached."""
        key = self.structure_key()
        if key in self.group_cache:
            self.freeze.set_groups(self.group_cache[key])
            return
        self._groups_wanted = key
        if self.group_build.busy:
            return  # the running build finishes first (building cannot be interrupted); its result then asks again
        name, hidden, image_size, classes = key
        model = ModelConfig(name=name, weights="none", hidden_size=hidden, image_size=image_size)
        self.freeze.totals.setText(f"Building {name} to count its parameters…")
        self._groups_building = key
        self.group_build.start(layer_groups_task, model, classes, on_success=self._groups_built,
                               on_failure=self._groups_failed)

    @Slot(object)
    def _groups_built(self, groups: tuple[GroupSummary, ...]) -> None:
        if self._groups_building is not None:
            self.group_cache[self._groups_building] = groups
        self.request_groups()

    @Slot(str, str)
    def _groups_failed(self, message: str, details: str) -> None:
        self.freeze.totals.setText(message)
        if self._groups_wanted != self.structure_key():
            self.request_groups()
        else:
            gui_errors.show_error(self, message, details)

    @Slot()
    def check_cache(self) -> None:
        """Look (in a worker: it needs torchvision) which backbones have ImageNet weights cached."""
        names = [spec.name for spec in self.backbones.specs]
        self.cache_check.start(weights_cache_task, names, on_success=self._cache_checked, on_failure=self._cache_failed)

    @Slot(object)
    def _cache_checked(self, cached: dict[str, str]) -> None:
        self.backbones.set_cached(cached)
        self.weights.set_cached(cached)

    @Slot(str, str)
    def _cache_failed(self, message: str, details: str) -> None:
        self.weights.status.setText(f"Could not look at torchvision's cache: {message}")
