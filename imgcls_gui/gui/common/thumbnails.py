"""Thumbnails decoded off the UI thread, kept in a memory LRU and (optionally) in a disk cache.

``get(path)`` answers at once from memory or queues the file and returns None; when a decode
finishes, ``thumbnailReady(path)`` fires on the UI thread. The queue is last-in-first-out and
bounded: while the user scrolls, the images now on screen are decoded first and long-gone
requests are dropped. Disk cache files are JPEGs named by a hash of path, mtime, size and
thumbnail size, so an edited image gets a fresh thumbnail.
"""

from __future__ import annotations

import hashlib
import io
import threading
from collections import OrderedDict
from pathlib import Path

from PIL import Image, ImageOps
from PySide6.QtCore import QObject, QRunnable, QThreadPool, Signal, Slot
from PySide6.QtGui import QGuiApplication, QImage, QPixmap

from ...engine import ImgclsError, atomic_write_bytes, load_image

MAX_PENDING = 1000  # requests beyond this are old (scrolled past) and dropped first


def cache_key(path: Path, size: int) -> str | None:
    try:
        info = path.stat()
    except OSError:
        return None
    return hashlib.sha1(f"{path}|{info.st_mtime_ns}|{info.st_size}|{size}".encode(), usedforsecurity=False).hexdigest()


def decode_thumbnail(path: Path, size: int, cache_dir: Path | None) -> QImage | None:
    """A thumbnail no larger than ``size`` pixels, from the disk cache when possible; None if unreadable."""
    key = cache_key(path, size)
    if key is None:
        return None
    cached = cache_dir / f"{key[:2]}" / f"{key}.jpg" if cache_dir else None
    if cached is not None and cached.is_file():
        image = QImage(str(cached))
        if not image.isNull():
            return image
    try:
        picture = load_image(path, draft_size=size)
    except ImgclsError:
        return None
    if max(picture.size) >= size:
        picture.thumbnail((size, size))
    else:  # tiny images (icons, 32 px digits) are enlarged so the grid is not mostly empty cells
        picture = ImageOps.contain(picture, (size, size), method=Image.Resampling.NEAREST)
    if cached is not None:
        buffer = io.BytesIO()
        picture.save(buffer, format="JPEG", quality=85)
        try:
            cached.parent.mkdir(parents=True, exist_ok=True)
            atomic_write_bytes(cached, buffer.getvalue())
        except (OSError, ImgclsError):
            pass  # a read-only project folder still gets thumbnails, just not cached ones
    data = picture.tobytes()
    return QImage(data, picture.width, picture.height, 3 * picture.width, QImage.Format.Format_RGB888).copy()


def screen_pixel_ratio() -> float:
    """Device pixels per logical pixel of the sharpest screen (2 on a HiDPI display, or QT_SCALE_FACTOR=2)."""
    app = QGuiApplication.instance()
    return max(1.0, float(app.devicePixelRatio())) if app is not None else 1.0


def sharp_pixmap(image: QImage, ratio: float) -> QPixmap:
    """``image`` (decoded at ``ratio`` times the logical size) as a pixmap that HiDPI screens draw 1:1."""
    pixmap = QPixmap.fromImage(image)
    pixmap.setDevicePixelRatio(ratio)
    return pixmap


class _Results(QObject):
    """Lives on the UI thread; its signal, emitted from pool threads, is delivered queued."""

    decoded = Signal(str, object, int)  # path, QImage or None, loader generation


class _DecodeJob(QRunnable):
    def __init__(self, loader: "ThumbnailLoader") -> None:
        super().__init__()
        self._loader = loader

    def run(self) -> None:
        while (item := self._loader._next_request()) is not None:
            path, size, cache_dir, generation = item
            self._loader._results.decoded.emit(str(path), decode_thumbnail(path, size, cache_dir), generation)


