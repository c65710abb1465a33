"""Help ▸ Guide: the workflow in five steps and the keyboard shortcuts, built in so it works offline.

The menu shortcuts are read from the window's actions, so the table cannot drift from the keys
that really work; the panel keys (digits, Delete, Ctrl+Return) are listed here beside their panels.
"""

from __future__ import annotations

import html
from collections.abc import Iterable

from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QDialog, QDialogButtonBox, QTextBrowser, QVBoxLayout, QWidget

STEPS = (
    ("Create a project", "File ▸ New Project, single-label (one class per photo) or multi-label. "
                         "Or open the demo project to try everything with sample images."),
    ("Import photos", "File ▸ Import Folder (one subfolder per class), a CSV or a PASCAL VOC folder: a preview "
                      "lists the classes found; uncheck the ones you do not want. Dropping files on the Dataset "
                      "panel imports them at once."),
    ("Label and split", "In Dataset, select photos and press a class's key (shown on its colour in the class "
                        "list), then Split… into train, validation and test."),
    ("Train", "Choose a backbone and what to freeze in Model & Freezing, the epochs in Training, then Start. "
              "Charts fill live; Results shows the metrics and the confusion matrix of each run."),
    ("Export and predict", "Export the run to ONNX (File ▸ Export Model), then in Inference predict new photos, "
                           "correct a wrong label with its key, accept them as labels, or sort them into folders."),
)

PANEL_KEYS = (
    ("1 – 9", "Dataset: give the selected photos that class (multi-label: toggle it)"),
    ("1 – 9", "Inference: change the selected predictions' label before accepting"),
    ("Delete", "Dataset: remove the selected photos from the project (files kept)"),
    ("Ctrl+A", "Select everything in the list that has the focus"),
    ("Ctrl+Return", "Training: start a run"),
)


def menu_shortcuts(actions: Iterable[QAction]) -> list[tuple[str, str]]:
    """(keys, what) for every action that has a shortcut, as the menus show them."""
    rows = []
    for action in actions:
        keys = ", ".join(s.toString(QKeySequence.SequenceFormat.NativeText) for s in action.shortcuts())
        if keys:
            rows.append((keys, action.text().replace("&", "").rstrip(".…")))
    return rows


def guide_html(shortcuts: Iterable[tuple[str, str]]) -> str:
    steps = "".join(f"<li><b>{html.escape(title)}</b>: {html.escape(text)}</li>" for title, text in STEPS)
    rows = "".join(f"<tr><td><code>{html.escape(keys)}</code></td><td>{html.escape(what)}</td></tr>"
                   for keys, what in [*shortcuts, *PANEL_KEYS])
    return (f"<h2>From photos to a classifier in five steps</h2><ol>{steps}</ol>"
            f"<h2>Keyboard shortcuts</h2><table cellspacing='0' cellpadding='3'>{rows}</table>"
            "<p>Everything is saved as you go, in the project folder. The same steps run without the app: "
            "<code>imgcls --help</code>.</p>")


class GuideDialog(QDialog):
    def __init__(self, actions: Iterable[QAction], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("imgcls guide")
        self.setObjectName("guideDialog")
        self.browser = QTextBrowser()
        self.browser.setOpenLinks(False)  # offline: nothing here leads out of the app
        self.browser.setHtml(guide_html(menu_shortcuts(actions)))
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(self.browser)
        layout.addWidget(buttons)
        self.resize(640, 620)
