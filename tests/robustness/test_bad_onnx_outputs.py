"""ONNX files whose graph is valid but whose output is not a classifier's (wrong rank or type), that
fail at run time, or that try to allocate absurd memory at run time: one clear line from
``imgcls predict`` each, never a traceback, nothing written.

They wear real imgcls metadata (2 classes, 32 px), so only the graph is wrong. The absurd allocation
runs in a child process capped with RLIMIT_AS, so it cannot take the machine's memory if a check is lost.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper

from imgcls_gui import cli
from imgcls_gui.engine.data.preprocess import Preprocessing
from imgcls_gui.engine.deploy.model_info import ModelInfo

from .corpus import noise_photos
from .helpers import run_cli_capped


def _ints(name: str, values: list[int]):
    return helper.make_tensor(name, TensorProto.INT64, [len(values)], values)


# name → (nodes after logits (N, C), output name, type, declared shape, extra initializers, classes in the graph)
_GRAPHS = {
    "onnx-output-rank-1": ([helper.make_node("ReduceMax", ["logits"], ["out"], axes=[1], keepdims=0)],
                           TensorProto.FLOAT, ["N"], [], 2),
    "onnx-output-rank-3": ([helper.make_node("Unsqueeze", ["logits", "axis2"], ["out"])],
                           TensorProto.FLOAT, ["N", 2, 1], [_ints("axis2", [2])], 2),
    "onnx-output-scalar": ([helper.make_node("ReduceMean", ["logits"], ["out"], keepdims=0)], TensorProto.FLOAT, [], [], 2),
    "onnx-output-int64": ([helper.make_node("ArgMax", ["logits"], ["out"], axis=1, keepdims=1)],
                          TensorProto.INT64, ["N", 1], [], 2),
    "onnx-output-bool": ([helper.make_node("Greater", ["logits", "zero"], ["out"])], TensorProto.BOOL, ["N", 2],
                         [helper.make_tensor("zero", TensorProto.FLOAT, [], [0.0])], 2),
    # 4 scores per image folded into rows of 2: the declared (N, 2) holds, the batch size is wrong at run time
    "onnx-rows-wrong-at-run-time": ([helper.make_node("Reshape", ["logits", "pairs"], ["out"])], TensorProto.FLOAT,
                                    ["M", 2], [_ints("pairs", [-1, 2])], 4),
    "onnx-fails-at-run-time": ([helper.make_node("Reshape", ["logits", "one_row"], ["out"])], TensorProto.FLOAT,
                               ["N", 2], [_ints("one_row", [1, 2])], 2),
    "onnx-absurd-allocation": ([helper.make_node("Unsqueeze", ["logits", "axis2"], ["tall"]),
                                helper.make_node("Expand", ["tall", "huge"], ["wide"]),  # 8 GB per image
                                helper.make_node("ReduceMean", ["wide"], ["out"], axes=[2], keepdims=0)],
                               TensorProto.FLOAT, ["N", 2], [_ints("axis2", [2]), _ints("huge", [1, 2, 1 << 30])], 2),
}

# name → the words of the one-line error
EXPECTED = {
    "onnx-output-rank-1": "the model's output has shape ['N'], but an image classifier outputs (batch, 2) scores",
    "onnx-output-rank-3": "the model's output has shape ['N', 2, 1], but an image classifier outputs (batch, 2)",
    "onnx-output-scalar": "the model's output has shape [], but an image classifier outputs (batch, 2)",
    "onnx-output-int64": "the model's output is tensor(int64), but an image classifier outputs float scores",
    "onnx-output-bool": "the model's output is tensor(bool), but an image classifier outputs float scores",
    "onnx-rows-wrong-at-run-time": "the model returned float32 of shape [6, 2] for 3 image(s), not (3, 2) scores",
    "onnx-fails-at-run-time": "the model failed while running on 3 image(s) (",
    "onnx-absurd-allocation": "the model failed while running on 3 image(s) (",
}
IN_A_CAPPED_CHILD = {"onnx-absurd-allocation"}


def write_bad_onnx(path: Path, name: str) -> Path:
    tail, out_type, out_shape, extra, classes = _GRAPHS[name]
    image = helper.make_tensor_value_info("input", TensorProto.FLOAT, ["N", 3, 32, 32])
    weight = helper.make_tensor("w", TensorProto.FLOAT, [3, classes], np.linspace(-1, 1, 3 * classes).tolist())
    nodes = [helper.make_node("GlobalAveragePool", ["input"], ["pooled"]),
             helper.make_node("Flatten", ["pooled"], ["flat"]),
             helper.make_node("MatMul", ["flat", "w"], ["logits"]), *tail]
    output = helper.make_tensor_value_info("out", out_type, out_shape)
    model = helper.make_model(helper.make_graph(nodes, name, [image], [output], initializer=[weight, *extra]),
                              opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    info = ModelInfo(("blue", "red"), "multiclass", Preprocessing.for_size(32))
    for key, value in info.to_metadata_props().items():
        model.metadata_props.add(key=key, value=value)
    onnx.checker.check_model(model)  # a valid graph: only what it computes is wrong
    onnx.save(model, str(path))
    return path


@pytest.fixture
def photos(tmp_path) -> Path:
    return noise_photos(tmp_path / "photos")


@pytest.mark.parametrize("name", [n for n in EXPECTED if n not in IN_A_CAPPED_CHILD])
def test_an_onnx_model_that_is_no_classifier_is_one_clear_line(tmp_path, photos, capsys, name):
    model = write_bad_onnx(tmp_path / f"{name}.onnx", name)
    assert cli.main(["predict", str(model), str(photos), "--out", str(tmp_path / "p.csv"), "--quiet"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"imgcls: error: {model}: ") and "\n" not in err and "Traceback" not in err, err
    assert EXPECTED[name] in err, err
    assert not (tmp_path / "p.csv").exists()


def test_a_model_that_allocates_absurdly_at_run_time_is_one_clear_line(tmp_path, photos):
    model = write_bad_onnx(tmp_path / "huge.onnx", "onnx-absurd-allocation")
    argv = ["predict", str(model), str(photos), "--out", str(tmp_path / "p.csv"), "--quiet", "--threads", "1"]
    results, child_stderr = run_cli_capped({"predict": argv})
    code, err = results["predict"]
    line = err.strip()
    assert code == 2 and line.startswith(f"imgcls: error: {model}: ") and "\n" not in line, err
    assert EXPECTED["onnx-absurd-allocation"] in line and not (tmp_path / "p.csv").exists()
    assert "onnxruntime" not in child_stderr  # its own log lines would make it more than one line

