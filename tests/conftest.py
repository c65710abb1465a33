"""Fixtures shared by every test package. Keep this small: package-specific helpers live in tests/<package>/conftest.py."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

# The real photo sets live in shared/ beside the repository root; they are never copied into the repo.
SHARED_DATASETS = Path(__file__).resolve().parents[1].parent / "shared" / "datasets"

# Under pytest-xdist (the README's test command runs `-n auto`), the workers share the machine's cores: each one's
# torch/OpenMP pool gets its share instead of every worker starting one thread per core. Set before torch is imported.
if "PYTEST_XDIST_WORKER_COUNT" in os.environ and "OMP_NUM_THREADS" not in os.environ:
    _cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    os.environ["OMP_NUM_THREADS"] = str(max(1, _cores // int(os.environ["PYTEST_XDIST_WORKER_COUNT"])))


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


# Disk use stays bounded: pyproject's tmp_path_retention_policy = "failed" removes a passing test's tmp_path as it
# ends, and this removes what a module's fixtures made with tmp_path_factory.mktemp (trained runs, exports: up to
# hundreds of MB each) when the module is done, unless one of its tests failed (then it stays for a look).
_MODULES_WITH_FAILURES: set[str] = set()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    report = yield
    if report.failed:
        _MODULES_WITH_FAILURES.add(item.nodeid.split("::")[0])
    return report


@pytest.fixture(scope="module", autouse=True)
def _free_module_scratch(request, tmp_path_factory):
    base = tmp_path_factory.getbasetemp()
    before = set(base.iterdir())
    yield
    if request.node.nodeid in _MODULES_WITH_FAILURES:
        return
    for made in set(base.iterdir()) - before:
        if made.is_dir() and not made.is_symlink():
            shutil.rmtree(made, ignore_errors=True)
