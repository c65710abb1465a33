"""Watching a folder: files written slowly are classified once and only when complete, a restart
skips what the CSV has, many files dropped at once are all classified, with events and by polling."""

from __future__ import annotations

import csv
import io
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from imgcls_gui.engine import Predictor, WatchControl, append_csv, predicted_paths, watch_and_predict
from imgcls_gui.engine.deploy.watch import FolderWatcher

from .export_fixtures import save_run

SETTLE_S = 0.3
WAIT_S = 60


@pytest.fixture(scope="module")
def predictor(tmp_path_factory) -> Predictor:
    run = save_run(tmp_path_factory.mktemp("watch") / "run", backbone="mobilenet_v3_small")
    return Predictor.load(run)


def png_bytes(seed: int, size: int = 48) -> bytes:
    pixels = np.random.default_rng(seed).integers(0, 256, (size, size, 3), dtype=np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG")
    return buffer.getvalue()


class Watch:
    """watch_and_predict in a thread, collecting what it reports (with the time each batch came)."""

    def __init__(self, predictor: Predictor, folder: Path, **options) -> None:
        self.control = WatchControl()
        self.reported: list[tuple[float, object]] = []
        self.summary = None
        options.setdefault("settle_s", SETTLE_S)
        options.setdefault("poll_s", 0.05)
        self._thread = threading.Thread(target=self._run, args=(predictor, folder, options), daemon=True)
        self.error: BaseException | None = None

    def _run(self, predictor, folder, options) -> None:
        try:
            self.summary = watch_and_predict(predictor, folder, self._batch, self.control, **options)
        except BaseException as exc:  # noqa: BLE001 - surfaced by the test
            self.error = exc

    def _batch(self, batch) -> None:
        now = time.monotonic()
        self.reported += [(now, p) for p in batch]

    def paths(self) -> list[Path]:
        return [p.path for _, p in self.reported]

    def wait_for(self, count: int) -> None:
        deadline = time.monotonic() + WAIT_S
        while len(self.reported) < count and self.error is None and time.monotonic() < deadline:
            time.sleep(0.02)
        assert self.error is None, self.error

    def __enter__(self) -> "Watch":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.control.stop()
        self._thread.join(WAIT_S)
        assert not self._thread.is_alive()


@pytest.mark.parametrize("use_events", [True, False], ids=["events", "polling"])
def test_a_file_written_in_chunks_is_classified_once_and_only_when_complete(predictor, tmp_path, use_events):
    folder = tmp_path / "inbox"
    folder.mkdir()
    (folder / "already.png").write_bytes(png_bytes(0))
    data = png_bytes(1, size=64)
    with Watch(predictor, folder, use_events=use_events) as watch:
        watch.wait_for(1)  # the file that was there comes first, without waiting for anything new
        slow = folder / "slow.png"
        with slow.open("wb") as handle:
            for start in range(0, len(data), len(data) // 4 + 1):
                handle.write(data[start:start + len(data) // 4 + 1])
                handle.flush()
                time.sleep(SETTLE_S * 0.6)  # pauses shorter than the settle time: still being written
        written = time.monotonic()
        watch.wait_for(2)
        time.sleep(SETTLE_S * 2)  # time for a wrong second report to arrive
    assert watch.paths() == [folder / "already.png", slow]
    when, prediction = watch.reported[1]
    assert when >= written and not prediction.error
    assert prediction.label == predictor.predict([slow])[0].label
    assert watch.summary.mode == ("events" if use_events else "polling")


def test_a_restart_skips_the_files_already_in_the_csv(predictor, tmp_path):
    folder, out = tmp_path / "inbox", tmp_path / "results.csv"
    for i in range(3):
        (folder / "sub").mkdir(parents=True, exist_ok=True)
        (folder / ("sub" if i else "") / f"{i}.png").write_bytes(png_bytes(i))
    with Watch(predictor, folder) as first:
        first.wait_for(3)
    append_csv([p for _, p in first.reported], out, top_k=2)
    with out.open("ab") as handle:
        handle.write(b"/cut/short/by/a/cra")  # a crash in the middle of a row
    (folder / "3.png").write_bytes(png_bytes(3))
    with Watch(predictor, folder, known=predicted_paths(out)) as second:
        second.wait_for(1)
        time.sleep(SETTLE_S * 2)
    assert second.paths() == [folder / "3.png"]
    append_csv([p for _, p in second.reported], out, top_k=2)
    raw = out.read_bytes()
    assert raw.count(b"\r\n") == 5 and raw.endswith(b"\r\n") and b"cut/short" not in raw
    rows = list(csv.DictReader(io.StringIO(raw.decode())))
    assert sorted(r["path"] for r in rows) == sorted(str(p) for p in [*first.paths(), folder / "3.png"])
    assert predicted_paths(out) == {*first.paths(), folder / "3.png"}


def test_appending_with_other_columns_is_refused(predictor, tmp_path):
    out = tmp_path / "r.csv"
    prediction = predictor.predict([_one_png(tmp_path)], top_k=2)
    append_csv(prediction, out, top_k=2)
    with pytest.raises(Exception, match="same --top-k"):
        append_csv(prediction, out, top_k=1)


def _one_png(tmp_path: Path) -> Path:
    path = tmp_path / "one.png"
    path.write_bytes(png_bytes(9))
    return path


def test_many_files_dropped_at_once_are_all_classified_once(predictor, tmp_path):
    folder, staging = tmp_path / "inbox", tmp_path / "staging"
    folder.mkdir()
    staging.mkdir()
    names = [f"{i:04d}.png" for i in range(200)]
    for i, name in enumerate(names):
        (staging / name).write_bytes(png_bytes(i, size=32))
    with Watch(predictor, folder, batch_size=64) as watch:
        time.sleep(0.3)  # watching
        for name in names:
            (staging / name).rename(folder / name)
        watch.wait_for(len(names))
        time.sleep(SETTLE_S * 2)
    assert sorted(watch.paths()) == [folder / name for name in names]
    assert not any(p.error for _, p in watch.reported)


def test_hidden_temporary_files_count_once_renamed_and_sort_folders_are_skipped(tmp_path):
    folder = tmp_path / "inbox"
    (folder / "sorted" / "cat").mkdir(parents=True)
    (folder / "sorted" / "cat" / "done.png").write_bytes(png_bytes(0))
    (folder / ".copy.png.tmp").write_bytes(png_bytes(1))
    (folder / "notes.txt").write_text("not an image")
    with FolderWatcher(folder, skip=[folder / "sorted"], settle_s=0.0, use_events=False, poll_s=0.0) as watcher:
        assert watcher.ready_files() == []
        (folder / ".copy.png.tmp").rename(folder / "copy.png")
        assert watcher.ready_files() == [folder / "copy.png"]
        assert watcher.ready_files() == []
