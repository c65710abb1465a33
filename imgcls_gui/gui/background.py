"""What every worker task that runs torch needs: a safe first import and a lower thread priority.

Two threads importing *submodules* of a package that is still initialising (one
``import torch.hub`` while another runs ``import torch``) can deadlock in Python's import locks;
Python then hands one of them a half-initialised module ("cannot import name ... from partially
initialized module"). Every worker task that needs torch calls ``import_torch()`` first: the
top-level packages are imported whole, one thread at a time, before any submodule is touched.

Long tasks (training, evaluating, predicting) call ``lower_thread_priority()`` so the UI thread
wins the CPU when both want it: on a 2-core laptop, torch's threads would otherwise delay repaints.
"""

from __future__ import annotations

import os
import sys
import threading

WORKER_NICENESS = 10
_lock = threading.Lock()


def import_torch() -> None:
    """Block until torch and torchvision are fully imported (instant once they are)."""
    with _lock:
        import torch  # noqa: F401
        import torchvision  # noqa: F401


def lower_thread_priority() -> None:
    """Make the calling thread, and the threads and processes it starts later (torch's intra-op
    threads, data-loader processes), yield to the UI thread.

    Linux keeps a nice value per thread; elsewhere there is no per-thread equivalent, so nothing changes.
    """
    if sys.platform.startswith("linux"):
        try:
            os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), WORKER_NICENESS)
        except OSError:
            pass  # a sandbox may forbid it: the work then simply shares the CPU evenly
