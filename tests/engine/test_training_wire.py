"""What crosses between the app and its training child (engine/training/wire.py): every event, the dataset
and errors come back as the objects they were, and an exit code is told in words. No process is started here;
tests/gui/test_training_child.py runs the real child."""

from __future__ import annotations

import json
import signal
from pathlib import Path

import numpy as np
import pytest

from imgcls_gui.engine import events as ev
from imgcls_gui.engine import exit_cause
from imgcls_gui.engine.data.samples import LabeledDataset, Problem, Sample
from imgcls_gui.engine.errors import DatasetError, ImgclsError, NotEnoughMemoryError
from imgcls_gui.engine.training import wire

EVENTS = [
    ev.FitStart(3, 1, 10, 4, 3, "cpu", ("ants", "bees"), "multiclass"),
    ev.EpochStart(0, 3, "head"),
    ev.BatchEnd(0, 2, 3, 0.5, 1e-3, 12.5, 7),
    ev.EpochEnd(1, 3, {"train_loss": 0.4, "val_loss": float("nan")}, True),
    ev.CheckpointSaved("/r/last.pt", 1, "last"),
    ev.LogLine("paused", "debug"),
    ev.LrFindStep(1, 100, 1e-4, 2.0, 2.1),
    ev.FitEnd(True, 2, 1, {"accuracy": 0.75}, "/r"),
    ev.SearchStart(8, 2, "accuracy", "maximize", ("optim.lr",), "/s"),
    ev.TrialStart(3, 8, {"optim.lr": 0.01}, "/s/t3"),
    ev.TrialEnd(3, "pruned", {"optim.lr": 0.01}, None, 1.5, 1, "/s/t3", 2, 0.9, {"optim.lr": 1.0}),
    ev.SearchEnd(False, 8, 2, 0.9, {}, "/s"),
    # A resumed search's start carries the trials done before it: they come back as TrialEnds, not dicts.
    ev.SearchStart(8, 1, "val_loss", "minimize", ("optim.lr", "model.hidden_size"), "/s",
                   (ev.TrialEnd(0, "complete", {"optim.lr": 0.01, "model.hidden_size": 8}, 0.5, 2.0, 1, "/s/t0", 0, 0.5),)),
    ev.JobItems(({"path": "/a.png", "top": [["cat", 0.9]]},)),
    ev.WatchStarted(Path("/inbox"), "polling", "file-system events unavailable (inotify limit)", 4242),
]


@pytest.mark.parametrize("event", EVENTS, ids=lambda e: type(e).__name__)
def test_every_event_comes_back_as_the_same_dataclass(event):
    back = wire.event_from(wire.decode(wire.encode(wire.event_message(event))))
    assert type(back) is type(event)
    assert repr(back) == repr(event)  # repr: NaN != NaN, but prints alike


def test_a_dataset_comes_back_whole():
    dataset = LabeledDataset(Path("/p"), "project", [Sample(Path("/p/a.png"), ("cat",), "train", "ab12"),
                                                      Sample(Path("/p/b.png"))],
                             ["cat", "dog"], "multiclass", [Problem("/p/c.png", "truncated", "truncated")])
    assert wire.dataset_from_dict(json.loads(json.dumps(wire.dataset_to_dict(dataset)))) == dataset


def test_an_engine_error_keeps_its_class_and_attributes_and_others_are_worded_as_unexpected():
    error = NotEnoughMemoryError("out of memory on cuda:0; try a batch size of 8", 8)
    back = wire.error_from(wire.decode(wire.encode(wire.error_message(error, "Traceback ..."))))
    assert type(back) is NotEnoughMemoryError and str(back) == str(error) and back.suggested_batch_size == 8
    assert back.child_traceback == "Traceback ..."
    assert type(wire.error_from(wire.error_message(DatasetError("no images"), ""))) is DatasetError
    other = wire.error_from(wire.error_message(RuntimeError("bad op"), "tb"))
    assert isinstance(other, ImgclsError) and str(other) == "Unexpected error: RuntimeError: bad op"


def test_a_message_that_is_not_one_is_refused():
    with pytest.raises(ValueError):
        wire.decode(b"[1, 2]")


