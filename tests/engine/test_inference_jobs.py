"""The Inference panel's model in a real child process (engine/deploy/inference_jobs.py): it is loaded and
described there, a watched folder is predicted there until Stop (which ends the job promptly and leaves the
child ready for the next job), other work meanwhile gets another child, and a frame's prediction and Grad-CAM
come back equal to the engine's in-process ones."""

from __future__ import annotations

import os
import shutil
import threading
import time

import numpy as np
import pytest

from imgcls_gui.engine import (JobControl, ModelDescription, Predictor, acquire_child, describe_in_child,
                               frame_in_child, heatmap_image, release_child, watch_in_child)
from imgcls_gui.engine import events as ev
from imgcls_gui.engine.evaluation.explain import Explainer

from .export_fixtures import save_run, write_photos

WAIT_S = 90


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    return save_run(tmp_path_factory.mktemp("infer") / "run", backbone="mobilenet_v3_small")


def _until(condition, what: str) -> None:
    deadline = time.monotonic() + WAIT_S
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.02)


def test_a_watch_runs_in_the_child_until_stop_and_the_child_serves_the_next_job(run, tmp_path):
    inbox = tmp_path / "inbox"
    photos = write_photos(inbox, 2)
    child = acquire_child()
    events: list[object] = []
    control, outcome = JobControl(), {}
    try:
        model = describe_in_child(child, run, False, events.append, JobControl())
        assert isinstance(model, ModelDescription) and model.kind == "checkpoint" and model.pid == child.pid != os.getpid()
        assert model.classes == Predictor.load(run).classes

        def watch() -> None:
            try:
                outcome["predicted"] = watch_in_child(child, model, inbox, 2, 4, events.append, control)
            except BaseException as exc:  # noqa: BLE001 - surfaced below
                outcome["error"] = exc

        thread = threading.Thread(target=watch, daemon=True)
        thread.start()
        rows = lambda: [p for batch in events if isinstance(batch, tuple) for p in batch]  # noqa: E731
        _until(lambda: len(rows()) == 2 or "error" in outcome, "the folder's images")
        started = [e for e in events if isinstance(e, ev.WatchStarted)]
        assert len(started) == 1 and started[0].pid == child.pid and started[0].folder == inbox
        shutil.copy(photos[0], inbox / "arrived.jpg")  # an old mtime: complete at once
        _until(lambda: len(rows()) == 3 or "error" in outcome, "the new image")

        other = acquire_child()  # a run started meanwhile gets another process, which works
        try:
            assert other is not child and other.probe_device().description
        finally:
            release_child(other)

        stop_asked = time.monotonic()
        control.request_stop(10.0)
        thread.join(WAIT_S)
        assert not thread.is_alive() and "error" not in outcome, outcome.get("error")
        assert time.monotonic() - stop_asked < 3  # handed to the watch at once, not ended at the grace's end
        assert outcome["predicted"] == 3 and child.alive  # stopped, not ended
        expected = {p.path: p for p in Predictor.load(run).predict([*photos, inbox / "arrived.jpg"], top_k=2)}
        for prediction in rows():
            assert prediction.label == expected[prediction.path].label
            assert prediction.score == pytest.approx(expected[prediction.path].score, abs=1e-5)

        pixels = np.random.default_rng(0).integers(0, 256, (60, 80, 3), dtype=np.uint8)
        frame = frame_in_child(child, model, pixels, 2, 0, events.append, JobControl())  # the same child, reused
        assert frame.pid == child.pid and frame.heatmap is None
    finally:
        release_child(child)


def test_a_frame_and_its_grad_cam_come_back_as_the_engine_computes_them(run):
    pixels = np.random.default_rng(1).integers(0, 256, (60, 80, 3), dtype=np.uint8)
    child = acquire_child()
    try:
        model = describe_in_child(child, run, False, lambda event: None, JobControl())
        frame = frame_in_child(child, model, pixels, 2, 160, lambda event: None, JobControl())
    finally:
        release_child(child)
    assert frame.pid not in (0, os.getpid())
    here = Predictor.load(run).predict_pixels(pixels, top_k=2)
    assert frame.prediction.label == here.label and frame.prediction.score == pytest.approx(here.score, abs=1e-5)
    explained = Explainer.load(run).explain_pixels(pixels, labels=[here.top_k[0][0]], max_side=160)[0]
    expected = np.asarray(heatmap_image(explained.heatmap), dtype=int)
    assert frame.heatmap.dtype == np.uint8 and frame.heatmap.shape == expected.shape
    assert np.abs(frame.heatmap.astype(int) - expected).mean() < 2
