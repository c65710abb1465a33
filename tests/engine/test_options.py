"""The option table: every RunConfig field described once, ranges refused with the key path, a schema."""

from __future__ import annotations

import dataclasses
import json
import math

import pytest

from imgcls_gui.engine import ConfigError, RunConfig, check_config, config_schema, option_spec, run_options

OUT_OF_RANGE = [
    ("optim", "lr", -1.0), ("optim", "lr", math.nan), ("optim", "lr", math.inf),
    ("optim", "momentum", 1.0), ("optim", "momentum", -0.1), ("optim", "weight_decay", -1e-4),
    ("optim", "label_smoothing", 1.0), ("optim", "label_smoothing", 1.5), ("optim", "gamma", 0.0),
    ("train", "epochs", 0), ("train", "epochs", -3), ("train", "batch_size", -1), ("train", "seed", -1),
    ("data", "val_fraction", 1.0), ("data", "num_workers", -2), ("augment", "crop_scale_min", 0.0),
    ("freeze", "head_epochs", 0), ("freeze", "lr_decay", 1.5), ("model", "dropout", 1.0),
]


def test_every_field_is_in_the_table_with_help_and_a_default_that_is_valid():
    config = RunConfig()
    names = [f"{s.name}.{f.name}" for s in dataclasses.fields(config) for f in dataclasses.fields(getattr(config, s.name))]
    specs = run_options()
    assert [spec.name for spec in specs] == names
    for spec in specs:
        assert spec.option.label and spec.option.help.endswith("."), spec.name
        assert spec.problem(spec.default) is None, f"{spec.name}'s default is outside its own range"
        assert spec.default == getattr(getattr(config, spec.section), spec.key)
    assert option_spec("optim.optimizer").choices == ("sgd", "adam", "adamw", "rmsprop", "adagrad", "adadelta")
    check_config(config)


@pytest.mark.parametrize(("section", "key", "value"), OUT_OF_RANGE)
def test_a_config_file_value_out_of_range_is_refused_with_its_key_path_and_range(section, key, value, tmp_path):
    path = tmp_path / "run.json"
    path.write_text(json.dumps({section: {key: value}}))  # NaN and Infinity as JSON parsers read them
    with pytest.raises(ConfigError) as info:
        RunConfig.from_file(path)
    message = str(info.value)
    assert f"config.{section}.{key}: " in message and option_spec(f"{section}.{key}").range_text() in message
    bad = RunConfig().replace(**{section: dataclasses.replace(getattr(RunConfig(), section), **{key: value})})
    with pytest.raises(ConfigError, match=f"^{section}.{key}: "):
        check_config(bad)


def test_range_text_says_open_and_closed_ends():
    assert option_spec("optim.lr").range_text() == "a number >= 0"
    assert option_spec("optim.momentum").range_text() == "a number >= 0 and < 1"
    assert option_spec("train.epochs").range_text() == "a whole number >= 1"
    assert option_spec("augment.rotation_degrees").range_text() == "a number from 0 to 180"
    assert option_spec("train.seed").range_text() == "a whole number from 0 to 2147483647"


def test_the_schema_follows_the_table():
    schema = config_schema()
    optim = schema["properties"]["optim"]
    assert optim["additionalProperties"] is False
    assert optim["properties"]["lr"]["minimum"] == 0 and optim["properties"]["lr"]["type"] == "number"
    assert optim["properties"]["momentum"] == {**optim["properties"]["momentum"], "minimum": 0, "exclusiveMaximum": 1}
    assert optim["properties"]["optimizer"]["enum"][0] == "sgd"
    assert schema["properties"]["data"]["properties"]["images_root"]["type"] == ["string", "null"]
    assert sum(len(s["properties"]) for s in schema["properties"].values()) == len(run_options())


def test_the_trainer_refuses_an_out_of_range_config_before_writing_anything(tmp_path):
    from imgcls_gui.engine import Trainer

    bad = RunConfig().replace(train=dataclasses.replace(RunConfig().train, epochs=0))
    with pytest.raises(ConfigError, match=r"^train.epochs: 0 is out of range; use a whole number >= 1\.$"):
        Trainer(bad, tmp_path / "run").fit()
    assert not (tmp_path / "run").exists()
