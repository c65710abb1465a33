"""What every worker task that runs torch needs: a safe first import and a lower thread priority.

Two threads importing submodules of a package for the first time at once (one ``import
torchvision.transforms.v2`` while another runs ``import torchvision``) can deadlock in Python's
import locks; Python then hands one of them a half-initialised module ("cannot import name ...
from partially initialized module"). So every worker task that needs torch calls ``import_torch()``
first: it imports torch and everything heavy the app's tasks use, whole, one thread at a time.
After that, no task meets a first import of those packages. It also means that executing those
large modules (which holds the GIL) happens once, early, not in the middle of a training run, and
that their objects can be frozen out of the cyclic garbage collector's full passes.

Long tasks (training, evaluating, predicting) call ``lower_thread_priority()`` so the UI thread
wins the CPU when both want it: on a 2-core laptop, torch's threads would otherwise delay repaints.
"""

from __future__ import annotations

import gc
import importlib
import os
import sys
import threading

from ..engine import CHILD_WARM_MODULES

WORKER_NICENESS = 5  # UI first; but not so low that other busy programs starve the run (nice 10 gets ~1/10 of a core against them)
_lock = threading.Lock()
# What the training child imports before its first job (torch first), then what this process's own tasks
# (prediction, export) import lazily on their way.
HEAVY_MODULES = (*CHILD_WARM_MODULES, "onnxruntime", "imgcls_gui.engine.deploy.predict",
                 "imgcls_gui.engine.deploy.predict_io", "imgcls_gui.engine.deploy.export")
_imported = False


def import_torch() -> None:
    """Block until torch and the other heavy modules are fully imported (instant once they are)."""
    global _imported
    with _lock:
        if not _imported:
            for name in HEAVY_MODULES:
                importlib.import_module(name)
            # torch & co. leave ~400,000 long-lived objects that every full collection of the cyclic
            # GC walks, holding the GIL (so freezing the UI) for ~0.25 s on a laptop core, more when busy.
            # Move them out of the collector's sight. No collection here: this is a worker thread, and
            # collecting could destroy Qt objects off the UI thread (see main_thread_gc.py).
            gc.freeze()
            _imported = True


def import_modules(*names: str) -> None:
    """``import_torch``, then import ``names`` whole, one thread at a time: packages only some tasks need
    (pytorch-grad-cam, umap), left out of HEAVY_MODULES so they cost nothing until a task uses them."""
    import_torch()
    with _lock:
        for name in names:
            importlib.import_module(name)


def torch_imported() -> bool:
    """Whether ``import_torch`` has finished (in any thread)."""
    return _imported


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
