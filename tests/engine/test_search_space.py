"""The search space file: parameters mapped onto run options, values checked against the option table."""

from __future__ import annotations

import pytest
import yaml

from imgcls_gui.engine.config import RunConfig
from imgcls_gui.engine.errors import ConfigError
from imgcls_gui.engine.training.search_space import DEFAULT_SPACE_YAML, default_space, parse_space, read_space


def test_the_default_space_searches_what_it_documents_and_fixes_the_rest():
    space = default_space()
    assert [p.name for p in space.searched] == ["lr", "weight_decay", "optimizer", "dropout", "hidden_size",
                                                "label_smoothing"]
    lr = space.searched[0]
    assert (lr.kind, lr.log, lr.low, lr.high) == ("float", True, 1e-4, 1e-1)
    config = space.apply(RunConfig(), {"lr": 0.02, "weight_decay": 1e-5, "optimizer": "sgd", "dropout": 0.3,
                                       "hidden_size": 256, "label_smoothing": 0.1})
    assert (config.optim.lr, config.optim.optimizer, config.model.hidden_size, config.freeze.mode) == (0.02, "sgd", 256, "head")
    assert yaml.safe_load(DEFAULT_SPACE_YAML) == yaml.safe_load(space.to_yaml())


def test_freeze_augment_and_option_paths_map_onto_the_run_options(tmp_path):
    path = tmp_path / "space.yaml"
    path.write_text("freeze: [head, 2, two-phase]\naugment: {low: 0, high: 1}\noptim.momentum: [0.8, 0.95]\n"
                    "lr: {low: 1e-4, high: 1e-2, log: true}\nimage_size: [64, 96]\nbackbone: resnet18\n")
    space = read_space(path)
    assert [p.kind for p in space.parameters] == ["choice", "float", "choice", "float", "choice", "fixed"]
    config = space.apply(RunConfig(), {"freeze": "2", "augment": 1.0, "optim.momentum": 0.8, "lr": 1e-3,
                                       "image_size": 64})
    assert (config.freeze.mode, config.freeze.groups) == ("first-n", 2)
    assert (config.augment.crop_scale_min, config.augment.color_jitter) == (0.08, 0.4)
    assert (config.optim.momentum, config.model.image_size, config.model.name) == (0.8, 64, "resnet18")
    plain = space.apply(RunConfig(), {"freeze": "head", "augment": 0.0, "optim.momentum": 0.95, "lr": 1e-3,
                                      "image_size": 96})
    assert (plain.augment.crop_scale_min, plain.augment.color_jitter, plain.augment.rotation_degrees) == (1.0, 0.0, 0.0)


@pytest.mark.parametrize("text, fragment", [
    ("lr: {low: -1, high: 0.1}", "lr: -1.0 is out of range"),
    ("lr: {low: 0.1, high: 0.01}", "must be below high"),
    ("weight_decay: {low: 0, high: 0.1, log: true}", "log range needs low above 0"),
    ("learning_rate: [0.1]", "not a parameter imgcls can search"),
    ("data.val_fraction: [0.1, 0.2]", "cannot be searched"),
    ("optimizer: [adamw, lbfgs]", "'lbfgs' is not one of"),
    ("optimizer: {low: 0, high: 1}", "takes choices, not a range"),
    ("freeze: [head, all]", "freeze: 'all' is not head"),
    ("backbone: [resnet9000]", "resnet9000"),
    ("hidden_size: [0, 2.5]", "expected a whole number"),
    ("dropout: []", "empty list"),
    ("lr: {low: 0.1, high: 1, step: 2}", "unknown key step"),
])
def test_a_bad_entry_is_refused_naming_the_file_and_the_parameter(tmp_path, text, fragment):
    path = tmp_path / "space.yaml"
    path.write_text(text + "\n")
    with pytest.raises(ConfigError) as caught:
        read_space(path)
    assert str(caught.value).startswith(f"{path}: ") and fragment in str(caught.value)
