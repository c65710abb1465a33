"""Watching a folder: classify what is there, then each new image once it is completely written
(``imgcls predict --watch`` and the Inference panel's watch mode).

A file counts as complete when its size and modification time have stayed the same for
``settle_s`` seconds (a file already that old when first seen is complete at once), so an image
still being copied in is never read half-written. File-system events come from watchdog
(inotify, FSEvents, ReadDirectoryChangesW); where they are unavailable (watchdog missing, the
watch limit reached) or unreliable (network shares: ``use_events=False``), the folder is scanned
every ``poll_s`` instead. With events, a slow rescan still runs, so an event lost in an overflow
costs a delay, never a file. Qt-free: a ``WatchControl`` stops it from any thread.
"""

from __future__ import annotations

import os
import queue
import threading
import time
from collections.abc import Callable, Collection, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..data.images import is_image_path
from ..errors import DatasetError
from .predict_io import iter_image_paths

if TYPE_CHECKING:
    from .predict import Prediction, Predictor

SETTLE_S = 1.0  # unchanged this long: the writer is done
POLL_S = 0.25  # how often pending files are looked at again (and the folder scanned when polling)
RESCAN_S = 30.0  # with events: a full scan this often catches what an event queue overflow lost


class WatchControl:
    """Stops a watch from another thread (a signal handler, the app's Stop button)."""

    def __init__(self) -> None:
        self._stop = threading.Event()

    def stop(self) -> None:
        self._stop.set()

    @property
    def stopped(self) -> bool:
        return self._stop.is_set()

    def wait(self, seconds: float) -> bool:
        """Sleep up to ``seconds``, waking at once when stopped; True when stopped."""
        return self._stop.wait(seconds)


@dataclass
class _Pending:
    signature: tuple[int, int]  # (size, mtime_ns) when last looked at
    since: float  # monotonic time the signature was first seen


