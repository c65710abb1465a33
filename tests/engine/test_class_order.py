"""A class order that is not alphabetical survives training, export, prediction and sorting.

The project's classes were created as red, blue, green (sorted: blue, green, red), so a sort anywhere
on the way names every prediction wrongly. Ground truth is the colour of each new photo, not another
prediction, so a mistake made the same way in two places still fails.
"""

from __future__ import annotations

import json
from pathlib import Path

import onnx
import pytest
import torch

from imgcls_gui.engine.checkpoint import load_checkpoint
from imgcls_gui.engine.config import (AugmentConfig, DataConfig, FreezeConfig, ModelConfig, OptimConfig,
                                      RunConfig, TrainConfig)
from imgcls_gui.engine.deploy.export import export_onnx, export_torchscript
from imgcls_gui.engine.deploy.predict import Predictor
from imgcls_gui.engine.deploy.sorting import sort_into
from imgcls_gui.engine.training.trainer import Trainer

from .tiny_data import PROJECT_ORDER, make_class_folders, make_project_added_later

MIN_ACCURACY = 0.8  # colour decides the class: best.pt gets nearly all; a wrong name map at most a third


pytestmark = pytest.mark.slow  # one real training run (about a minute on a loaded 2-core machine)


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A run trained on the project, exported to ONNX and TorchScript, and new photos of each colour."""
    root = tmp_path_factory.mktemp("order")
    project = make_project_added_later(root / "project", root / "imports", per_class=12, size=32)
    try:
        dataset = project.to_labeled_dataset()
    finally:
        project.close()
    config = RunConfig(
        data=DataConfig(num_workers=0, val_fraction=0.25),
        augment=AugmentConfig(random_resized_crop=False),
        # resnet18: from random weights it learns the colours within two epochs at 32 px; mobilenet_v3_small
        # stays at chance for eight (its BatchNorm statistics settle too slowly on 27 images). Batches of 4
        # at lr 1e-3 give BatchNorm's running statistics enough steps: with batches of 8 at 3e-3 the
        # validation loss exploded in eval mode (57) and accuracy depended on the seed (1/3 to 1; 1 and 1
        # with these settings for seeds 0 and 1). Five epochs, not three: the sums' order changes with torch's
        # thread count, and with one thread three epochs left best.pt at epoch 0 (10 of 18 photos right); five got
        # 18 of 18 with 1, 2 and 3 threads and seeds 0-3.
        model=ModelConfig(name="resnet18", weights="none", image_size=32),
        freeze=FreezeConfig(mode="none"),
        optim=OptimConfig(optimizer="adamw", lr=1e-3, scheduler="constant"),
        train=TrainConfig(epochs=5, batch_size=4, seed=0, device="cpu"),
    )
    run = root / "run"
    Trainer(config, run, dataset=dataset).fit()
    models = {"checkpoint": run, "onnx": export_onnx(run, root / "model.onnx").path,
              "torchscript": export_torchscript(run, root / "model.pt").path}
    photos = make_class_folders(root / "new", classes=PROJECT_ORDER, per_class=6, size=32, seed=99)
    for path in list(photos.rglob("*.png")):  # names unique across colours, so a sorted copy says where it came from
        path.rename(path.with_name(f"{path.parent.name}-{path.name}"))
    return run, models, photos


def _truth(photos: Path) -> dict[Path, str]:
    return {path: path.parent.name for path in sorted(photos.rglob("*.png"))}


def test_the_run_and_both_exports_carry_the_projects_class_order(trained):
    run, models, _ = trained
    assert load_checkpoint(run / "best.pt")["classes"] == list(PROJECT_ORDER)
    props = {p.key: p.value for p in onnx.load(str(models["onnx"])).metadata_props}
    assert json.loads(props["imgcls.classes"]) == list(PROJECT_ORDER)
    extra = {"imgcls.json": ""}
    torch.jit.load(str(models["torchscript"]), _extra_files=extra)
    assert json.loads(extra["imgcls.json"])["classes"] == list(PROJECT_ORDER)


@pytest.mark.parametrize("kind", ["checkpoint", "onnx", "torchscript"])
def test_predictions_name_the_true_colour(trained, kind):
    _, models, photos = trained
    truth = _truth(photos)
    predictor = Predictor.load(models[kind])
    assert predictor.classes == PROJECT_ORDER
    predictions = predictor.predict(list(truth))
    right = sum(p.label == truth[p.path] for p in predictions)
    assert right / len(truth) >= MIN_ACCURACY, [(p.path.name, truth[p.path], p.label) for p in predictions]


def test_sorting_puts_each_photo_in_its_colours_folder(trained, tmp_path):
    _, models, photos = trained
    truth = _truth(photos)
    report = sort_into(Predictor.load(models["onnx"]).predict(list(truth)), tmp_path / "sorted")
    assert report.placed == len(truth)
    right = sum((tmp_path / "sorted" / colour / path.name).is_file() for path, colour in truth.items())
    assert right / len(truth) >= MIN_ACCURACY
