"""The one place that lists the window's panels; part 2 swaps its panels in here.

A panel is a QWidget class constructed as ``Panel(state, parent=None)``: it reads the current
``AppState`` in ``__init__`` and follows its signals afterwards. Panels are named by import path
and built the first time they are shown, so a heavy panel (plots, torch-backed widgets) costs
nothing at start-up. A panel may define ``save_settings(settings)`` to keep its layout.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass

from PySide6.QtWidgets import QWidget

from .state import AppState


@dataclass(frozen=True)
class PanelSpec:
    key: str  # stable id: "dataset", "model", "training", "inference"
    title: str  # sidebar text
    icon: str  # qtawesome icon name
    factory: str  # "package.module:Class"

    def create(self, state: AppState, parent: QWidget | None = None) -> QWidget:
        module_name, _, attribute = self.factory.partition(":")
        panel_class = getattr(importlib.import_module(module_name), attribute)
        return panel_class(state, parent)


PANELS: tuple[PanelSpec, ...] = (
    PanelSpec("dataset", "Dataset", "mdi6.image-multiple-outline", "imgcls_gui.gui.dataset.panel:DatasetPanel"),
    PanelSpec("model", "Model && Freezing", "mdi6.layers-triple-outline", "imgcls_gui.gui.model_panel.panel:ModelPanel"),
    PanelSpec("training", "Training", "mdi6.chart-line", "imgcls_gui.gui.training_panel.panel:TrainingPanel"),
    PanelSpec("inference", "Inference", "mdi6.image-search-outline", "imgcls_gui.gui.inference_panel.panel:InferencePanel"),
)
