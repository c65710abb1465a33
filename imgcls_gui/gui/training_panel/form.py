"""The training options, grouped as the engine's config sections, each with a tooltip saying what it does.

Labels, tooltips and ranges come from the engine's option table; this module picks and orders the
options and says how each editor steps. Defaults are ``RunConfig()``'s: the form only shows and
edits ``AppState.run_config``.
"""

from __future__ import annotations

from PySide6.QtCore import QSignalBlocker, Qt, Signal, Slot
from PySide6.QtWidgets import QComboBox, QGroupBox, QPushButton, QVBoxLayout, QWidget

from ...engine import ALL_GPUS, RunConfig
from .basics import BasicsBox
from .fields import Field, FieldForm

DEVICES = ("auto", "cpu", "cuda", "mps")  # and "All N GPUs" (cuda:all) once the probe found several: offer_all_gpus
MONITORS = ("auto", "accuracy", "f1_macro", "map", "roc_auc_macro", "val_loss")

OPTIM_FIELDS = (
    Field("optim.optimizer"),
    Field("optim.lr", minimum=1e-7, maximum=10.0, log=True, note="Arrow keys step 1-2-5."),
    Field("optim.momentum", maximum=0.999, step=0.05, decimals=3),
    Field("optim.nesterov"),
    Field("optim.weight_decay", maximum=1.0, log=True, special="off"),
    Field("optim.l1", maximum=1.0, log=True, special="off"),
    Field("optim.label_smoothing", maximum=0.5, step=0.05, decimals=2, special="off"),
)

SCHEDULE_FIELDS = (
    Field("optim.scheduler"),
    Field("optim.warmup_epochs", maximum=100.0, step=0.5, decimals=1, suffix=" epochs", special="none"),
    Field("optim.step_size", maximum=1000, suffix=" epochs"),
    Field("optim.gamma", minimum=0.001, step=0.05, decimals=3),
)

LOOP_FIELDS = (  # epochs is in the simple mode's box (basics.py), shown in both modes
    Field("train.batch_size", maximum=4096, special="auto"),
    Field("model.image_size", maximum=1024, step=16, suffix=" px", special="backbone's own"),
    Field("train.early_stopping_patience", maximum=1000, suffix=" epochs", special="off"),
    Field("train.monitor", choices=MONITORS),
    Field("train.class_weights"),
    Field("train.sampler"),
    Field("train.seed"),
    Field("train.deterministic"),
    Field("train.device", choices=DEVICES),
    Field("train.amp"),
    Field("train.channels_last"),
    Field("train.cpu_speed"),
    Field("train.sync_batchnorm"),
    Field("train.feature_cache"),
    Field("train.feature_views", maximum=32, special="eval only"),
)

DATA_FIELDS = (
    Field("data.val_fraction", maximum=0.9, step=0.05, decimals=2),
    Field("data.test_fraction", maximum=0.9, step=0.05, decimals=2, special="none"),
    Field("data.split_seed"),
    Field("data.cache_images"),
    Field("data.num_workers", maximum=64, special="auto"),
)

# Options that only some optimizers or schedules read (engine/training/schedule.py): disabled otherwise.
APPLIES_WHEN = {
    "optim.momentum": ("optim.optimizer", ("sgd", "rmsprop")),
    "optim.nesterov": ("optim.optimizer", ("sgd",)),
    "optim.step_size": ("optim.scheduler", ("step",)),
    "optim.gamma": ("optim.scheduler", ("step",)),
}

SECTIONS = (("Optimizer", OPTIM_FIELDS), ("Learning-rate schedule", SCHEDULE_FIELDS),
            ("Training loop", LOOP_FIELDS), ("Validation split", DATA_FIELDS))


class TrainingForm(QWidget):
    """Every training option of the engine: the simple mode's box, then the advanced sections (hidden
    until ``set_advanced(True)``); ``changed`` after each edit."""

    changed = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        self.basics = BasicsBox()
        self.basics.changed.connect(self._form_changed)
        basics_box = QGroupBox("Training")
        QVBoxLayout(basics_box).addWidget(self.basics)
        layout.addWidget(basics_box)
        self.forms: list[FieldForm] = [self.basics.form]
        self.advanced_boxes: list[QGroupBox] = []
        for title, fields in SECTIONS:
            box = QGroupBox(title)
            form = FieldForm(fields)
            form.changed.connect(self._form_changed)
            QVBoxLayout(box).addWidget(form)
            layout.addWidget(box)
            self.forms.append(form)
            self.advanced_boxes.append(box)
        self.find_lr_button = QPushButton("Find learning rate")
        self.find_lr_button.setObjectName("findLearningRate")
        self.find_lr_button.setToolTip("Train a few hundred steps at growing learning rates on the project's images "
                                       "and suggest one (a learning-rate range test); one click puts it here.")
        self.forms[1].add_beside("optim.lr", self.find_lr_button)
        layout.addStretch(1)
        self.set_advanced(False)

    def set_advanced(self, shown: bool) -> None:
        """Show every section (True) or only the simple mode's box; no option changes either way."""
        for box in self.advanced_boxes:
            box.setVisible(shown)
        if self.basics.advanced.isChecked() != shown:
            self.basics.advanced.setChecked(shown)

    def offer_all_gpus(self, gpus: int, config: RunConfig) -> None:
        """Offer "All N GPUs" (device cuda:all) among the devices when ``gpus`` > 1, not otherwise; then show
        ``config`` again (a saved cuda:all finds its item, or shows as itself on a machine with one GPU)."""
        combo = self.editor("train.device")
        assert isinstance(combo, QComboBox)
        with QSignalBlocker(combo):  # not an edit: the draft config keeps its device
            for index in reversed(range(combo.count())):
                if ALL_GPUS in (combo.itemData(index), combo.itemText(index)):
                    combo.removeItem(index)
            if gpus > 1:
                combo.addItem(f"All {gpus} GPUs", ALL_GPUS)
                combo.setItemData(combo.count() - 1, f"Train on all {gpus} GPUs at once: one process per GPU, "
                                  "data-parallel (the same run as imgcls train --nproc-per-node "
                                  f"{gpus}).", Qt.ItemDataRole.ToolTipRole)
        self.set_config(config)

    def is_advanced(self) -> bool:
        return self.basics.advanced.isChecked()

    def editor(self, name: str) -> QWidget:
        """The editor of ``"section.key"`` (tests and the screenshot script drive it)."""
        return next(form.editors[name] for form in self.forms if name in form.editors)

    def set_config(self, config: RunConfig) -> None:
        self.basics.set_config(config)
        for form in self.forms[1:]:
            form.set_config(config)
        self._enable_applicable(config)

    def _enable_applicable(self, config: RunConfig) -> None:
        for name, (choice, values) in APPLIES_WHEN.items():
            section, key = choice.split(".")
            self.editor(name).setEnabled(getattr(getattr(config, section), key) in values)

    def apply(self, config: RunConfig) -> RunConfig:
        config = self.basics.apply(config)
        for form in self.forms[1:]:
            config = form.apply(config)
        return config

    @Slot()
    def _form_changed(self) -> None:
        self.changed.emit()
