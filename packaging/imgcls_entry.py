"""Entry point of the frozen app: PyInstaller runs this file as ``__main__`` of ``dist/imgcls/imgcls``.

``multiprocessing.freeze_support()`` comes before anything else: a frozen app has no Python
interpreter, so each spawned process (the training worker, DataLoader workers) starts this same
executable again, and this call is what turns that start into the child process instead of a
second window.
"""

import multiprocessing
import sys

if __name__ == "__main__":
    multiprocessing.freeze_support()
    from imgcls_gui.gui.app import main

    sys.exit(main())
