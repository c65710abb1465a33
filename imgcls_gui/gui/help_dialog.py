"""Help ▸ Guide: the workflow in five steps and the keyboard shortcuts, and the README's sections,
built in so it works offline.

The menu shortcuts are read from the window's actions, so the table cannot drift from the keys
that really work; the panel keys (digits, Delete, Ctrl+Return) are listed here beside their panels.
The README is the one shipped with the app (``resources.readme_path()``: packaging bundles it).
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable
from pathlib import Path

from PySide6.QtCore import Slot
from PySide6.QtGui import QAction, QKeySequence, QTextDocument
from PySide6.QtWidgets import (QDialog, QDialogButtonBox, QListWidget, QSplitter, QTabWidget, QTextBrowser,
                               QVBoxLayout, QWidget)

from ..resources import readme_path

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


_IMAGE = re.compile(r"^!\[[^\]]*\]\([^)]*\)\s*$", re.MULTILINE)  # screenshots are not shipped with the app
_FENCE = re.compile(r"^```.*?^```", re.MULTILINE | re.DOTALL)


def readme_sections(path: Path | None = None) -> tuple[str, list[str]]:
    """The README as Markdown without its screenshots, and its section titles (## and ###) in order."""
    path = path or readme_path()
    if path is None:
        return "The README is not part of this installation; `imgcls --help` lists every command.", []
    text = _IMAGE.sub("", path.read_text(encoding="utf-8"))
    prose = _FENCE.sub("", text)  # a "# comment" inside a code block is not a title
    return text, [m.group(2).strip() for m in re.finditer(r"^(##|###) (.+)$", prose, re.MULTILINE)]


class ReadmeView(QSplitter):
    """The README's sections in a list beside the text; choosing one scrolls to it."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        text, titles = readme_sections()
        self.sections = QListWidget()
        self.sections.addItems(titles)
        self.sections.currentTextChanged.connect(self.show_section)
        self.browser = QTextBrowser()
        self.browser.setOpenLinks(False)
        self.browser.setMarkdown(text)
        self.addWidget(self.sections)
        self.addWidget(self.browser)
        self.setStretchFactor(1, 1)
        self.setSizes([215, 485])

    @Slot(str)
    def show_section(self, title: str) -> None:
        found = self.browser.document().find(title, 0, QTextDocument.FindFlag.FindCaseSensitively)
        while not found.isNull() and found.block().blockFormat().headingLevel() == 0:  # the title, not a mention
            found = self.browser.document().find(title, found, QTextDocument.FindFlag.FindCaseSensitively)
        if not found.isNull():
            self.browser.setTextCursor(found)
            self.browser.verticalScrollBar().setValue(self.browser.verticalScrollBar().maximum())  # title at the top
            self.browser.ensureCursorVisible()


class GuideDialog(QDialog):
    def __init__(self, actions: Iterable[QAction], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("imgcls guide")
        self.setObjectName("guideDialog")
        self.browser = QTextBrowser()
        self.browser.setOpenLinks(False)  # offline: nothing here leads out of the app
        self.browser.setHtml(guide_html(menu_shortcuts(actions)))
        self.readme = ReadmeView()
        self.tabs = QTabWidget()
        self.tabs.addTab(self.browser, "Guide and shortcuts")
        self.tabs.addTab(self.readme, "README")
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(self.tabs)
        layout.addWidget(buttons)
        self.resize(720, 620)
