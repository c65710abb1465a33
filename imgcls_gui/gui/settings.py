"""What the app remembers between sessions (QSettings): window layout and recent projects only.

Everything about a project lives in its folder; these are conveniences of this computer.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QSettings

ORGANISATION = "imgcls"
APPLICATION = "imgcls"
MAX_RECENT = 9  # File > Open Recent numbers them &1..&9
_RECENT_KEY = "recentProjects"


def recent_projects(settings: QSettings | None = None) -> list[Path]:
    settings = settings or QSettings()
    value = settings.value(_RECENT_KEY, [])
    if isinstance(value, str):  # QSettings returns a lone string for a one-element list in INI files
        value = [value]
    return [Path(p) for p in value or []]


def remember_project(folder: Path, settings: QSettings | None = None) -> None:
    settings = settings or QSettings()
    folder = Path(folder).resolve()
    recent = [p for p in recent_projects(settings) if p != folder]
    settings.setValue(_RECENT_KEY, [str(p) for p in [folder, *recent][:MAX_RECENT]])


def forget_project(folder: Path, settings: QSettings | None = None) -> None:
    settings = settings or QSettings()
    settings.setValue(_RECENT_KEY, [str(p) for p in recent_projects(settings) if p != Path(folder).resolve()])


def user_data_dir() -> Path:
    """Per-user folder for app data such as the demo project (the engine's rule: ``IMGCLS_DATA_DIR`` wins)."""
    from ..engine import default_data_dir

    return default_data_dir()
