"""Export: one self-contained ONNX file / TorchScript with metadata, verified against PyTorch."""

from __future__ import annotations

import csv
import getpass
import io
import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest
import torch

from imgcls_gui.engine.deploy import export
from imgcls_gui.engine.checkpoint import load_checkpoint
from imgcls_gui.engine.errors import CheckpointError, ExportError
from imgcls_gui.engine.deploy.export import PARITY_TOLERANCE, export_bundle, export_onnx, export_torchscript
from imgcls_gui.engine.models.build import model_from_checkpoint
from imgcls_gui.engine.deploy.predict import Predictor
from imgcls_gui.engine.deploy.predict_io import load_model_input
from imgcls_gui.engine.data.preprocess import Preprocessing

from .export_fixtures import CLASSES, IMAGE_SIZE, MULTILABEL_CLASSES, save_run, write_photos


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    """One hand-built run exported as ONNX, TorchScript and a bundle (exports take seconds: share them)."""
    root = tmp_path_factory.mktemp("export")
    run = save_run(root / "run", data_path=str(root / "photos"))
    photos = write_photos(root / "photos", 6)
    out = root / "out"
    out.mkdir()
    reports = {
        "onnx": export_onnx(run, out / "model.onnx", sample_images=photos),
        "torchscript": export_torchscript(run, out / "model.pt"),
        "bundle": export_bundle(run, root / "bundle"),
    }
    return root, run, photos, reports


def test_onnx_is_one_file_with_named_dynamic_io_and_parity(exported):
    root, run, photos, reports = exported
    report = reports["onnx"]
    assert sorted(p.name for p in (root / "out").iterdir()) == ["model.onnx", "model.pt"]  # no side .data file
    assert report.max_abs_diff <= PARITY_TOLERANCE and report.samples == len(photos)
    assert report.sample_source == "given images" and report.size_bytes == report.path.stat().st_size
    model = onnx.load(str(report.path), load_external_data=False)
    onnx.checker.check_model(model)
    assert [t.name for t in model.graph.initializer if t.data_location == onnx.TensorProto.EXTERNAL] == []
    (inp,), (out,) = model.graph.input, model.graph.output
    assert (inp.name, out.name) == ("input", "probabilities")
    dims = inp.type.tensor_type.shape.dim
    assert dims[0].dim_param and [d.dim_value for d in dims[1:]] == [3, IMAGE_SIZE, IMAGE_SIZE]

    # Independent check on a batch size the exporter never saw: onnxruntime vs the checkpoint in PyTorch.
    ckpt = load_checkpoint(run)
    pre = Preprocessing.from_dict(ckpt["preprocessing"])
    batch = torch.stack([load_model_input(p, pre) for p in photos[:5]])
    with torch.inference_mode():
        expected = torch.softmax(model_from_checkpoint(ckpt)(batch), dim=1).numpy()
    got = ort.InferenceSession(str(report.path)).run(None, {"input": batch.numpy()})[0]
    assert got.shape == (5, 3)
    assert np.abs(got - expected).max() <= PARITY_TOLERANCE
    assert np.allclose(got.sum(axis=1), 1.0, atol=1e-5)


def test_onnx_metadata_describes_the_model(exported):
    _, run, _, reports = exported
    props = {p.key: p.value for p in onnx.load(str(reports["onnx"].path)).metadata_props}
    ckpt = load_checkpoint(run)
    assert json.loads(props["imgcls.classes"]) == list(CLASSES)
    assert props["imgcls.task"] == "multiclass" and json.loads(props["imgcls.thresholds"]) is None
    pre = json.loads(props["imgcls.preprocessing"])
    assert pre["resize"] == "shorter-side-then-center-crop"
    assert Preprocessing.from_dict(pre) == Preprocessing.from_dict(ckpt["preprocessing"])
    assert props["imgcls.backbone"] == "resnet18" and props["imgcls.created"] == ckpt["created"]
    assert props["imgcls.version"]
    metrics = json.loads(props["imgcls.metrics"])
    assert metrics["accuracy"] == pytest.approx(0.75) and "seconds" not in metrics and "train_loss" not in metrics


def test_exports_name_no_path_or_user_of_the_training_machine(exported):
    root, _, _, reports = exported
    home, user = str(Path.home()), getpass.getuser()
    for report in (reports["onnx"], reports["torchscript"]):
        data = report.path.read_bytes()
        for needle in (str(root), str(root / "photos"), home + os.sep, f"/{user}/", f"\\{user}\\", os.getcwd()):
            assert needle.encode() not in data, (report.format, needle)


