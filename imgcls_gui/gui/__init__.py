"""The desktop app (PySide6). Start it with ``imgcls-gui`` or ``python -m imgcls_gui.gui``.

Nothing here imports torch at import time: the window must show before torch loads.
"""

from .none_refcount import protect_none

protect_none()  # before any widget exists: see none_refcount.py
