"""A guard against a PySide6 bug that kills the app on Python 3.11 after enough Qt calls.

PySide6 6.12 (shiboken) returns None from a C++ method that returns void without taking a new
reference to it, so every such call (``label.setText``, ``timer.start``, ``processEvents``...)
lowers None's reference count by one. From Python 3.12 on None is immortal and nothing happens;
on 3.11 the count reaches zero after some thousands of calls (a few hundred thousand once torch is
imported) and the interpreter aborts with "Fatal Python error: none_dealloc". A live camera view
makes several such calls per frame: minutes, not hours. ``protect_none()`` measures whether the
installed PySide6 has the bug and, if so, raises None's count so far that it can never reach zero.
"""

from __future__ import annotations

import ctypes
import sys

PROBE_CALLS = 64
HEADROOM = 1 << 48  # calls before None could run out: centuries at millions of calls a second

_protected = False


def void_calls_drop_none_references() -> bool:
    """Whether a Qt method returning void takes a reference to None away (the bug)."""
    from PySide6.QtCore import QObject

    probe = QObject()
    before = sys.getrefcount(None)
    for _ in range(PROBE_CALLS):
        probe.setObjectName("probe")
    return sys.getrefcount(None) <= before - PROBE_CALLS // 2


def protect_none() -> bool:
    """Raise None's reference count out of reach when the bug is there; True when it was needed."""
    global _protected
    if _protected or sys.version_info >= (3, 12) or sys.implementation.name != "cpython":
        return False
    if not void_calls_drop_none_references():
        return False
    # ob_refcnt is the first field of every CPython object (a Py_ssize_t at the object's address).
    refcount = ctypes.c_ssize_t.from_address(id(None))
    refcount.value += HEADROOM
    _protected = True
    return True
