"""docs/architecture.md is where a newcomer starts: every module it names exists, every engine stage is in it."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "architecture.md"
ENGINE = ROOT / "imgcls_gui" / "engine"


def _named_paths() -> set[str]:
    # `data/split.py`, `training/state.py`, `gui/worker.py`, `commands/*.py` ... as written in the doc
    return set(re.findall(r"`((?:[a-z_]+/)*[a-z_]+\.py)", DOC.read_text(encoding="utf-8")))


def _exists(name: str) -> bool:
    for base in (ENGINE, ROOT / "imgcls_gui", ROOT):
        if (base / name).is_file():
            return True
    return False


def test_every_module_the_doc_names_exists():
    missing = sorted(name for name in _named_paths() if not _exists(name))
    assert not missing, f"docs/architecture.md names modules that do not exist: {missing}"


def test_every_engine_stage_and_module_is_in_the_doc():
    text = DOC.read_text(encoding="utf-8")
    stages = sorted(p.name for p in ENGINE.iterdir() if (p / "__init__.py").is_file())
    assert stages, "no engine subpackages found"
    assert not [s for s in stages if f"{s}/" not in text]
    top_level = sorted(p.stem for p in ENGINE.glob("*.py") if p.stem != "__init__")
    assert not [m for m in top_level if m not in text], "a top-level engine module is missing from the doc"
