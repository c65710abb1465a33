"""Class imbalance options: ``class_weights: auto`` weighs the loss by class rarity, ``sampler: balanced``
draws rare classes as often as common ones; both are flags of ``imgcls train`` and reach a real run."""

from __future__ import annotations

import shutil
from collections import Counter

import pytest
import torch

from imgcls_gui.cli import build_parser
from imgcls_gui.commands.train import config_from_args
from imgcls_gui.engine import events as ev
from imgcls_gui.engine.data.loading import EpochSampler
from imgcls_gui.engine.training.balance import balanced_sample_weights, class_loss_weights
from imgcls_gui.engine.training.setup import _criterion
from imgcls_gui.engine.training.trainer import Trainer

from .test_training import Recorder, tiny_config
from .tiny_data import make_class_folders


def test_auto_weights_make_each_class_weigh_the_same_in_the_loss():
    targets = torch.tensor([0] * 9 + [1] * 3)  # 9 vs 3 images
    weights = class_loss_weights(targets, "multiclass", 3)  # class 2 has no images
    assert weights.tolist() == pytest.approx([12 / (2 * 9), 12 / (2 * 3), 1.0])
    assert float((weights[targets]).sum()) == pytest.approx(12.0)  # total weight kept, split evenly: 6 + 6
    logits = torch.randn(12, 3)
    weighted = _criterion("multiclass", 0.0, weights)(logits, targets)
    per_image = torch.nn.functional.cross_entropy(logits, targets, reduction="none")
    expected = (per_image * weights[targets]).sum() / weights[targets].sum()
    assert float(weighted) == pytest.approx(float(expected), rel=1e-5)
    assert float(weighted) != pytest.approx(float(_criterion("multiclass", 0.0)(logits, targets)), rel=1e-3)


def test_multilabel_weights_are_negatives_over_positives():
    targets = torch.tensor([[1, 0], [1, 0], [1, 1], [0, 0]], dtype=torch.float32)
    weights = class_loss_weights(targets, "multilabel", 2)
    assert weights.tolist() == pytest.approx([1 / 3, 3 / 1])
    logits = torch.randn(4, 2)
    loss = _criterion("multilabel", 0.0, weights)(logits, targets)
    expected = torch.nn.functional.binary_cross_entropy_with_logits(logits, targets, pos_weight=weights)
    assert float(loss) == pytest.approx(float(expected), rel=1e-5)


def test_balanced_sampler_draws_rare_classes_as_often_as_common_ones_and_repeats_per_epoch():
    targets = torch.tensor([0] * 90 + [1] * 10)
    weights = balanced_sample_weights(targets, "multiclass", 2)
    sampler = EpochSampler(len(targets), seed=3, shuffle=True, weights=weights)
    drawn = []
    for epoch in range(20):
        sampler.set_epoch(epoch)
        drawn += [int(targets[i]) for i, _seed in sampler]
    share = Counter(drawn)[1] / len(drawn)
    assert 0.4 < share < 0.6  # natural order would give 0.1
    sampler.set_epoch(5)
    assert list(sampler) == list(sampler)  # a function of (seed, epoch): resume stays exact
    natural = EpochSampler(len(targets), seed=3, shuffle=True)
    assert sorted(i for i, _ in natural) == list(range(100))  # natural: each image once


def test_multilabel_balanced_weights_favour_images_of_rare_labels():
    targets = torch.tensor([[1, 0]] * 8 + [[0, 1]] * 2 + [[0, 0]], dtype=torch.float32)
    weights = balanced_sample_weights(targets, "multilabel", 2)
    assert weights[9] == pytest.approx(4 * weights[0])  # label counts 8 vs 2
    assert weights[10] == pytest.approx(weights[0])  # no label: the smallest weight


def test_the_flags_reach_a_run_and_change_its_training(tmp_path):
    data = make_class_folders(tmp_path / "data", per_class=8)
    shutil.rmtree(data / "blue")
    make_class_folders(tmp_path / "few", classes=("blue",), per_class=3)
    shutil.move(tmp_path / "few" / "blue", data / "blue")
    args = build_parser().parse_args(["train", str(data), "--class-weights", "auto", "--sampler", "balanced"])
    cfg = config_from_args(args)
    assert (cfg.train.class_weights, cfg.train.sampler) == ("auto", "balanced")
    base = tiny_config(data, epochs=1)
    runs = {}
    for name, train in (("natural", base.train),
                        ("balanced", base.train.__class__(**{**base.train.__dict__, "class_weights": "auto",
                                                              "sampler": "balanced"}))):
        recorder = Recorder()
        runs[name] = Trainer(base.replace(train=train), tmp_path / name, callbacks=[recorder]).fit()
        runs[name + "_log"] = [e.message for e in recorder.of(ev.LogLine)]
    assert any(line.startswith("class weights: ") for line in runs["balanced_log"])
    assert not any(line.startswith("class weights: ") for line in runs["natural_log"])
    assert runs["balanced"].history[0]["train_loss"] != runs["natural"].history[0]["train_loss"]
