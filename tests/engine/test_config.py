from __future__ import annotations

import pytest

from imgcls_gui.engine.config import ModelConfig, RunConfig, TrainConfig, override
from imgcls_gui.engine.errors import ConfigError


def test_config_round_trips_through_yaml(tmp_path):
    cfg = RunConfig().replace(model=ModelConfig(name="mobilenet_v3_small", dropout=0.2), train=TrainConfig(epochs=3))
    path = tmp_path / "config.yaml"
    path.write_text(cfg.to_yaml())
    assert RunConfig.from_file(path) == cfg


def test_partial_config_keeps_defaults_for_missing_keys(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("train:\n  epochs: 7\n")
    cfg = RunConfig.from_file(path)
    assert cfg.train.epochs == 7
    assert cfg.model == ModelConfig()


@pytest.mark.parametrize(
    "text, fragment",
    [
        ("train:\n  epoch: 7\n", "unknown key"),
        ("optim:\n  scheduler: linear\n", "not one of"),
        ("train:\n  epochs: 2.5\n", "whole number"),
        ("train:\n  amp: 'yes'\n", "true/false"),
        ("- a\n- b\n", "mapping"),
        ("train: [1\n", "not valid"),
    ],
)
def test_bad_config_files_name_the_problem(tmp_path, text, fragment):
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=fragment):
        RunConfig.from_file(path)


def test_override_ignores_none():
    base = TrainConfig(epochs=5, batch_size=8)
    assert override(base, epochs=None, batch_size=4) == TrainConfig(epochs=5, batch_size=4)