class FolderWatcher:
    """Hands out each image file under ``folder`` once, when it is complete.

    Use as a context manager (events start on enter); call ``ready_files()`` repeatedly. Files in
    ``known`` (absolute paths, e.g. the rows of an earlier run's CSV) and under ``skip`` folders are
    never handed out; hidden files (a copy tool's temporary ``.name.tmp``) neither, until renamed.
    """

    def __init__(self, folder: str | os.PathLike[str], *, recursive: bool = True,
                 skip: Iterable[str | os.PathLike[str]] = (), known: Collection[Path] = (),
                 settle_s: float = SETTLE_S, use_events: bool = True, rescan_s: float = RESCAN_S,
                 poll_s: float = POLL_S) -> None:
        self.folder = Path(os.path.abspath(folder))
        if not self.folder.is_dir():
            raise DatasetError(f"{self.folder}: no such folder to watch; check the path.")
        self.recursive = recursive
        self.skip = [Path(os.path.abspath(s)) for s in skip]
        self.settle_s = settle_s
        self.rescan_s = rescan_s if use_events else poll_s
        self._use_events = use_events
        self._seen: set[Path] = {Path(os.path.abspath(p)) for p in known}
        self._pending: dict[Path, _Pending] = {}
        self._events: queue.SimpleQueue[Path] = queue.SimpleQueue()
        self._observer: Any = None
        self._last_scan = float("-inf")
        self.mode = "polling"  # "events" once watchdog's observer runs
        self.fallback_reason = "" if use_events else "polling was asked for"

    def __enter__(self) -> "FolderWatcher":
        if self._use_events:
            self._start_observer()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        if self._observer is not None:
            self._observer.stop()
            self._observer.join(timeout=5)
            self._observer = None

    @property
    def pending(self) -> int:
        """Files seen but not yet complete."""
        return len(self._pending)

    def ready_files(self) -> list[Path]:
        """Files that became complete since the last call, in name order; each is returned once."""
        now = time.monotonic()
        if now - self._last_scan >= self.rescan_s:
            self._last_scan = now
            self._add_candidates(self._scan())
        self._add_candidates(self._expand(self._drain_events()))
        ready: list[Path] = []
        wall = time.time()
        for path, pending in list(self._pending.items()):
            try:
                stat = os.stat(path)
            except OSError:  # gone again (a temporary file) or unreadable: forget it; a rescan finds it if it returns
                del self._pending[path]
                continue
            signature = (stat.st_size, stat.st_mtime_ns)
            if signature != pending.signature:
                self._pending[path] = _Pending(signature, now)
                continue
            settled = now - pending.since >= self.settle_s or wall - stat.st_mtime >= self.settle_s
            if settled and stat.st_size > 0:
                del self._pending[path]
                self._seen.add(path)
                ready.append(path)
        return sorted(ready)

    # -- finding candidates ----------------------------------------------------------------------

    def _add_candidates(self, paths: Iterable[Path]) -> None:
        now = time.monotonic()
        for path in paths:
            if path in self._seen or path in self._pending or not self._wanted(path):
                continue
            try:
                stat = os.stat(path)
            except OSError:
                continue
            # ready_files passes a file whose mtime is older than settle_s at once: the files already there
            self._pending[path] = _Pending((stat.st_size, stat.st_mtime_ns), now)

    def _wanted(self, path: Path) -> bool:
        try:
            relative = path.relative_to(self.folder)
        except ValueError:
            return False
        if any(part.startswith(".") for part in relative.parts) or not is_image_path(path.name):
            return False
        if not self.recursive and len(relative.parts) > 1:
            return False
        return not any(path == s or s in path.parents for s in self.skip)

    def _scan(self) -> list[Path]:
        try:
            found = iter_image_paths([self.folder], recursive=self.recursive, skip=self.skip)
        except (OSError, DatasetError):  # the folder went away for a moment (a share reconnecting)
            return []
        return [Path(os.path.abspath(p)) for p in found]

    def _drain_events(self) -> list[Path]:
        paths: list[Path] = []
        while True:
            try:
                paths.append(self._events.get_nowait())
            except queue.Empty:
                return paths

    def _start_observer(self) -> None:
        try:
            from watchdog.events import FileSystemEventHandler
            from watchdog.observers import Observer
        except ImportError as exc:
            self.fallback_reason = f"watchdog is not installed ({exc})"
            return
        events = self._events

        class Handler(FileSystemEventHandler):
            def on_any_event(self, event: Any) -> None:  # runs on watchdog's thread: only queue the path
                if event.is_directory:
                    if event.event_type in ("created", "moved"):  # a folder moved in brings its files unannounced
                        events.put(Path(os.fsdecode(getattr(event, "dest_path", "") or event.src_path)))
                    return
                for raw in (getattr(event, "dest_path", ""), event.src_path):
                    if raw and event.event_type != "deleted":
                        events.put(Path(os.fsdecode(raw)))

        observer = Observer()
        try:
            observer.schedule(Handler(), str(self.folder), recursive=self.recursive)
            observer.start()
        except (OSError, RuntimeError) as exc:  # e.g. inotify's watch limit reached
            self.fallback_reason = f"file-system events unavailable ({exc})"
            return
        self._observer = observer
        self.mode = "events"

    def _expand(self, paths: list[Path]) -> list[Path]:
        """Queued folders (created or moved in) stand for the images inside them."""
        out: list[Path] = []
        for path in paths:
            if path.is_dir():
                try:
                    out += [Path(os.path.abspath(p)) for p in iter_image_paths([path], recursive=self.recursive, skip=self.skip)]
                except (OSError, DatasetError):
                    continue
            else:
                out.append(path)
        return out


@dataclass(frozen=True)
class WatchSummary:
    predicted: int  # files classified (rows reported), unreadable ones included
    unreadable: int
    mode: str  # "events" | "polling"
    fallback_reason: str  # why polling was used ("" with events)


def watch_and_predict(
    predictor: "Predictor",
    folder: str | os.PathLike[str],
    on_batch: Callable[[Sequence["Prediction"]], None],
    control: WatchControl,
    *,
    known: Collection[Path] = (),
    batch_size: int = 32,
    top_k: int = 3,
    threshold: float | None = None,
    recursive: bool = True,
    skip: Iterable[str | os.PathLike[str]] = (),
    settle_s: float = SETTLE_S,
    poll_s: float = POLL_S,
    use_events: bool = True,
    on_start: Callable[[FolderWatcher], None] | None = None,
) -> WatchSummary:
    """Classify the images in ``folder`` not in ``known``, then each new one when complete, until
    ``control.stop()``. ``on_batch`` gets each batch of predictions as it is made (write it out
    there); a stop is seen between batches, so a batch is never half reported."""
    predicted = unreadable = 0
    with FolderWatcher(folder, recursive=recursive, skip=skip, known=known, settle_s=settle_s,
                       use_events=use_events, poll_s=poll_s) as watcher:
        if on_start is not None:
            on_start(watcher)
        while not control.stopped:
            ready = watcher.ready_files()
            for batch in predictor.iter_predict(ready, batch_size=batch_size, top_k=top_k, threshold=threshold):
                on_batch(batch)
                predicted += len(batch)
                unreadable += sum(1 for p in batch if p.error)
                if control.stopped:
                    break
            if not ready or watcher.pending:
                control.wait(poll_s)
        return WatchSummary(predicted, unreadable, watcher.mode, watcher.fallback_reason)