def test_torchscript_round_trip_has_metadata_no_debug_records_and_no_stored_inputs(exported):
    _, run, photos, reports = exported
    report = reports["torchscript"]
    assert report.max_abs_diff <= PARITY_TOLERANCE and report.sample_source == "synthetic images"
    names = zipfile.ZipFile(report.path).namelist()
    assert not [n for n in names if n.endswith(".debug_pkl") or "traced_inputs" in n]
    extra = {"imgcls.json": ""}
    module = torch.jit.load(str(report.path), _extra_files=extra)
    meta = json.loads(extra["imgcls.json"])
    assert meta["classes"] == list(CLASSES) and meta["task"] == "multiclass"
    pre = Preprocessing.from_dict(meta["preprocessing"])
    batch = torch.stack([load_model_input(p, pre) for p in photos[:3]])
    with torch.inference_mode():
        expected = torch.softmax(model_from_checkpoint(load_checkpoint(run))(batch), dim=1)
        assert (module(batch) - expected).abs().max().item() <= PARITY_TOLERANCE


def test_onnx_checkpoint_torchscript_and_bundle_script_agree(exported, tmp_path):
    root, run, _, reports = exported
    images = write_photos(tmp_path / "new", 10, size=(120, 90), seed=7)
    by_model = {}
    for model in (reports["onnx"].path, reports["torchscript"].path, run / "best.pt", run):
        predictions = Predictor.load(model).predict(images, top_k=3)
        by_model[str(model)] = predictions
    labels = {name: [p.label for p in preds] for name, preds in by_model.items()}
    assert len({tuple(v) for v in labels.values()}) == 1, labels
    assert len(set(next(iter(labels.values())))) > 1, "the model should not answer the same for every image"
    reference = by_model[str(reports["onnx"].path)]

    # The bundle's script, with torch and imgcls made unimportable: it must need neither.
    bundle = root / "bundle"
    out = tmp_path / "bundle.csv"
    blocker = ("import sys, runpy; sys.modules['torch'] = None; sys.modules['imgcls_gui'] = None; "
               "sys.argv = sys.argv[1:]; runpy.run_path(sys.argv[0], run_name='__main__')")
    done = subprocess.run([sys.executable, "-c", blocker, str(bundle / "predict.py"), str(tmp_path / "new"),
                           "--out", str(out), "--top-k", "2"], capture_output=True, text=True, cwd=tmp_path, timeout=120)
    assert done.returncode == 0, done.stderr
    rows = list(csv.DictReader(out.open(encoding="utf-8")))
    assert [Path(r["path"]).name for r in rows] == [p.path.name for p in reference]
    assert [r["label"] for r in rows] == [p.label for p in reference]
    for row, pred in zip(rows, reference):
        # Pillow's resize and torchvision's differ by at most one grey level per pixel: close, not equal.
        assert float(row["top1_prob"]) == pytest.approx(pred.top_k[0][1], abs=0.02)
        assert row["error"] == "" and "top3_label" not in row


def test_bundle_holds_model_labels_readme_and_script(exported):
    root, _, _, reports = exported
    bundle = root / "bundle"
    assert sorted(p.name for p in bundle.iterdir()) == ["README.md", "labels.json", "model.onnx", "predict.py"]
    assert reports["bundle"].path == bundle / "model.onnx" and reports["bundle"].max_abs_diff <= PARITY_TOLERANCE
    labels = json.loads((bundle / "labels.json").read_text(encoding="utf-8"))
    assert labels == {"classes": list(CLASSES), "task": "multiclass", "thresholds": None}
    readme = (bundle / "README.md").read_text(encoding="utf-8")
    assert ", ".join(CLASSES) in readme and f"{IMAGE_SIZE} x {IMAGE_SIZE}" in readme and "$" + "{" not in readme
    assert "import torch" not in (bundle / "predict.py").read_text(encoding="utf-8")


