"""Model metadata (deploy/model_info.py) without torch: what a checkpoint gives, what an export carries, what a reader refuses.

Written to kill the mutants tools/mutation.sh found surviving: every fact is checked by value, in the
run's own (not alphabetical) class order, and each refusal by the fact its message names.
"""

from __future__ import annotations

import json
import math

import pytest

from imgcls_gui import __version__
from imgcls_gui.engine.data.preprocess import Preprocessing
from imgcls_gui.engine.deploy.model_info import INPUT_NAME, OUTPUT_NAME, PREFIX, RESIZE_RULE, ModelInfo
from imgcls_gui.engine.errors import ExportError

PRE = Preprocessing(image_size=96, resize_size=110, mean=(0.5, 0.4, 0.3), std=(0.2, 0.25, 0.3))
CLASSES = ("wasp", "ant", "bee")  # the run's order, deliberately not sorted


def _checkpoint(**overrides) -> dict:
    ckpt = {
        "classes": list(CLASSES),
        "task": "multilabel",
        "preprocessing": PRE.to_dict(),
        "thresholds": [0.25, 0.5, 0.75],
        "config": {"model": {"name": "resnet18"}, "data": {"path": "/home/someone/photos"}},
        "created": "2026-11-30",
        "metrics": {"map": 0.9, "f1_macro": 1, "train_loss": 0.3, "lr": 0.01, "seconds": 4.0,
                    "images_per_s": 100.0, "epoch": 3, "flag": True, "note": "text"},
    }
    ckpt.update(overrides)
    return ckpt


def test_from_checkpoint_keeps_the_runs_facts_and_only_validation_metrics():
    info = ModelInfo.from_checkpoint(_checkpoint())
    assert info.classes == CLASSES
    assert info.task == "multilabel"
    assert info.preprocessing == PRE
    assert info.thresholds == (0.25, 0.5, 0.75)
    assert info.backbone == "resnet18"
    assert info.created == "2026-11-30"
    assert info.version == __version__
    # Bookkeeping (loss, lr, timing, epoch), booleans and text are not quality metrics.
    assert info.metrics == {"map": 0.9, "f1_macro": 1.0}
    assert all(type(v) is float for v in info.metrics.values())


def test_from_checkpoint_without_optional_keys_gives_empty_facts():
    ckpt = _checkpoint(task="multiclass")
    for key in ("thresholds", "config", "created", "metrics"):
        del ckpt[key]
    info = ModelInfo.from_checkpoint(ckpt)
    assert info.thresholds is None
    assert (info.backbone, info.created, dict(info.metrics)) == ("", "", {})
    assert ModelInfo.from_checkpoint(_checkpoint(config=None, metrics=None)).backbone == ""


def test_json_dict_is_plain_json_with_the_resize_rule_and_no_nan():
    info = ModelInfo.from_checkpoint(_checkpoint(metrics={"map": math.nan, "roc_auc_macro": 0.5}))
    data = info.to_json_dict()
    assert data == {
        "classes": list(CLASSES),
        "task": "multilabel",
        "thresholds": [0.25, 0.5, 0.75],
        "preprocessing": {**PRE.to_dict(), "resize": RESIZE_RULE},
        "backbone": "resnet18",
        "created": "2026-11-30",
        "version": __version__,
        "metrics": {"map": None, "roc_auc_macro": 0.5},
    }
    json.dumps(data, allow_nan=False)  # raises on NaN or a non-JSON value
    assert ModelInfo.from_checkpoint(_checkpoint(thresholds=None)).to_json_dict()["thresholds"] is None


def test_metadata_props_round_trip_every_fact_in_the_runs_class_order():
    info = ModelInfo.from_checkpoint(_checkpoint(classes=["Wespe", "fourmi é", "bee"]))
    props = info.to_metadata_props()
    assert set(props) == {PREFIX + key for key in info.to_json_dict()}
    # Plain strings stay plain (readers outside imgcls split on nothing); lists are JSON, unicode kept.
    assert props[PREFIX + "task"] == "multilabel"
    assert props[PREFIX + "backbone"] == "resnet18"
    assert props[PREFIX + "classes"] == '["Wespe", "fourmi é", "bee"]'
    back = ModelInfo.from_metadata_props({**props, "other.key": "{not json"}, "m.onnx")
    assert back == info


def test_a_nan_metric_comes_back_as_nan():
    info = ModelInfo.from_checkpoint(_checkpoint(metrics={"map": math.nan}))
    back = ModelInfo.from_metadata_props(info.to_metadata_props(), "m.onnx")
    assert math.isnan(back.metrics["map"])


def test_text_facts_are_read_as_text_even_when_they_look_like_json():
    info = ModelInfo.from_checkpoint(_checkpoint(created="2026", config={"model": {"name": "123"}}))
    back = ModelInfo.from_metadata_props(info.to_metadata_props(), "m.onnx")
    assert (back.created, back.backbone, back.version) == ("2026", "123", __version__)
    assert back.task == "multilabel"


def test_missing_optional_facts_read_as_empty():
    data = {"classes": ["a", "b"], "task": "multiclass", "preprocessing": PRE.to_dict()}
    info = ModelInfo.from_json_dict(data, "m.onnx")
    assert (info.thresholds, info.backbone, info.created, info.version, dict(info.metrics)) == (None, "", "", "", {})
    assert ModelInfo.from_json_dict({**data, "metrics": None}, "m.onnx").metrics == {}


@pytest.mark.parametrize(
    "change, says",
    [
        ({"classes": None}, "incomplete or damaged"),
        ({"task": None}, "incomplete or damaged"),
        ({"task": "regression"}, "unknown task 'regression'"),
        ({"classes": []}, "names no classes"),
        ({"thresholds": [0.5]}, "1 thresholds for 2 classes"),
        ({"thresholds": ["high", "low"]}, "incomplete or damaged"),
        ({"preprocessing": {"image_size": 96}}, "incomplete or damaged"),
    ],
)
def test_damaged_metadata_is_one_export_error_naming_the_file(change, says):
    data = {"classes": ["a", "b"], "task": "multiclass", "preprocessing": PRE.to_dict(), **change}
    data = {k: v for k, v in data.items() if v is not None}
    with pytest.raises(ExportError, match="^where.onnx: ") as caught:
        ModelInfo.from_json_dict(data, "where.onnx")
    assert says in str(caught.value)


def test_both_tasks_are_accepted():
    for task in ("multiclass", "multilabel"):
        data = {"classes": ["a"], "task": task, "preprocessing": PRE.to_dict()}
        assert ModelInfo.from_json_dict(data, "m.onnx").task == task


def test_bad_json_in_a_prop_names_the_key_and_the_file():
    props = ModelInfo.from_checkpoint(_checkpoint()).to_metadata_props()
    props[PREFIX + "classes"] = "[unclosed"
    with pytest.raises(ExportError, match=r"^m\.onnx: metadata imgcls\.classes is not valid JSON"):
        ModelInfo.from_metadata_props(props, "m.onnx")


def test_props_without_the_prefix_are_not_metadata():
    info = ModelInfo.from_checkpoint(_checkpoint())
    unprefixed = {key[len(PREFIX):]: text for key, text in info.to_metadata_props().items()}
    with pytest.raises(ExportError, match="incomplete or damaged"):
        ModelInfo.from_metadata_props(unprefixed, "m.onnx")


def test_io_names_are_the_ones_readers_look_up():
    # The bundle's predict.py and other tools address the graph by these names.
    assert (INPUT_NAME, OUTPUT_NAME, PREFIX) == ("input", "probabilities", "imgcls.")
