"""Thumbnails: decoded off the UI thread, cached on disk by path+mtime, broken files marked, LRU bounded."""

from __future__ import annotations

import os
import threading
from pathlib import Path

from PySide6.QtGui import QImage

from imgcls_gui.gui.common import thumbnails
from imgcls_gui.gui.common.thumbnails import ThumbnailLoader, cache_key, decode_thumbnail

from ..conftest import write_png


def test_decode_writes_the_disk_cache_and_reads_it_back(tmp_path: Path, monkeypatch):
    photo = write_png(tmp_path / "a.png", 1, size=(300, 200))
    image = decode_thumbnail(photo, 64, tmp_path / "cache")
    assert (image.width(), image.height()) == (64, 43)
    cached = list((tmp_path / "cache").rglob("*.jpg"))
    assert len(cached) == 1 and cached[0].stem == cache_key(photo, 64)
    monkeypatch.setattr(thumbnails, "load_image", lambda *a, **k: (_ for _ in ()).throw(AssertionError("decoded")))
    again = decode_thumbnail(photo, 64, tmp_path / "cache")  # from the cache: no decode
    assert (again.width(), again.height()) == (64, 43)


def test_an_edited_file_gets_a_new_cache_key(tmp_path: Path):
    photo = write_png(tmp_path / "a.png", 1)
    before = cache_key(photo, 64)
    write_png(photo, 2, size=(50, 50))
    os.utime(photo, ns=(1, 10**18))
    assert cache_key(photo, 64) != before
    assert cache_key(tmp_path / "gone.png", 64) is None


def test_unreadable_files_give_no_image(tmp_path: Path):
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(b"\xff\xd8 not really a jpeg")
    assert decode_thumbnail(broken, 64, tmp_path / "cache") is None
    assert decode_thumbnail(tmp_path / "missing.jpg", 64, None) is None


def test_loader_decodes_in_pool_threads_and_reports_on_the_ui_thread(qtbot, tmp_path: Path, monkeypatch):
    decode_threads: set[str] = set()
    real_decode = thumbnails.decode_thumbnail

    def spying_decode(path, size, cache_dir):
        decode_threads.add(threading.current_thread().name)
        return real_decode(path, size, cache_dir)

    monkeypatch.setattr(thumbnails, "decode_thumbnail", spying_decode)
    photos = [write_png(tmp_path / f"{i}.png", i) for i in range(6)]
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"junk")
    loader = ThumbnailLoader(size=32, cache_dir=tmp_path / "cache")
    ready: list[str] = []
    loader.thumbnailReady.connect(ready.append)  # a plain callable is fine here: emitted on the UI thread
    assert all(loader.get(p) is None for p in [*photos, broken])  # nothing yet: queued
    qtbot.waitUntil(lambda: len(ready) == 7, timeout=10_000)
    assert threading.main_thread().name not in decode_threads
    assert loader.is_idle()
    assert loader.get(broken).isNull()  # broken: a null pixmap, not None (None means "loading")
    assert not loader.get(photos[-1]).isNull()
    assert len(list((tmp_path / "cache").rglob("*.jpg"))) == 6
    loader.shutdown()


def test_memory_cache_keeps_the_most_recently_used(qtbot, tmp_path: Path):
    loader = ThumbnailLoader(size=32, memory_items=2)
    paths = [tmp_path / f"{i}.png" for i in range(3)]
    for path in paths[:2]:
        loader._on_decoded(str(path), QImage(8, 8, QImage.Format.Format_RGB888), loader._generation)
    assert loader.get(paths[0]) is not None  # touched: now the most recent
    loader._on_decoded(str(paths[2]), QImage(8, 8, QImage.Format.Format_RGB888), loader._generation)
    assert loader.has(paths[0]) and loader.has(paths[2]) and not loader.has(paths[1])
    loader.shutdown()


def test_clear_drops_pending_results_of_the_old_project(qtbot, tmp_path: Path):
    photo = write_png(tmp_path / "a.png", 1)
    loader = ThumbnailLoader(size=32, cache_dir=None)
    loader._on_decoded(str(photo), QImage(8, 8, QImage.Format.Format_RGB888), loader._generation)
    assert loader.has(photo)
    old_generation = loader._generation
    loader.clear(tmp_path / "other-cache")
    loader._on_decoded(str(photo), QImage(8, 8, QImage.Format.Format_RGB888), old_generation)
    assert not loader.has(photo) and loader.cache_dir == tmp_path / "other-cache"


def test_shutdown_waits_for_running_decodes_and_refuses_new_ones_until_a_project_opens(qtbot, tmp_path: Path,
                                                                                      monkeypatch):
    started, release = threading.Event(), threading.Event()
    finished: list[Path] = []
    real_decode = thumbnails.decode_thumbnail

    def slow_decode(path, size, cache_dir):
        started.set()
        release.wait(10)
        image = real_decode(path, size, cache_dir)
        finished.append(path)
        return image

    monkeypatch.setattr(thumbnails, "decode_thumbnail", slow_decode)
    photos = [write_png(tmp_path / f"{i}.png", i) for i in range(3)]
    loader = ThumbnailLoader(size=32, threads=1)
    loader.get(photos[0])
    assert started.wait(10)
    threading.Timer(0.3, release.set).start()
    assert loader.shutdown()  # returns only once the running decode has finished
    assert finished == [photos[0]]
    assert loader.get(photos[1]) is None and loader.is_idle()  # refused: nothing queued
    loader.clear(None)  # a project opens: decoding resumes
    with qtbot.waitSignal(loader.thumbnailReady, timeout=10_000):
        loader.get(photos[2])
    assert loader.shutdown()
