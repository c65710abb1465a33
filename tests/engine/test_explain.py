"""Grad-CAM explanations: every registry family through the real build path, run folders, overlays."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from imgcls_gui.engine import Explainer, ModelError, explain_images, overlay_png, write_overlays
from imgcls_gui.engine.config import ModelConfig
from imgcls_gui.engine.evaluation.explain import crop_box
from imgcls_gui.engine.models.build import build_model, preprocessing_for
from imgcls_gui.engine.models.registry import list_backbones

from .export_fixtures import MULTILABEL_CLASSES, save_run

# Small inputs that still leave the CAM layer a feature map of 2x2 or more (inception's Mixed_7c
# is 1x1 below about 107 px, alexnet needs 63).
IMAGE_SIZE = {"inception_v3": 139}
CLASSES = ("wasp", "ant", "bee")


def _smallest_of_each_family():
    smallest: dict[str, object] = {}
    for spec in list_backbones():
        if spec.family not in smallest or spec.params_millions < smallest[spec.family].params_millions:
            smallest[spec.family] = spec
    return list(smallest.values())


def _photo(path: Path, size=(70, 50), seed: int = 0) -> Path:
    """A smooth random picture (blobs, not pixel noise), wider than high so the centre crop leaves margins."""
    rng = np.random.default_rng(seed)
    coarse = Image.fromarray(rng.integers(0, 256, (4, 5, 3), dtype=np.uint8))
    coarse.resize(size, Image.BILINEAR).save(path)
    return path


def _explainer(name: str, task: str = "multiclass") -> Explainer:
    torch.manual_seed(0)
    cfg = ModelConfig(name, weights="none", image_size=IMAGE_SIZE.get(name, 64))
    return Explainer(build_model(cfg, len(CLASSES)), CLASSES, task, preprocessing_for(cfg))


@pytest.mark.parametrize("spec", _smallest_of_each_family(), ids=lambda s: s.family)
def test_gradcam_of_every_family_is_an_image_sized_map_that_varies(spec, tmp_path):
    photo = _photo(tmp_path / "p.png")
    explainer = _explainer(spec.name)

    found = explainer.explain([photo], labels=list(CLASSES))

    assert [e.label for e in found] == list(CLASSES)
    for explanation in found:
        heat = explanation.heatmap
        assert heat.shape == (50, 70) and heat.dtype == np.float32
        assert np.isfinite(heat).all() and heat.min() >= 0.0 and heat.max() <= 1.0
        left, _top, right, _bottom = crop_box((70, 50), explainer.preprocessing)
        # the model saw only the centre crop: nothing is claimed outside it
        assert not heat[:, : int(left)].any() and not heat[:, int(np.ceil(right)):].any()
    # a random network may weigh one class's evidence all negative (an empty map), never every class's
    assert any(float(e.heatmap.std()) > 1e-3 for e in found)


def test_eigencam_needs_no_gradients_and_is_one_map_for_every_class(tmp_path):
    photo = _photo(tmp_path / "p.png")
    explainer = _explainer("resnet18")
    for p in explainer.model.parameters():
        p.requires_grad_(False)

    found = explainer.explain([photo], labels=["wasp", "bee"], method="eigencam")

    assert found[0].method == "eigencam" and float(found[0].heatmap.std()) > 1e-3
    np.testing.assert_allclose(found[0].heatmap, found[1].heatmap)
    # Grad-CAM still reaches the layer with every parameter frozen (a head-only run's backbone)
    assert explainer.explain([photo], method="gradcam")[0].heatmap.shape == (50, 70)


@pytest.fixture(scope="module")
def run(tmp_path_factory) -> Path:
    return save_run(tmp_path_factory.mktemp("explain") / "run")


def test_run_folder_multilabel_explains_each_predicted_label(tmp_path):
    run = save_run(tmp_path / "run", classes=MULTILABEL_CLASSES, task="multilabel", thresholds=[0.0, 0.0, 1.0])
    photo = _photo(tmp_path / "p.png", seed=3)
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(b"\xff\xd8\xff not a jpeg")

    found = explain_images(run, [photo, broken])

    # thresholds 0, 0, 1: the first two labels are predicted, the third never is
    assert [(e.label, e.predicted) for e in found[:2]] == [("trees", True), ("desert", True)]
    assert all(e.path == photo and 0.0 <= e.probability <= 1.0 for e in found[:2])
    assert found[2].path == broken and found[2].heatmap is None and found[2].error
    # --threshold replaces the stored ones; asking for a label explains it whatever was predicted
    loaded = Explainer.load(run)  # loaded once, explained many times
    assert len(explain_images(loaded, [photo], threshold=0.0)) == 3
    asked = explain_images(loaded, [photo], labels=["sea"], max_side=35)
    assert [(e.label, e.predicted) for e in asked] == [("sea", False)] and asked[0].heatmap.shape == (25, 35)


def test_model_files_without_layers_and_unknown_labels_are_refused(run, tmp_path):
    (tmp_path / "m.onnx").write_bytes(b"onnx")
    with pytest.raises(ModelError, match="run folder"):
        Explainer.load(tmp_path / "m.onnx")
    with pytest.raises(ModelError, match="no class 'zebra'"):
        explain_images(run, [_photo(tmp_path / "p.png")], labels=["zebra"])
    with pytest.raises(ModelError, match="unknown explanation method"):
        explain_images(run, [tmp_path / "p.png"], method="lime")


def test_overlays_are_pngs_of_the_photo_size_with_distinct_names(run, tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    photos = [_photo(tmp_path / "a" / "same.png"), _photo(tmp_path / "b" / "same.png", seed=1)]
    found = explain_images(run, photos)

    written = write_overlays(found, tmp_path / "out")

    assert len({p.name for p in written}) == 2
    for path in written:
        with Image.open(path) as image:
            assert image.format == "PNG" and image.size == (70, 50)
    blended = np.asarray(Image.open(io.BytesIO(overlay_png(photos[0], found[0].heatmap))))
    assert blended.shape == (50, 70, 3) and not np.array_equal(blended, np.asarray(Image.open(photos[0])))


def test_a_big_jpeg_is_explained_with_the_probability_prediction_gives_it(run, tmp_path):
    """Prediction and evaluation decode big JPEGs at a reduced scale: the explanation must see the same pixels,
    or the Results view shows one probability beside the prediction and another beside its Grad-CAM."""
    from imgcls_gui.engine import Predictor

    photo = tmp_path / "big.jpg"
    rng = np.random.default_rng(5)
    Image.fromarray(rng.integers(0, 256, (300, 400, 3), dtype=np.uint8)).save(photo, quality=90)

    explained = Explainer.load(run).explain([photo])[0]
    predicted = next(iter(Predictor.load(run).predict([photo])))

    assert explained.label == predicted.label
    assert explained.probability == pytest.approx(predicted.score, abs=1e-4)
    assert explained.heatmap.shape == (300, 400)  # the map still covers the full picture
