"""Stand-ins for the Model & Freezing, Training and Inference panels until part 2 replaces them."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel, QVBoxLayout, QWidget

from .state import AppState


class PlaceholderPanel(QWidget):
    TITLE = ""
    TEXT = ""

    def __init__(self, state: AppState, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.state = state
        label = QLabel(f"<h2>{self.TITLE}</h2><p>{self.TEXT}</p>")
        label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        label.setWordWrap(True)
        layout = QVBoxLayout(self)
        layout.addWidget(label)


class ModelPlaceholder(PlaceholderPanel):
    TITLE = "Model & Freezing"
    TEXT = "Choose a backbone and which layers to freeze. Coming in the next version of this panel."


class TrainingPlaceholder(PlaceholderPanel):
    TITLE = "Training"
    TEXT = "Train, watch the curves, pause and resume. Meanwhile: <code>imgcls train</code> on the command line."


class InferencePlaceholder(PlaceholderPanel):
    TITLE = "Inference"
    TEXT = "Run a trained model on new photos. Meanwhile: <code>imgcls predict</code> on the command line."