class ThumbnailLoader(QObject):
    thumbnailReady = Signal(str)  # the path (as str) whose thumbnail is now available
    idle = Signal()  # the queue ran empty and every running decode finished

    def __init__(self, size: int = 128, cache_dir: Path | None = None, memory_items: int = 1500,
                 threads: int | None = None, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.size = size  # logical pixels; decoded at size * pixel_ratio so a HiDPI screen shows them sharp
        self.pixel_ratio = screen_pixel_ratio()
        self.cache_dir = cache_dir
        self._memory: OrderedDict[str, QPixmap | None] = OrderedDict()
        self._memory_items = memory_items
        self._lock = threading.Lock()
        self._pending: OrderedDict[str, Path] = OrderedDict()
        self._in_flight: set[str] = set()
        self._jobs = 0
        self._generation = 0  # bumped by clear(): results of older requests are ignored
        self._closed = False  # after shutdown(): nothing new is decoded
        self._pool = QThreadPool(self)
        self._pool.setMaxThreadCount(threads or max(1, min(4, QThreadPool.globalInstance().maxThreadCount())))
        self._results = _Results(self)
        self._results.decoded.connect(self._on_decoded)

    def get(self, path: Path) -> QPixmap | None:
        """The cached thumbnail, or None (and a decode is queued). Broken files give a null QPixmap."""
        key = str(path)
        if key in self._memory:
            self._memory.move_to_end(key)
            return self._memory[key] or QPixmap()
        self._request(key, path)
        return None

    def has(self, path: Path) -> bool:
        return str(path) in self._memory

    def is_idle(self) -> bool:
        with self._lock:
            return not self._pending and not self._in_flight

    def clear(self, cache_dir: Path | None = None) -> None:
        """Forget everything (another project opened) and use ``cache_dir`` from now on."""
        with self._lock:
            self._pending.clear()
            self._in_flight.clear()
            self._generation += 1
            self._closed = False  # a project opens (again): decoding resumes
            self.cache_dir = cache_dir
        self._memory.clear()

    def shutdown(self, timeout_ms: int = 30_000) -> bool:
        """Drop the queue, refuse new requests and wait for the running decodes (the window is closing:
        no pool thread may still emit into a loader that is being destroyed). False if they did not end."""
        with self._lock:
            self._closed = True
            self._pending.clear()
        done = self._pool.waitForDone(timeout_ms)
        with self._lock:  # results still on their way to the UI thread are ignored
            self._in_flight.clear()
            self._generation += 1
        return done

    def _request(self, key: str, path: Path) -> None:
        with self._lock:
            if self._closed or key in self._in_flight:
                return
            self._pending[key] = path
            self._pending.move_to_end(key)
            while len(self._pending) > MAX_PENDING:
                self._pending.popitem(last=False)
            start_job = self._jobs < self._pool.maxThreadCount()
            if start_job:
                self._jobs += 1
        if start_job:
            self._pool.start(_DecodeJob(self))

    def _next_request(self) -> tuple[Path, int, Path | None, int] | None:
        """Called from pool threads: the newest request, or None (and the job ends)."""
        with self._lock:
            if not self._pending:
                self._jobs -= 1
                return None
            key, path = self._pending.popitem(last=True)
            self._in_flight.add(key)
            return path, round(self.size * self.pixel_ratio), self.cache_dir, self._generation

    @Slot(str, object, int)
    def _on_decoded(self, key: str, image: QImage | None, generation: int) -> None:
        with self._lock:
            self._in_flight.discard(key)
            idle = not self._pending and not self._in_flight
            stale = generation != self._generation
        if not stale:  # a stale result was decoded for a project that is no longer open
            valid = image is not None and not image.isNull()
            self._memory[key] = sharp_pixmap(image, self.pixel_ratio) if valid else None
            self._memory.move_to_end(key)
            while len(self._memory) > self._memory_items:
                self._memory.popitem(last=False)
            self.thumbnailReady.emit(key)
        if idle:
            self.idle.emit()
