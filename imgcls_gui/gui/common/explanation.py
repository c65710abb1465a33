"""A pane that shows one image's Grad-CAM overlay and relabels the image in the project.

Used where the app shows a model's verdict on an image (the Results view's confusion-matrix cells
and highest-loss images, the Inference panel's rows). The overlay is computed by the engine's
``Explainer`` in the warm child process (``explain_in_child``: loaded once per run and kept there for the
next image; the PNGs come back as bytes), through a worker; relabelling goes through
the undo stack and the project store, exactly as a key press in the Dataset panel does.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt, Signal, Slot
from PySide6.QtGui import QPixmap
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QSizePolicy,
    QVBoxLayout,
    QWidget,
)

from ...engine import ExplainedImage
from ..state import AppState
from ..worker import LatestTask, TaskState
from .child_jobs import in_child
from .natural_sort import natural_sorted
from .undo import assign_class, toggle_tag

PREDICTED = "the predicted class"
MAX_SIDE = 640  # overlays are shown, not saved: no need for a phone photo's full size


def explain_task(task: TaskState, model: Path, path: Path, label: str | None) -> ExplainedImage:
    """Worker task: the overlay(s) of ``path`` by ``model`` (a run folder or .pt checkpoint), computed in the warm
    child process, which keeps the model loaded for the next image."""
    from ...engine import explain_in_child

    return in_child(task, explain_in_child, model, path, label, MAX_SIDE, "cpu", successor_of="explain")


class ExplanationPane(QWidget):
    """Grad-CAM overlay of the image shown, a class to explain, and a Relabel control."""

    relabelled = Signal(object, tuple)  # path, new labels

    def __init__(self, state: AppState | None = None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.state = state
        self.model: Path | None = None
        self.path: Path | None = None
        self.result: ExplainedImage | None = None
        self.explaining = LatestTask(self)  # the newest image wins
        self.title = QLabel("Choose an image to see where the model looked (Grad-CAM).")
        self.title.setWordWrap(True)
        self.title.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.target = QComboBox()
        self.target.setObjectName("explainTarget")
        self.target.setToolTip("The class whose evidence the heatmap shows: red is where the model found most")
        self.target.activated.connect(self._target_chosen)
        self.overlay_box = QCheckBox("Heatmap")
        self.overlay_box.setChecked(True)
        self.overlay_box.setToolTip("Show the Grad-CAM heatmap over the photo, or the photo alone")
        self.overlay_box.toggled.connect(self._redraw)
        self.image = QLabel()
        self.image.setObjectName("explanationImage")
        self.image.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.image.setMinimumSize(160, 160)
        self.image.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Ignored)
        self.progress = QProgressBar()
        self.progress.setMaximumHeight(14)
        self.progress.setTextVisible(False)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.clicked.connect(self.cancel)
        self.label_box = QComboBox()
        self.label_box.setObjectName("relabelClass")
        self.label_box.setToolTip("A class of the open project")
        self.relabel_button = QPushButton("Relabel")
        self.relabel_button.setObjectName("relabelButton")
        self.relabel_button.setToolTip("Give the image this label in the project (Ctrl+Z undoes it)")
        self.relabel_button.clicked.connect(self._relabel_clicked)
        self._build_layout()
        self._set_busy(False)
        self._refresh_relabel()

    def _build_layout(self) -> None:
        top = QHBoxLayout()
        top.addWidget(QLabel("Grad-CAM of:"))
        top.addWidget(self.target, 1)
        top.addWidget(self.overlay_box)
        busy = QHBoxLayout()
        busy.addWidget(self.progress, 1)
        busy.addWidget(self.cancel_button)
        relabel = QHBoxLayout()
        relabel.addWidget(QLabel("Label in project:"))
        relabel.addWidget(self.label_box, 1)
        relabel.addWidget(self.relabel_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.title)
        layout.addLayout(top)
        layout.addWidget(self.image, 1)
        layout.addLayout(busy)
        layout.addLayout(relabel)

    # -- what to show -------------------------------------------------------------------------

    def set_model(self, model: Path | None, classes: tuple[str, ...] = ()) -> None:
        """The run folder or checkpoint whose Grad-CAM to show (None: no model that Grad-CAM can open)."""
        self.model = Path(model) if model is not None else None
        self.target.clear()
        self.target.addItem(PREDICTED, None)
        for name in classes:
            self.target.addItem(name, name)
        self.clear()

    def clear(self) -> None:
        self.explaining.discard()
        self.path = self.result = None
        self.image.clear()
        self.title.setText("Choose an image to see where the model looked (Grad-CAM)." if self.model else
                           "Grad-CAM needs a run or a .pt checkpoint (an exported model has no layers to look inside).")
        self._set_busy(False)
        self._refresh_relabel()

    def show_image(self, path: Path, caption: str = "") -> None:
        """Explain ``path`` in a worker; ``caption`` (e.g. "true ants → predicted bees") heads the pane."""
        self.path, self.result, self.caption = Path(path), None, caption
        self.image.clear()
        self._refresh_relabel()
        if self.model is None:
            self.title.setText(f"{self.path.name}: Grad-CAM needs a run or a .pt checkpoint.")
            return
        self.title.setText(f"<b>{self.path.name}</b> {caption}<br>Computing Grad-CAM…")
        self._set_busy(True)
        self.explaining.start(explain_task, self.model, self.path, self.target.currentData(),
                              on_success=self._explained, on_failure=self._failed, on_progress=self._progressed,
                              on_cancel=self._cancelled)

    @Slot()
    def cancel(self) -> None:
        self.explaining.cancel()

    @Slot(int)
    def _target_chosen(self, _index: int) -> None:
        if self.path is not None:
            self.show_image(self.path, getattr(self, "caption", ""))

    @Slot(object)
    def _explained(self, result: ExplainedImage) -> None:
        self._set_busy(False)
        self.result = result
        if result.error:
            self.title.setText(f"<b>{result.path.name}</b>: {result.error}")
            return
        shown = "; ".join(f"{name} {prob:.2f}" for name, prob, _png in result.overlays)
        self.title.setText(f"<b>{result.path.name}</b> {self.caption}<br>Grad-CAM of {shown}")
        self._redraw()

    @Slot(str, str)
    def _failed(self, message: str, _details: str) -> None:
        self._set_busy(False)
        self.title.setText(f"Could not compute Grad-CAM: {message}")

    @Slot()
    def _cancelled(self) -> None:
        self._set_busy(False)
        self.title.setText("Grad-CAM cancelled.")

    @Slot(int, int)
    def _progressed(self, done: int, total: int) -> None:
        self.progress.setRange(0, total)
        self.progress.setValue(done)

    @Slot()
    def _redraw(self) -> None:
        if self.result is None or not self.result.overlays:
            return
        data = self.result.overlays[0][2] if self.overlay_box.isChecked() else self.result.photo
        pixmap = QPixmap()
        pixmap.loadFromData(data, "PNG")
        size = self.image.size()
        self.image.setPixmap(pixmap.scaled(size, Qt.AspectRatioMode.KeepAspectRatio,
                                           Qt.TransformationMode.SmoothTransformation))

    def resizeEvent(self, event) -> None:  # noqa: N802 - Qt API
        super().resizeEvent(event)
        self._redraw()

    def _set_busy(self, busy: bool) -> None:
        self.progress.setVisible(busy)
        self.cancel_button.setVisible(busy)
        if busy:
            self.progress.setRange(0, 0)

    # -- relabelling ---------------------------------------------------------------------------

    def image_id(self) -> int | None:
        """The open project's id of the image shown, or None."""
        project = self.state.project if self.state is not None else None
        if project is None or project.closed or self.path is None:
            return None
        wanted = str(self.path)
        return next((r.id for r in project.images() if str(r.file) == wanted), None)

    def _refresh_relabel(self) -> None:
        project = self.state.project if self.state is not None else None
        names = natural_sorted(project.class_names()) if project is not None and not project.closed else []
        current = self.label_box.currentText()
        self.label_box.clear()
        self.label_box.addItems(names)
        if current in names:
            self.label_box.setCurrentText(current)
        image_id = self.image_id()
        can = image_id is not None and bool(names) and self.state is not None and self.state.writable
        self.label_box.setEnabled(can)
        self.relabel_button.setEnabled(can)
        if image_id is not None:
            labels = project.labels_of([image_id]).get(image_id, ())
            self.relabel_button.setToolTip(f"Now labelled: {', '.join(labels) or 'nothing'}. "
                                           "Relabel gives it the chosen class (Ctrl+Z undoes it)")
        elif self.path is not None:
            self.relabel_button.setToolTip("This image is not in the open project")

    @Slot()
    def _relabel_clicked(self) -> None:
        image_id, name = self.image_id(), self.label_box.currentText()
        if image_id is None or not name or self.state is None:
            return
        if self.state.project.task == "multilabel":
            toggle_tag(self.state, [image_id], name)
        else:
            assign_class(self.state, [image_id], name)
        labels = self.state.project.labels_of([image_id]).get(image_id, ())
        self.state.show_status(f"{self.path.name} is now labelled {', '.join(labels) or 'nothing'} (Ctrl+Z undoes it)")
        self._refresh_relabel()
        self.relabelled.emit(self.path, tuple(labels))
