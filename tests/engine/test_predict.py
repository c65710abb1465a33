"""Predictor: the same answers from ONNX and PyTorch, error rows, thresholds, foreign ONNX files."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper

from imgcls_gui.engine.errors import CheckpointError, ExportError
from imgcls_gui.engine.deploy.export import export_onnx
from imgcls_gui.engine.deploy.predict import Predictor, physical_cores
from imgcls_gui.engine.data.preprocess import Preprocessing

from .export_fixtures import CLASSES, IMAGE_SIZE, MULTILABEL_CLASSES, save_run, write_photos


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    root = tmp_path_factory.mktemp("predict")
    run = save_run(root / "run")
    onnx_path = export_onnx(run, root / "model.onnx").path
    return run, onnx_path


@pytest.fixture
def photos(tmp_path) -> list[Path]:
    return write_photos(tmp_path / "photos", 7, seed=3)


def test_onnx_and_checkpoint_give_the_same_predictions_in_any_batch_size(models, photos):
    run, onnx_path = models
    by_onnx = Predictor.load(onnx_path).predict(photos, batch_size=3, top_k=2)
    by_torch = Predictor.load(run).predict(photos, batch_size=32, top_k=2)
    one_by_one = Predictor.load(onnx_path, threads=1).predict(photos, batch_size=1, top_k=2)
    assert [p.path for p in by_onnx] == photos
    for a, b, c in zip(by_onnx, by_torch, one_by_one):
        assert a.label == b.label == c.label and a.labels_over_threshold == (a.label,)
        assert len(a.top_k) == 2 and a.top_k[0] == (a.label, a.score) and a.top_k[0][1] >= a.top_k[1][1]
        assert a.score == pytest.approx(b.score, abs=1e-4) and a.score == pytest.approx(c.score, abs=1e-5)
    assert len({p.label for p in by_onnx}) > 1


def test_predictor_exposes_what_the_model_carries(models):
    run, onnx_path = models
    for path, kind in ((onnx_path, "onnx"), (run, "checkpoint")):
        predictor = Predictor.load(path)
        assert predictor.kind == kind and predictor.classes == CLASSES and predictor.task == "multiclass"
        assert predictor.preprocessing.image_size == IMAGE_SIZE and predictor.info.backbone == "resnet18"


def test_unreadable_files_become_rows_with_errors_and_never_stop_the_run(models, photos, tmp_path):
    _, onnx_path = models
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(b"\xff\xd8 not really a jpeg")
    missing = tmp_path / "gone.png"
    paths = [photos[0], broken, photos[1], missing]
    results = Predictor.load(onnx_path).predict(paths, batch_size=2)
    assert [r.path for r in results] == paths
    assert [bool(r.error) for r in results] == [False, True, False, True]
    assert results[1].label == "" and results[1].score is None and results[1].top_k == ()
    assert "not found" in results[3].error and results[0].label in CLASSES


def test_progress_is_reported_and_a_stop_request_ends_early(models, photos):
    _, onnx_path = models
    seen: list[tuple[int, int]] = []
    done = Predictor.load(onnx_path).predict(photos, batch_size=3, progress=lambda d, t: seen.append((d, t)))
    assert seen == [(3, 7), (6, 7), (7, 7)] and len(done) == 7
    stopped = Predictor.load(onnx_path).predict(photos, batch_size=3, should_stop=lambda: True)
    assert [p.path for p in stopped] == photos[:3]


def test_multilabel_uses_stored_thresholds_unless_overridden(tmp_path, photos):
    thresholds = [0.2, 0.5, 0.8]
    run = save_run(tmp_path / "run", classes=MULTILABEL_CLASSES, task="multilabel", thresholds=thresholds)
    predictor = Predictor.load(run)
    results = predictor.predict(photos, top_k=3)
    for r in results:
        probs = dict(r.top_k)
        over = tuple(label for label, _ in r.top_k if probs[label] >= thresholds[predictor.classes.index(label)])
        assert r.labels_over_threshold == over and r.label == ";".join(over)
        assert r.score == (probs[over[0]] if over else r.top_k[0][1])
    assert len({r.labels_over_threshold for r in results}) > 1  # thresholds do decide something here
    everything = predictor.predict(photos, threshold=0.0)
    assert all(r.labels_over_threshold == tuple(label for label, _ in r.top_k) for r in everything)
    nothing = predictor.predict(photos, threshold=1.0)
    assert all(r.label == "" and r.labels_over_threshold == () and r.score == r.top_k[0][1] for r in nothing)


def test_multiclass_threshold_leaves_low_confidence_images_unasserted(models, photos):
    run, _ = models
    results = Predictor.load(run).predict(photos, threshold=0.8)
    assert {r.labels_over_threshold == ((r.label,) if r.score >= 0.8 else ()) for r in results} == {True}
    assert any(r.labels_over_threshold == () for r in results) and all(r.label for r in results)


def _foreign_onnx(path: Path, *, size: int | str = "S", classes: int = 3, output: str = "logits") -> Path:
    """A minimal image classifier from another tool: mean colour → linear scores; no imgcls metadata."""
    image = helper.make_tensor_value_info("pixels", TensorProto.FLOAT, ["N", 3, size, size])
    scores = helper.make_tensor_value_info(output, TensorProto.FLOAT, ["N", classes])
    weight = helper.make_tensor("w", TensorProto.FLOAT, [3, classes], np.linspace(-3, 3, 3 * classes).tolist())
    nodes = [helper.make_node("GlobalAveragePool", ["pixels"], ["pooled"]),
             helper.make_node("Flatten", ["pooled"], ["flat"]),
             helper.make_node("MatMul", ["flat", "w"], [output])]
    graph = helper.make_graph(nodes, "foreign", [image], [scores], initializer=[weight])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.save(model, str(path))
    return path


def test_onnx_without_imgcls_metadata_needs_classes_and_preprocessing(tmp_path, photos):
    path = _foreign_onnx(tmp_path / "foreign.onnx")
    with pytest.raises(ExportError, match="no imgcls metadata"):
        Predictor.load(path)
    predictor = Predictor.load(path, classes=["a", "b", "c"], preprocessing=Preprocessing.for_size(48))
    results = predictor.predict(photos, top_k=3)
    for r in results:  # logits were turned into probabilities
        assert sum(prob for _, prob in r.top_k) == pytest.approx(1.0, abs=1e-5) and r.label in "abc"


def test_onnx_whose_input_does_not_match_its_preprocessing_is_refused(tmp_path):
    path = _foreign_onnx(tmp_path / "fixed.onnx", size=32)
    with pytest.raises(ExportError, match=r"input is \['N', 3, 32, 32\].*\(batch, 3, 64, 64\)"):
        Predictor.load(path, classes=["a", "b", "c"], preprocessing=Preprocessing.for_size(64))
    with pytest.raises(ExportError, match="outputs 3 scores but 2 class names"):
        Predictor.load(path, classes=["a", "b"], preprocessing=Preprocessing.for_size(32))


def test_files_that_are_not_models_give_clear_errors(tmp_path):
    fake = tmp_path / "fake.onnx"
    fake.write_bytes(b"not a protobuf at all")
    with pytest.raises(ExportError, match="not a readable ONNX model"):
        Predictor.load(fake)
    with pytest.raises(ExportError, match="not found"):
        Predictor.load(tmp_path / "absent.onnx")
    with pytest.raises(CheckpointError):
        Predictor.load(tmp_path)


def test_physical_cores_is_a_sane_thread_count():
    import os

    assert 1 <= physical_cores() <= (os.cpu_count() or 1)