def test_multilabel_export_outputs_sigmoid_and_carries_thresholds(tmp_path):
    run = save_run(tmp_path / "run", classes=MULTILABEL_CLASSES, task="multilabel", thresholds=[0.3, 0.5, 0.7])
    report = export_onnx(run, tmp_path / "ml.onnx")
    assert report.sample_source == "synthetic images" and report.max_abs_diff <= PARITY_TOLERANCE
    props = {p.key: p.value for p in onnx.load(str(report.path)).metadata_props}
    assert props["imgcls.task"] == "multilabel" and json.loads(props["imgcls.thresholds"]) == [0.3, 0.5, 0.7]
    batch = export._synthetic_batch(IMAGE_SIZE, 4, (0.5,) * 3, (0.25,) * 3)
    probs = ort.InferenceSession(str(report.path)).run(None, {"input": batch.numpy()})[0]
    with torch.inference_mode():
        expected = torch.sigmoid(model_from_checkpoint(load_checkpoint(run))(batch)).numpy()
    assert np.abs(probs - expected).max() <= PARITY_TOLERANCE
    assert ((probs > 0) & (probs < 1)).all() and not np.allclose(probs.sum(axis=1), 1.0, atol=1e-3)


def test_disagreeing_export_fails_loudly_and_writes_nothing(tmp_path, monkeypatch):
    run = save_run(tmp_path / "run")
    real_runner = export._onnx_runner

    def off_by_a_little(data):
        run_batch = real_runner(data)
        return lambda batch: run_batch(batch) + 1e-3

    monkeypatch.setattr(export, "_onnx_runner", off_by_a_little)
    with pytest.raises(ExportError, match=r"onnxruntime disagrees with PyTorch by up to 1\.0\de-03.*nothing was written"):
        export_onnx(run, tmp_path / "bad.onnx")
    assert not (tmp_path / "bad.onnx").exists()
    assert [p.name for p in tmp_path.iterdir()] == ["run"]  # no temp file left behind either


def test_missing_run_is_a_checkpoint_error(tmp_path):
    with pytest.raises(CheckpointError, match="no best.pt"):
        export_onnx(tmp_path, tmp_path / "x.onnx")


@pytest.mark.slow
def test_parity_batch_prefers_the_runs_validation_images(tmp_path):
    from .tiny_data import make_class_folders

    from imgcls_gui.engine.config import (AugmentConfig, DataConfig, FreezeConfig, ModelConfig, OptimConfig,
                                          RunConfig, TrainConfig)
    from imgcls_gui.engine.training.trainer import Trainer

    data = make_class_folders(tmp_path / "data", classes=("red", "green", "blue"), per_class=6)
    config = RunConfig(
        data=DataConfig(path=str(data), num_workers=0, val_fraction=0.34),
        augment=AugmentConfig(random_resized_crop=False),
        model=ModelConfig(name="mobilenet_v3_small", weights="none", image_size=32),
        freeze=FreezeConfig(mode="none"),
        optim=OptimConfig(lr=3e-3, scheduler="constant"),
        train=TrainConfig(epochs=1, batch_size=8, device="cpu"),
    )
    Trainer(config, tmp_path / "run").fit()
    report = export_onnx(tmp_path / "run", tmp_path / "model.onnx")
    val_count = len(json.loads((tmp_path / "run" / "split.json").read_text())["val"])
    assert report.sample_source == "validation images" and report.samples == min(val_count, export.PARITY_SAMPLES)
    assert report.max_abs_diff <= PARITY_TOLERANCE

    data.rename(tmp_path / "moved")  # the dataset is gone: export still works, on synthetic images
    report = export_onnx(tmp_path / "run", tmp_path / "again.onnx")
    assert report.sample_source == "synthetic images"
    predictions = Predictor.load(tmp_path / "again.onnx").predict(sorted((tmp_path / "moved").rglob("*.png")))
    assert all(p.label in ("red", "green", "blue") and not p.error for p in predictions)


def test_synthetic_batch_is_deterministic_and_normalised():
    a = export._synthetic_batch(32, 3, (0.5, 0.5, 0.5), (0.25, 0.25, 0.25))
    b = export._synthetic_batch(32, 3, (0.5, 0.5, 0.5), (0.25, 0.25, 0.25))
    assert a.shape == (3, 3, 32, 32) and torch.equal(a, b)
    assert -2.01 <= a.min().item() and a.max().item() <= 2.01 and a.std().item() > 0.1


def test_torchscript_without_debug_records_still_loads():
    module = torch.jit.trace(torch.nn.Sequential(torch.nn.Linear(4, 2), torch.nn.Softmax(dim=1)), torch.rand(2, 4))
    buffer = io.BytesIO()
    torch.jit.save(module, buffer)
    stripped = export._without_debug_records(buffer.getvalue())
    assert not [n for n in zipfile.ZipFile(io.BytesIO(stripped)).namelist() if n.endswith(".debug_pkl")]
    x = torch.rand(3, 4)
    assert torch.equal(torch.jit.load(io.BytesIO(stripped))(x), module(x))