def test_exit_causes_name_the_signal_and_what_it_usually_means():
    assert exit_cause(-signal.SIGSEGV).startswith("signal SIGSEGV (a crash in native code")
    assert "memory" in exit_cause(-signal.SIGKILL)
    assert exit_cause(3) == "exit code 3" and exit_cause(None) == "it stopped answering"


ORPHAN = """
import sys, time
from imgcls_gui.engine.training.child_process import TrainingChild
if __name__ == "__main__":
    child = TrainingChild()
    print(child.pid, flush=True)
    time.sleep(120)
"""


def _running(pid: int) -> bool:
    """Alive and not a zombie (an orphan's zombie waits for init, which may be slow in a container)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return False
    return state != "Z"


@pytest.mark.skipif(not Path("/proc/self/stat").is_file(), reason="needs Linux's /proc to watch the process")
def test_the_child_ends_when_the_app_is_killed(tmp_path):
    """The app killed with SIGKILL cannot ask its child to quit: the child sees its pipe close and exits."""
    import subprocess
    import sys
    import time

    script = tmp_path / "app.py"
    script.write_text(ORPHAN)
    app = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, text=True)
    try:
        pid = int(app.stdout.readline())
        assert _running(pid)
    finally:
        app.kill()
        app.wait(30)
    deadline = time.monotonic() + 60
    while _running(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _running(pid)


def test_a_result_dataclass_comes_back_from_its_fields_nested_tuples_paths_and_nones_included():
    from imgcls_gui.engine.evaluation.results import Curve, RunResults, SampleResult
    from imgcls_gui.engine.training.trainer import FitResult

    results = RunResults(Path("/r"), "val", "multiclass", ("a", "b"), 0.5, {"accuracy": 0.75},
                         {"a": {"f1": 0.5}}, ((1, 0), (2, 3)), None,
                         (SampleResult(0, Path("/r/x.png"), ("a",), ("b",), (0.25, 0.75), 1.2),),
                         (Curve("a", (0.0, 1.0), (0.0, 1.0), float("nan")),))
    fit = FitResult(Path("/r"), False, 2, 1, {"accuracy": 0.5}, [{"loss": 0.1}])
    for value in (results, fit):
        back = wire.from_plain(type(value), wire.decode(wire.encode({"type": "result", "value": wire.to_plain(value)}))["value"])
        assert repr(back) == repr(value)


def test_an_error_of_a_stage_comes_back_as_its_own_class_with_its_plain_attributes():
    from imgcls_gui.engine.deploy.quantize import QuantizationRefusedError

    back = wire.error_from(wire.decode(wire.encode(wire.error_message(ValueError("x"), ""))))
    assert str(back) == "Unexpected error: ValueError: x"
    error = QuantizationRefusedError.__new__(QuantizationRefusedError)
    Exception.__init__(error, "too few agree")
    error.agreement = 0.5
    back = wire.error_from(wire.error_message(error, ""))
    assert type(back) is QuantizationRefusedError and back.agreement == 0.5


def test_an_engine_dataclass_an_error_carries_comes_back_as_itself():
    from imgcls_gui.engine.deploy.quantize import QuantizationRefusedError, QuantizationReport

    report = QuantizationReport(Path("/x/m.onnx"), 0.625, 8, "accuracy", 0.75, 0.5, 1.5, 0.5, 4, 0.9, 1e-6,
                                100, 400, 2.0)
    error = QuantizationRefusedError("only 62.5% agree", report)
    back = wire.error_from(wire.decode(wire.encode(wire.error_message(error, "tb"))))
    assert type(back) is QuantizationRefusedError and str(back) == "only 62.5% agree"
    assert back.report == report and back.child_traceback == "tb"  # what the Export dialog words its refusal from


@pytest.mark.parametrize("array", [
    np.arange(12, dtype=np.float32).reshape(3, 4) / 7,
    np.array([[0.25, float("nan")], [1.0, -2.5]]),  # float64 with a NaN
    np.array([True, False, True]),
    np.arange(6, dtype=">i4").reshape(2, 1, 3),  # big-endian: the byte order travels with the dtype
    np.zeros((0, 5), dtype=np.float32),
], ids=["float32", "float64-nan", "bool", "big-endian-int", "empty"])
@pytest.mark.parametrize("encode", [wire.encode, wire.encode_line], ids=["frame", "line"])
def test_an_array_comes_back_with_its_dtype_shape_and_values(array, encode):
    message = wire.decode(encode({"type": "result", "value": wire.array_to_plain(array)}))
    back = wire.array_from_plain(message["value"])
    assert back.dtype == array.dtype and back.shape == array.shape
    np.testing.assert_array_equal(back, array)
    assert back.flags.writeable  # a copy, not a read-only view of the message's bytes


def test_raw_bytes_cross_after_the_json_text_and_a_line_stays_one_line():
    pixels = np.arange(480 * 640 * 3, dtype=np.uint32).astype(np.uint8).reshape(480, 640, 3)  # a camera frame
    png = bytes(range(256)) * 4  # every byte value, newlines and NULs included
    message = {"type": "event", "items": [{"pixels": wire.to_plain(pixels), "png": wire.to_plain(png),
                                           "name": "a \"quoted\" name"}]}
    frame = wire.encode(message)
    assert frame.startswith(wire.FRAME_MAGIC) and len(frame) < pixels.nbytes + len(png) + 1_000  # not base64 text
    line = wire.encode_line(message)
    assert b"\n" not in line
    for data in (frame, line):
        item = wire.decode(data)["items"][0]
        np.testing.assert_array_equal(wire.array_from_plain(item["pixels"]), pixels)
        assert wire._typed(bytes, item["png"]) == png and item["name"] == 'a "quoted" name'
    with pytest.raises(ValueError):
        wire.decode(frame[:-10])  # cut short
    assert wire.decode(wire.encode({"type": "ready", "pid": 7})) == {"type": "ready", "pid": 7}  # no bytes: JSON


def test_an_array_of_python_objects_is_refused_both_ways():
    with pytest.raises(TypeError):
        wire.array_to_plain(np.array([object(), None], dtype=object))
    with pytest.raises(ValueError):
        wire.array_from_plain({"dtype": "|O", "shape": [1], "data": b""})


def crossed(value: object) -> object:
    """``value``'s plain fields after a trip through the child's pipe."""
    return wire.decode(wire.encode({"type": "result", "value": wire.to_plain(value)}))["value"]


def test_a_diagnosis_and_an_explained_image_come_back_whole_with_their_arrays_and_bytes():
    from imgcls_gui.engine.deploy.explain_jobs import ExplainedImage
    from imgcls_gui.engine.diagnosis.diagnose import Diagnosis, Issue
    from imgcls_gui.engine.diagnosis.jobs import MapData

    diagnosis = Diagnosis([Issue(Path("/p/a.png"), "label", ("cat",), ("dog",), 0.75),
                           Issue(Path("/p/b.png"), "duplicate", (), (), 0.99, Path("/p/a.png"))],
                          "multiclass", ["cat", "dog"], [Path("/p/a.png"), Path("/p/b.png")], [0],
                          np.array([[0.1, 0.9]]), np.array([0.1]), np.array([True]), "resnet18", 5,
                          {"features": 1.5}, 2, {"duplicate_cosine_distance": 0.01})
    back = wire.from_plain(Diagnosis, crossed(diagnosis))
    assert back.issues == diagnosis.issues and back.paths == diagnosis.paths and back.seconds == diagnosis.seconds
    assert back.flagged.dtype == bool and back.label_quality.tolist() == [0.1]
    np.testing.assert_array_equal(back.probabilities, diagnosis.probabilities)

    image = ExplainedImage(Path("/p/a.png"), (("cat", 0.9, b"\x89PNG\r\n\x00\xff"),), b"\x89PNG photo", "", 42)
    assert wire.from_plain(ExplainedImage, crossed(image)) == image

    made = MapData((), (Path("/p/a.png"),), np.array([[1.5, -2.0]], dtype=np.float32), (("cat",),), None,
                   np.array([float("nan")]), "resnet18", "pca", 7)
    again = wire.from_plain(MapData, crossed(made))
    assert again.coords.dtype == np.float32 and again.coords.tolist() == [[1.5, -2.0]] and np.isnan(again.error[0])
    assert (again.paths, again.labels, again.predicted, again.pid) == (made.paths, made.labels, None, 7)
