"""The engine and the CLI never import Qt (napari-style layering), checked in a clean interpreter."""

from __future__ import annotations

import pkgutil
import subprocess
import sys

import pytest

import imgcls_gui.commands
import imgcls_gui.engine

# Every engine module (subpackages included) and every command module.
ENGINE_MODULES = sorted(
    m.name
    for package in (imgcls_gui.engine, imgcls_gui.commands)
    for m in pkgutil.walk_packages(package.__path__, package.__name__ + ".")
)


@pytest.mark.parametrize("module", ["imgcls_gui.cli", *ENGINE_MODULES])
def test_module_does_not_import_qt(module):
    code = (
        f"import sys, importlib; importlib.import_module({module!r}); "
        "bad = [m for m in sys.modules if m.split('.')[0] in ('PySide6', 'shiboken6', 'qtawesome', 'pyqtgraph')]; "
        "print(bad); sys.exit(1 if bad else 0)"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
