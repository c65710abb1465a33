"""The training options, grouped as the engine's config sections, each with a tooltip saying what it does.

Defaults are ``RunConfig()``'s: the form only shows and edits ``AppState.run_config``.
"""

from __future__ import annotations

from typing import get_args

from PySide6.QtCore import Signal, Slot
from PySide6.QtWidgets import QGroupBox, QVBoxLayout, QWidget

from ...engine import OptimizerName, RunConfig, SchedulerName
from .fields import Field, FieldForm

DEVICES = ("auto", "cpu", "cuda", "mps")
MONITORS = ("auto", "accuracy", "f1_macro", "map", "roc_auc_macro", "val_loss")

OPTIM_FIELDS = (
    Field("optim", "optimizer", "Optimizer", "AdamW suits most fine-tuning; SGD with momentum can generalise "
          "slightly better with a tuned schedule.", choices=get_args(OptimizerName)),
    Field("optim", "lr", "Learning rate", "Step size of the optimizer for the head; frozen-then-unfrozen layers "
          "get a fraction of it (two-phase). Arrow keys step 1-2-5.", minimum=1e-7, maximum=10.0, log=True),
    Field("optim", "momentum", "Momentum", "SGD and RMSprop only.", maximum=0.999, step=0.05, decimals=3),
    Field("optim", "nesterov", "Nesterov", "Nesterov momentum (SGD only)."),
    Field("optim", "weight_decay", "Weight decay", "L2 penalty on the weights (decoupled for AdamW). "
          "0 switches it off.", maximum=1.0, log=True, special="off"),
    Field("optim", "l1", "L1 penalty", "Adds this times the sum of |weights| of trainable layers to the loss; "
          "pushes weights to exactly zero. 0 = off.", maximum=1.0, log=True, special="off"),
    Field("optim", "label_smoothing", "Label smoothing", "Train towards 1 - ε instead of 1 for the true class: "
          "less over-confident models. 0 = off.", maximum=0.5, step=0.05, decimals=2, special="off"),
)

SCHEDULE_FIELDS = (
    Field("optim", "scheduler", "Schedule", "How the learning rate changes over the run: constant, step "
          "(× gamma every step-size epochs), cosine decay, or one-cycle.", choices=get_args(SchedulerName)),
    Field("optim", "warmup_epochs", "Warm-up", "Epochs of linear warm-up from 0 to the learning rate "
          "(fractions allowed). 0 = none.", maximum=100.0, step=0.5, decimals=1, suffix=" epochs", special="none"),
    Field("optim", "step_size", "Step size", "Step schedule: epochs between rate drops.", minimum=1, maximum=1000,
          suffix=" epochs"),
    Field("optim", "gamma", "Gamma", "Step schedule: factor applied at each drop.", minimum=0.001, maximum=1.0,
          step=0.05, decimals=3),
)

LOOP_FIELDS = (
    Field("train", "epochs", "Epochs", "Passes over the training images.", minimum=1, maximum=10_000),
    Field("train", "batch_size", "Batch size", "Images per optimizer step. Lower it if the GPU runs out of memory; "
          "'auto' picks it from the GPU's free memory.", maximum=4096, special="auto"),
    Field("model", "image_size", "Image size", "Side of the square the images are cropped to. Smaller trains "
          "faster, larger sees more detail. 'backbone's own' = 224 (299 for Inception).", maximum=1024, step=16,
          suffix=" px", special="backbone's own"),
    Field("train", "early_stopping_patience", "Early stopping", "Stop when the validation metric has not "
          "improved for this many epochs. 'off' trains all epochs.", maximum=1000, suffix=" epochs", special="off"),
    Field("train", "monitor", "Best epoch by", "Validation metric that picks best.pt and drives early stopping; "
          "auto = accuracy (single-label) or mAP (multi-label).", choices=MONITORS),
    Field("train", "seed", "Seed", "Seeds shuffling, augmentation and the head's initial weights: the same "
          "seed and config give the same run.", maximum=2**31 - 1),
    Field("train", "deterministic", "Deterministic", "Use only deterministic GPU algorithms: bit-identical reruns, "
          "somewhat slower."),
    Field("train", "device", "Device", "auto = CUDA GPU, then Apple GPU, then CPU.", choices=DEVICES),
    Field("train", "amp", "Mixed precision", "Half-precision maths on CUDA GPUs: faster, less memory, "
          "same accuracy in practice. Ignored on CPU."),
    Field("train", "channels_last", "Channels-last", "Channels-last memory layout on CUDA GPUs (faster "
          "convolutions with mixed precision). Ignored on CPU."),
    Field("train", "feature_cache", "Cache frozen features", "With a frozen backbone, compute its features once "
          "and train only the head on them: many times faster."),
    Field("train", "feature_views", "Augmented views", "Cached features: augmented versions kept per training "
          "image ('eval only' = the plain view; augmentation then does not apply).", maximum=32,
          special="eval only"),
)

DATA_FIELDS = (
    Field("data", "val_fraction", "Validation share", "Share of labeled images kept aside to measure the model "
          "(images split by the project keep their split).", maximum=0.9, step=0.05, decimals=2),
    Field("data", "test_fraction", "Test share", "Share kept for a final test, never used to pick the best "
          "epoch. 0 = no test set.", maximum=0.9, step=0.05, decimals=2, special="none"),
    Field("data", "split_seed", "Split seed", "Seeds which images go to validation.", maximum=2**31 - 1),
    Field("data", "cache_images", "Keep images in memory", "Keep decoded, resized images in RAM between epochs: "
          "faster epochs for datasets that fit."),
    Field("data", "num_workers", "Loader processes", "Processes decoding images while the model trains. "
          "'auto' picks from the machine.", minimum=-1, maximum=64, special="auto"),
)

SECTIONS = (("Optimizer", OPTIM_FIELDS), ("Learning-rate schedule", SCHEDULE_FIELDS),
            ("Training loop", LOOP_FIELDS), ("Validation split", DATA_FIELDS))


class TrainingForm(QWidget):
    """Every training option of the engine; ``changed`` after each edit."""

    changed = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        self.forms: list[FieldForm] = []
        for title, fields in SECTIONS:
            box = QGroupBox(title)
            form = FieldForm(fields)
            form.changed.connect(self._form_changed)
            QVBoxLayout(box).addWidget(form)
            layout.addWidget(box)
            self.forms.append(form)
        layout.addStretch(1)

    def editor(self, name: str) -> QWidget:
        """The editor of ``"section.key"`` (tests and the screenshot script drive it)."""
        return next(form.editors[name] for form in self.forms if name in form.editors)

    def set_config(self, config: RunConfig) -> None:
        for form in self.forms:
            form.set_config(config)

    def apply(self, config: RunConfig) -> RunConfig:
        for form in self.forms:
            config = form.apply(config)
        return config

    @Slot()
    def _form_changed(self) -> None:
        self.changed.emit()
