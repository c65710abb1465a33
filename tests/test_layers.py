"""Layering contracts (pyproject.toml [tool.importlinter]) hold: checked by import-linter on this checkout's source.

The contracts say: the engine, the CLI and its commands never import the GUI or Qt; the GUI takes engine
names only from ``imgcls_gui.engine``; panels never import each other; engine stages form layers.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
REQUIRED_CONTRACTS = {"engine-without-qt", "gui-through-public-face", "gui-layers", "engine-layers"}


def test_every_layering_contract_is_configured():
    tomllib = pytest.importorskip("tomllib")  # Python 3.11+
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    ids = {contract["id"] for contract in config["tool"]["importlinter"]["contracts"]}
    assert REQUIRED_CONTRACTS <= ids


def test_import_contracts_are_kept():
    # A fresh interpreter with this checkout first on the path: grimp must read these files, not an
    # editable install of another checkout. No cache: a stale one could hide a new import.
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    code = ("import sys; from importlinter import cli; "
            "sys.exit(cli.lint_imports(config_filename='pyproject.toml', no_cache=True, no_logo=True))")
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
