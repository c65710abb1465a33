"""A process that the distributed-launch tests start through ``launch_local`` (as ``python -m``).

``kill``: rank 1 kills itself with SIGKILL; ``error``: rank 1 runs ``imgcls train`` without a
dataset (an ImgclsError through the CLI's handler). Rank 0 waits, as a training rank would, until
the launcher stops it.
"""

from __future__ import annotations

import os
import signal
import sys
import time

if __name__ == "__main__":
    if os.environ["RANK"] == "1":
        if sys.argv[1] == "kill":
            os.kill(os.getpid(), signal.SIGKILL)
        from imgcls_gui.cli import main

        sys.exit(main(["train", "--out", sys.argv[2]]))
    time.sleep(120)
