"""Fixtures shared by every test package. Keep this small: package-specific helpers live in tests/<package>/conftest.py."""

from __future__ import annotations

import os
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


@pytest.fixture(scope="session", autouse=True)
def isolated_user_data(tmp_path_factory) -> None:
    """Tests never write into the real per-user data folder (e.g. the trusted-TorchScript registry)."""
    if "IMGCLS_DATA_DIR" not in os.environ:
        os.environ["IMGCLS_DATA_DIR"] = str(tmp_path_factory.mktemp("user-data"))


# The training child process honours a job's test hooks (a signal sent to itself mid-epoch, a pause at an
# epoch's end) only with this set; children inherit it, and each job carries the app's environment.
os.environ["IMGCLS_TEST_HOOKS"] = "1"
