"""One writer per project: a lock file holding the owner's PID plus an OS advisory lock.

The advisory lock (``flock`` on POSIX, ``msvcrt.locking`` on Windows) is what really excludes a
second writer, and the OS drops it when the owner dies, even on ``kill -9``, so a stale lock is
taken over without asking anybody. The PID in the file is for the message ("open in process
1234") and is the fallback where no advisory lock exists: then a dead PID means stale.
"""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from ..errors import ImgclsError

try:
    import fcntl
except ImportError:  # Windows
    fcntl = None  # type: ignore[assignment]
try:
    import msvcrt
except ImportError:  # POSIX
    msvcrt = None  # type: ignore[assignment]

LOCK_FILE = "project.lock"
# msvcrt locks are mandatory on the bytes they cover; lock one byte far past the PID text so
# another process can still read who holds the project.
_MSVCRT_LOCK_OFFSET = 1 << 30


class ProjectError(ImgclsError):
    """A project folder cannot be created, opened or changed as asked."""


class ProjectLockedError(ProjectError):
    """Another running imgcls holds the project; open it read-only or close the other window."""


class ProjectNotWritableError(ProjectLockedError):
    """The folder or its files cannot be written (read-only folder, full disk): only read-only use is possible."""


def not_writable_error(folder: Path, reason: str) -> ProjectNotWritableError:
    return ProjectNotWritableError(
        f"{folder}: cannot open the project for writing ({reason}). Open it read-only, or free disk space, "
        "or copy the project folder somewhere you can write."
    )


@dataclass(frozen=True)
class LockOwner:
    pid: int
    host: str
    since: str


class ProjectLock:
    """Held for as long as a project is open for writing; ``release()`` gives it back."""

    def __init__(self, path: Path, fd: int) -> None:
        self.path = path
        self._fd: int | None = fd

    @classmethod
    def acquire(cls, folder: Path) -> "ProjectLock":
        path = Path(folder) / LOCK_FILE
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:
            raise not_writable_error(Path(folder), exc.strerror or str(exc)) from exc
        try:
            if not _try_os_lock(fd):
                raise ProjectLockedError(_locked_message(Path(folder), _read_owner(fd)))
            owner = _read_owner(fd)
            if not _HAS_OS_LOCKS and owner is not None and _held_by_live_process(owner):
                raise ProjectLockedError(_locked_message(Path(folder), owner))
            _write_owner(fd)
        except OSError as exc:  # a full disk: the owner line cannot be written
            os.close(fd)
            raise not_writable_error(Path(folder), exc.strerror or str(exc)) from exc
        except BaseException:
            os.close(fd)
            raise
        return cls(path, fd)

    @property
    def held(self) -> bool:
        return self._fd is not None

    def release(self) -> None:
        """Empty the file (an empty lock file means "free") and drop the OS lock."""
        fd, self._fd = self._fd, None
        if fd is None:
            return
        try:
            os.ftruncate(fd, 0)
            if msvcrt is not None:
                os.lseek(fd, _MSVCRT_LOCK_OFFSET, os.SEEK_SET)
                msvcrt.locking(fd, msvcrt.LK_UNLCK, 1)
        except OSError:
            pass  # closing below releases the lock anyway
        finally:
            os.close(fd)


def read_lock_owner(folder: Path) -> LockOwner | None:
    """Who wrote the lock file last (None when free or unreadable); for messages and tests."""
    try:
        fd = os.open(Path(folder) / LOCK_FILE, os.O_RDONLY)
    except OSError:
        return None
    try:
        return _read_owner(fd)
    finally:
        os.close(fd)


_HAS_OS_LOCKS = fcntl is not None or msvcrt is not None


def _try_os_lock(fd: int) -> bool:
    if fcntl is not None:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            return False
        return True
    if msvcrt is not None:
        try:
            os.lseek(fd, _MSVCRT_LOCK_OFFSET, os.SEEK_SET)
            msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
        except OSError:
            return False
        return True
    return True  # no advisory locks here: the PID check decides


def _write_owner(fd: int) -> None:
    # Written in place, not through temp file + rename: the advisory lock belongs to this inode,
    # and renaming a new file over it would let a second process lock the new one.
    since = datetime.now(timezone.utc).isoformat(timespec="seconds")
    text = f"pid={os.getpid()}\nhost={socket.gethostname()}\nsince={since}\n"
    os.ftruncate(fd, 0)
    os.lseek(fd, 0, os.SEEK_SET)
    os.write(fd, text.encode("utf-8"))
    os.fsync(fd)


def _read_owner(fd: int) -> LockOwner | None:
    try:
        os.lseek(fd, 0, os.SEEK_SET)
        text = os.read(fd, 4096).decode("utf-8", "replace")
    except OSError:
        return None
    fields = dict(line.split("=", 1) for line in text.splitlines() if "=" in line)
    try:
        return LockOwner(int(fields["pid"]), fields.get("host", ""), fields.get("since", ""))
    except (KeyError, ValueError):
        return None


def _held_by_live_process(owner: LockOwner) -> bool:
    if owner.host and owner.host != socket.gethostname():
        return True  # a process on another computer cannot be checked from here: trust the file
    if owner.pid == os.getpid():
        return False  # a leftover of this very process
    return pid_alive(owner.pid)


def pid_alive(pid: int) -> bool:
    """Whether a process with this PID exists (conservatively True where we cannot tell)."""
    if pid <= 0:
        return False
    if os.name == "nt":
        return True  # os.kill(pid, 0) would send CTRL_C_EVENT on Windows
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _locked_message(folder: Path, owner: LockOwner | None) -> str:
    who = f"process {owner.pid} on {owner.host or 'this computer'}" if owner else "another process"
    return (
        f"{folder}: this project is open in another imgcls window ({who}). "
        "Close it there, or open the project read-only."
    )
