"""Entry point of the frozen app: PyInstaller runs this file as ``__main__`` of ``dist/imgcls/imgcls``.

``multiprocessing.freeze_support()`` comes before anything else: a frozen app has no Python
interpreter, so each spawned process (the app's child process that trains, exports and predicts;
DataLoader workers where they are spawned, on Windows and macOS) starts this same executable again,
and this call is what turns that start into the child process instead of a second window. A run on all GPUs starts its processes as ``EXECUTABLE -m imgcls_gui.engine.training.launch_job
FOLDER`` (torch's elastic launcher runs ``sys.executable``): that start becomes the rank, not a window either.
"""

import multiprocessing
import sys

RANK_MODULE = "imgcls_gui.engine.training.launch_job"

if __name__ == "__main__":
    multiprocessing.freeze_support()
    if sys.argv[1:3] == ["-m", RANK_MODULE] and len(sys.argv) == 4:
        from imgcls_gui.engine.training.launch_job import rank_main

        sys.exit(rank_main(sys.argv[3]))
    from imgcls_gui.gui.app import main

    sys.exit(main())
