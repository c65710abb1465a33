"""`imgcls predict --watch`: rows appended as files arrive, Ctrl+C stops cleanly, a restart adds only new files."""

from __future__ import annotations

import csv
import os
import shutil
import signal
import threading
import time
from pathlib import Path

import pytest

from imgcls_gui.cli import main

from .engine.export_fixtures import save_run, write_photos


def _rows(path: Path) -> list[dict[str, str]]:
    return list(csv.DictReader(path.open(encoding="utf-8", newline=""))) if path.is_file() else []


def _interrupt_when(condition, timeout: float = 60.0) -> threading.Thread:
    """Press Ctrl+C (SIGINT to this process, handled on the main thread) once ``condition()`` holds."""
    def press() -> None:
        deadline = time.monotonic() + timeout
        while not condition() and time.monotonic() < deadline:
            time.sleep(0.05)
        os.kill(os.getpid(), signal.SIGINT)

    thread = threading.Thread(target=press, daemon=True)
    thread.start()
    return thread


def test_watch_appends_rows_sorts_stops_on_ctrl_c_and_resumes(tmp_path, capsys):
    run = save_run(tmp_path / "run", backbone="mobilenet_v3_small")
    inbox, out, sorted_dir = tmp_path / "inbox", tmp_path / "results.csv", tmp_path / "inbox" / "sorted"
    write_photos(inbox, 3, seed=1)
    argv = ["predict", str(run), str(inbox), "--watch", "--out", str(out), "--top-k", "2", "--settle", "0.2",
            "--sort-into", str(sorted_dir)]

    def arrive_then_stop() -> bool:
        if len(_rows(out)) == 3 and not (inbox / "late.jpg").exists():
            shutil.copy(inbox / "img_000.jpg", inbox / "late.jpg")  # arrives while watching
        return len(_rows(out)) == 4

    presser = _interrupt_when(arrive_then_stop)
    assert main(argv) == 0
    presser.join()
    err = capsys.readouterr().err
    assert "Ctrl+C stops" in err and "stopped watching; 4 images classified" in err
    raw = out.read_bytes()
    assert raw.count(b"\r\n") == 5 and raw.endswith(b"\r\n")  # CRLF rows, none cut short by the stop
    first = _rows(out)
    assert [Path(r["path"]).name for r in first][-1] == "late.jpg" and list(first[0])[:4] == ["path", "label", "score", "top1_label"]
    assert sum(1 for _ in sorted_dir.rglob("*.jpg")) == 4  # sorted copies are not read back in

    write_photos(inbox / "new", 2, seed=5)
    presser = _interrupt_when(lambda: len(_rows(out)) >= 6)
    assert main(argv) == 0
    presser.join()
    assert "4 files already in" in capsys.readouterr().err
    rows = _rows(out)
    assert len(rows) == 6 and len({r["path"] for r in rows}) == 6 and rows[:4] == first


@pytest.mark.parametrize(("extra", "message"), [
    (["--out", "{tmp}/r.json"], "give --out FILE.csv"),
    (["{tmp}/inbox", "--out", "{tmp}/r.csv"], "one folder to watch"),
    (["--out", "{tmp}/r.csv", "--poll", "0"], "--poll more than 0"),
])
def test_watch_mistakes_exit_2_with_one_line(tmp_path, capsys, extra, message):
    (tmp_path / "inbox").mkdir()
    argv = ["predict", str(tmp_path / "m.onnx"), str(tmp_path / "inbox"), *extra, "--watch"]
    assert main([a.format(tmp=tmp_path) for a in argv]) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and len(err.splitlines()) == 1


def test_poll_without_watch_is_refused(tmp_path, capsys):
    (tmp_path / "inbox").mkdir()
    assert main(["predict", "m.onnx", str(tmp_path / "inbox"), "--out", "r.csv", "--poll", "2"]) == 2
    assert "only apply with --watch" in capsys.readouterr().err
