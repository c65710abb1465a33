"""Import torch and torchvision safely from worker threads.

Two threads importing *submodules* of a package that is still initialising (one
``import torch.hub`` while another runs ``import torch``) can deadlock in Python's import locks;
Python then hands one of them a half-initialised module ("cannot import name ... from partially
initialized module"). Every worker task that needs torch calls ``import_torch()`` first: the
top-level packages are imported whole, one thread at a time, before any submodule is touched.
"""

from __future__ import annotations

import threading

_lock = threading.Lock()


def import_torch() -> None:
    """Block until torch and torchvision are fully imported (instant once they are)."""
    with _lock:
        import torch  # noqa: F401
        import torchvision  # noqa: F401
