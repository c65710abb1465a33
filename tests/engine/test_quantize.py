"""INT8 export: calibrated on the run's training images, written only after parity with fp32 on its validation images."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import onnx
import pytest
from PIL import Image

from imgcls_gui.engine.deploy.export import export_onnx
from imgcls_gui.engine.deploy.predict import Predictor
from imgcls_gui.engine.deploy.quantize import (
    METADATA_KEY,
    QuantizationRefusedError,
    QuantizationReport,
    export_onnx_int8,
    quantization_report_path,
    read_quantization_report,
)
from imgcls_gui.engine.errors import ExportError


TINY_MIN_AGREEMENT = 0.75


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    """A resnet18 run at 64 px (BatchNorm and head fitted to smooth images, so its answers are confident and
    differ between images) over a real folder dataset with its split saved, as a trained run has; and its
    INT8 and fp32 exports, shared because each export takes seconds."""
    from imgcls_gui.engine.data.datasets import load_dataset
    from imgcls_gui.engine.data.split import split_dataset

    from .export_fixtures import save_run, write_photos

    root = tmp_path_factory.mktemp("int8")
    for number, name in enumerate(("wasp", "ant", "bee")):
        write_photos(root / "data" / name, 16, seed=number)
    run = save_run(root / "run", data_path=str(root / "data"))
    dataset = load_dataset(root / "data")
    (run / "split.json").write_text(split_dataset(dataset, val_fraction=0.5).to_json(dataset), encoding="utf-8")
    exports = root / "exports"
    exports.mkdir()
    # A tiny model has near-ties that any rounding flips (a few of its 24 validation images): the bar here
    # is lower than the default, which a blank calibration (below) falls far under all the same.
    int8 = export_onnx_int8(run, exports / "model.int8.onnx", calibration_images=12, min_agreement=TINY_MIN_AGREEMENT)
    fp32 = export_onnx(run, exports / "model.onnx")
    return run, root / "data", int8, fp32


def test_int8_export_passes_parity_and_predicts_like_fp32(tiny_run):
    run, data, report, fp32 = tiny_run
    val_count = len(json.loads((run / "split.json").read_text())["val"])
    assert report.passed and report.agreement >= TINY_MIN_AGREEMENT
    assert report.parity_images == val_count and report.calibration_images == 12
    assert report.metric == "accuracy" and 0.0 <= report.int8_metric <= 1.0
    assert report.fp32_ms_per_image > 0 and report.int8_ms_per_image > 0
    assert 0 <= report.path.stat().st_size - report.size_bytes < 4096  # the file holds its report too
    assert report.size_bytes < fp32.size_bytes / 2

    model = onnx.load(str(report.path))
    assert any(node.op_type == "QuantizeLinear" for node in model.graph.node)  # really quantized
    (last,) = [n for n in model.graph.node if model.graph.output[0].name in n.output]
    assert last.op_type == "Softmax"  # probabilities stay float

    images = sorted(data.rglob("*.jpg"))
    int8 = Predictor.load(report.path).predict(images)
    reference = Predictor.load(fp32.path).predict(images)
    assert len({p.label for p in reference}) > 1, "the model should not answer the same for every image"
    same = sum(a.label == b.label for a, b in zip(int8, reference))
    assert same >= 0.8 * len(images), f"{same} of {len(images)}"
    assert all(abs(sum(p for _, p in row.top_k) - 1.0) < 1e-3 for row in int8)


def test_report_round_trips_through_metadata_and_side_file(tiny_run):
    run, _, report, fp32 = tiny_run
    side = quantization_report_path(report.path)
    assert side == report.path.parent / "model.int8.quantization.json"
    assert read_quantization_report(report.path) == report  # every number exactly, as JSON keeps floats
    assert QuantizationReport.from_json_dict(json.loads(side.read_text()), report.path) == report
    props = {p.key: p.value for p in onnx.load(str(report.path)).metadata_props}
    assert json.loads(props[METADATA_KEY])["agreement"] == report.agreement
    assert Predictor.load(report.path).info == Predictor.load(fp32.path).info  # the rest of the metadata is fp32's
    assert read_quantization_report(fp32.path) is None


def test_one_blank_calibration_image_is_refused_and_nothing_written(tiny_run, tmp_path):
    run = tiny_run[0]
    blank = tmp_path / "blank.png"
    Image.new("RGB", (40, 40), (0, 0, 0)).save(blank)
    out = tmp_path / "bad.onnx"
    with pytest.raises(QuantizationRefusedError, match=r"agrees with the fp32 model on only .*nothing was written") as info:
        export_onnx_int8(run, out, calibration_paths=[blank])  # the default minimum agreement
    assert info.value.report.agreement < TINY_MIN_AGREEMENT and info.value.report.calibration_images == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["blank.png"]  # no model, no report, no temp file


def test_int8_needs_the_runs_images(tmp_path):
    from .export_fixtures import save_run

    run = save_run(tmp_path / "run", data_path=str(tmp_path / "nowhere"))
    with pytest.raises(ExportError, match="needs the run's train images"):
        export_onnx_int8(run, tmp_path / "x.onnx")
    assert not (tmp_path / "x.onnx").exists()


def test_report_text_names_agreement_metric_and_latency():
    report = QuantizationReport(
        path=Path("m.onnx"), agreement=0.99, parity_images=200, metric="accuracy",
        fp32_metric=0.9, int8_metric=0.895, fp32_ms_per_image=4.0, int8_ms_per_image=2.0, calibration_images=200,
        min_agreement=0.97, fp32_max_abs_diff=1e-6, size_bytes=11_000_000, fp32_size_bytes=44_000_000, seconds=9.0)
    text = "\n".join(report.lines())
    assert "99.0% of 200 validation images" in text and "-0.5 points" in text and "2.00x" in text
    assert np.isclose(report.speedup, 2.0) and report.passed


def test_cli_int8_bundle_holds_the_int8_model_its_report_and_a_script_that_reads_it(tiny_run, tmp_path, capsys):
    from imgcls_gui.cli import main as cli

    run, data, _, _ = tiny_run
    bundle = tmp_path / "bundle"
    assert cli(["export", str(run), "--int8", "--bundle", str(bundle), "--calibration-images", "6",
                "--min-agreement", "0.5"]) == 0
    printed = capsys.readouterr().out
    assert "top-1 agreement with fp32" in printed and "latency on this machine" in printed
    names = sorted(p.name for p in bundle.iterdir())
    assert names == ["README.md", "labels.json", "model.onnx", "model.quantization.json", "predict.py"]
    stored = read_quantization_report(bundle / "model.onnx")
    assert stored.calibration_images == 6 and stored.min_agreement == 0.5
    assert "INT8" in (bundle / "README.md").read_text(encoding="utf-8")

    # The bundle's script, with torch and imgcls made unimportable, reads the INT8 model like fp32's.
    out = tmp_path / "bundle.csv"
    blocker = ("import sys, runpy; sys.modules['torch'] = None; sys.modules['imgcls_gui'] = None; "
               "sys.argv = sys.argv[1:]; runpy.run_path(sys.argv[0], run_name='__main__')")
    done = subprocess.run([sys.executable, "-c", blocker, str(bundle / "predict.py"), str(data / "ant"), "--out", str(out)],
                          capture_output=True, text=True, cwd=tmp_path, timeout=120)
    assert done.returncode == 0, done.stderr
    rows = list(csv.DictReader(out.open(encoding="utf-8")))
    assert len(rows) == 16 and all(row["label"] in ("wasp", "ant", "bee") and not row["error"] for row in rows)


def test_cli_refuses_int8_flags_that_do_not_fit(tiny_run, tmp_path, capsys):
    from imgcls_gui.cli import main as cli

    run = tiny_run[0]
    for flags, message in ((["--int8", "--format", "torchscript"], "drop --format torchscript"),
                           (["--calibration-images", "5"], "add --int8"),
                           (["--int8", "--min-agreement", "97"], "share from 0 to 1")):
        assert cli(["export", str(run), "--out", str(tmp_path / "m.onnx"), *flags]) != 0
        assert message in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []
