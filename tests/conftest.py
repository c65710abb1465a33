"""Fixtures shared by every test package. Keep this small: package-specific helpers live in tests/<package>/conftest.py."""

from __future__ import annotations

from pathlib import Path

import pytest

# The real photo sets live in shared/ beside the repository root; they are never copied into the repo.
SHARED_DATASETS = Path(__file__).resolve().parents[1].parent / "shared" / "datasets"


@pytest.fixture(scope="session")
def shared_datasets() -> Path:
    """Path of shared/datasets (hymenoptera, flowers17, miml); skips the test when it is absent."""
    if not SHARED_DATASETS.is_dir():
        pytest.skip(f"real datasets not found at {SHARED_DATASETS}")
    return SHARED_DATASETS
