"""Find bundled files (icons, the README) the same way from a source checkout and from a PyInstaller bundle."""

from __future__ import annotations

import sys
from pathlib import Path

APP_ICON_SIZES = (16, 24, 32, 48, 64, 128, 256, 512)


def resources_root() -> Path:
    """The ``resources/`` folder: beside the package in a checkout, under ``sys._MEIPASS`` when frozen."""
    bundle = getattr(sys, "_MEIPASS", None)  # set by PyInstaller's boot loader
    base = Path(bundle) if bundle else Path(__file__).resolve().parent.parent
    return base / "resources"


def resource_path(relative: str | Path) -> Path:
    """Absolute path of ``resources/<relative>``, e.g. ``resource_path("icons/imgcls-256.png")``."""
    return resources_root() / relative


def readme_path() -> Path | None:
    """The README that Help ▸ Guide shows: ``resources/README.md`` in a bundle, the checkout's own from source."""
    for path in (resource_path("README.md"), resources_root().parent / "README.md"):
        if path.is_file():
            return path
    return None


def app_icon_paths() -> list[Path]:
    """The app icon PNGs that exist, smallest first (a QIcon takes them all and picks per size)."""
    return [p for size in APP_ICON_SIZES if (p := resource_path(f"icons/imgcls-{size}.png")).is_file()]
