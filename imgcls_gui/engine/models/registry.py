"""The backbones imgcls can fine-tune, by name, with what the rest of the engine needs to know.

Torch-free on purpose: the GUI lists backbones before torch is loaded. Sizes, mean/std and
parameter counts are literal copies of torchvision's weights metadata (a test cross-checks them
so they cannot drift). Adding a backbone is one ``BackboneSpec`` entry in ``_BACKBONES``.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import ModelError

_IMAGENET_MEAN = (0.485, 0.456, 0.406)
_IMAGENET_STD = (0.229, 0.224, 0.225)


@dataclass(frozen=True)
class BackboneSpec:
    """One torchvision backbone: how to build it, which weights, where its head and layer groups are.

    ``groups`` are ordered earliest first; each is (group name, module-name prefixes). Every
    parameter of the built model falls in exactly one group or under ``head``/``aux_head``.
    """

    name: str
    family: str
    builder: str  # torchvision.models function name
    weights: str  # torchvision weights enum member, "ResNet18_Weights.IMAGENET1K_V1"
    input_size: int
    resize_size: int
    mean: tuple[float, float, float]
    std: tuple[float, float, float]
    head: str  # dotted path of the final Linear classifier, replaced for the new classes
    groups: tuple[tuple[str, tuple[str, ...]], ...]
    params_millions: float
    # inception_v3's auxiliary classifier, replaced and trained too. Its branch (the first name
    # component) is kept only at input_size or larger: below that its pooling has nothing to pool.
    aux_head: str | None = None
    description: str = ""
    min_size: int = 1  # smallest input the network accepts (torchvision's meta["min_size"])
    # Builder keyword arguments used when torchvision does not load its weights itself (random
    # init or a local file), so the model has the same structure torchvision's pretrained builder
    # makes (that builder rejects some of these when weights are given).
    init_kwargs: tuple[tuple[str, object], ...] = ()
    # Module prefixes present in torchvision weight files that this model does not build.
    unused_weights: tuple[str, ...] = ()
    # The module whose output Grad-CAM weighs: the last spatial feature map (after its activation
    # where the network has one), the layer pytorch-grad-cam's documentation names for the family.
    cam_layer: str = ""

    @property
    def group_names(self) -> tuple[str, ...]:
        return tuple(name for name, _ in self.groups)


def is_under(name: str, prefix: str) -> bool:
    """Whether module or parameter ``name`` lies under module ``prefix`` (whole dotted components only).

    "features.1" must not claim "features.10": a plain ``startswith`` would.
    """
    return name == prefix or name.startswith(prefix + ".")


def _indexed(prefix: str, *indices: int) -> tuple[str, ...]:
    """``_indexed("features", 2, 3)`` → ("features.2", "features.3"): numbered Sequential children."""
    return tuple(f"{prefix}.{i}" for i in indices)


def _resnet_groups() -> tuple[tuple[str, tuple[str, ...]], ...]:
    return (
        ("stem", ("conv1", "bn1")),
        ("layer1", ("layer1",)),
        ("layer2", ("layer2",)),
        ("layer3", ("layer3",)),
        ("layer4", ("layer4",)),
    )


_BACKBONES: tuple[BackboneSpec, ...] = (
    BackboneSpec(
        name="alexnet",
        family="AlexNet",
        builder="alexnet",
        weights="AlexNet_Weights.IMAGENET1K_V1",
        input_size=224,
        resize_size=256,
        mean=_IMAGENET_MEAN,
        std=_IMAGENET_STD,
        head="classifier.6",
        groups=(
            ("conv1", _indexed("features", 0)),
            ("conv2", _indexed("features", 3)),
            ("conv3-5", _indexed("features", 6, 8, 10)),
            ("fc6-7", _indexed("classifier", 1, 4)),
        ),
        cam_layer="features.11",
        params_millions=61.1,
        min_size=63,
        description="2012 classic; large fully connected layers, mostly of historical interest.",
    ),
    BackboneSpec(
        name="vgg11_bn",
        family="VGG",
        builder="vgg11_bn",
        weights="VGG11_BN_Weights.IMAGENET1K_V1",
        input_size=224,
        resize_size=256,
        mean=_IMAGENET_MEAN,
        std=_IMAGENET_STD,
        head="classifier.6",
        groups=(
            ("block1", _indexed("features", 0, 1)),
            ("block2", _indexed("features", 4, 5)),
            ("block3", _indexed("features", 8, 9, 11, 12)),
            ("block4", _indexed("features", 15, 16, 18, 19)),
            ("block5", _indexed("features", 22, 23, 25, 26)),
            ("fc6-7", _indexed("classifier", 0, 3)),
        ),
        cam_layer="features.27",
        params_millions=132.9,
        min_size=32,
        description="Plain 3x3 convolutions with batch norm; heavy but simple.",
    ),
    BackboneSpec(
        name="vgg16_bn",
        family="VGG",
        builder="vgg16_bn",
        weights="VGG16_BN_Weights.IMAGENET1K_V1",
        input_size=224,
        resize_size=256,
        mean=_IMAGENET_MEAN,
        std=_IMAGENET_STD,
        head="classifier.6",
        groups=(
            ("block1", _indexed("features", 0, 1, 3, 4)),
            ("block2", _indexed("features", 7, 8, 10, 11)),
            ("block3", _indexed("features", 14, 15, 17, 18, 20, 21)),
            ("block4", _indexed("features", 24, 25, 27, 28, 30, 31)),
            ("block5", _indexed("features", 34, 35, 37, 38, 40, 41)),
            ("fc6-7", _indexed("classifier", 0, 3)),
        ),
        cam_layer="features.42",
        params_millions=138.4,
        min_size=32,
        description="Deeper VGG with batch norm; a strong, slow baseline.",
    ),
    BackboneSpec(
        name="resnet18",
        family="ResNet",
        builder="resnet18",
        weights="ResNet18_Weights.IMAGENET1K_V1",
        input_size=224,
        resize_size=256,
        mean=_IMAGENET_MEAN,
        std=_IMAGENET_STD,
        head="fc",
        groups=_resnet_groups(),
        cam_layer="layer4",
        params_millions=11.7,
        description="Small, fast residual network; a good first choice on a CPU.",
    ),
    BackboneSpec(
        name="resnet34",
        family="ResNet",
        builder="resnet34",
        weights="ResNet34_Weights.IMAGENET1K_V1",
        input_size=224,
        resize_size=256,
        mean=_IMAGENET_MEAN,
        std=_IMAGENET_STD,
        head="fc",
        groups=_resnet_groups(),
        cam_layer="layer4",
        params_millions=21.8,
        description="Deeper basic-block ResNet.",
    ),
    BackboneSpec(
        name="resnet50",
        family="ResNet",
        builder="resnet50",
        weights="ResNet50_Weights.IMAGENET1K_V2",
        input_size=224,
        resize_size=232,
        mean=_IMAGENET_MEAN,
        std=_IMAGENET_STD,
        head="fc",
        groups=_resnet_groups(),
        cam_layer="layer4",
        params_millions=25.6,
        description="The standard transfer-learning backbone (bottleneck ResNet, improved recipe).",
    ),
    BackboneSpec(
        name="resnet101",
        family="ResNet",
        builder="resnet101",
        weights="ResNet101_Weights.IMAGENET1K_V2",
        input_size=224,
        resize_size=232,
        mean=_IMAGENET_MEAN,
        std=_IMAGENET_STD,
        head="fc",
        groups=_resnet_groups(),
        cam_layer="layer4",
        params_millions=44.5,
        description="Larger bottleneck ResNet; better features, needs a GPU to train comfortably.",
    ),
    BackboneSpec(
        name="densenet121",
        family="DenseNet",
        builder="densenet121",
        weights="DenseNet121_Weights.IMAGENET1K_V1",
        input_size=224,
        resize_size=256,
        mean=_IMAGENET_MEAN,
        std=_IMAGENET_STD,
        head="classifier",
        groups=(
            ("stem", ("features.conv0", "features.norm0")),
            ("block1", ("features.denseblock1", "features.transition1")),
            ("block2", ("features.denseblock2", "features.transition2")),
            ("block3", ("features.denseblock3", "features.transition3")),
            ("block4", ("features.denseblock4", "features.norm5")),
        ),
        cam_layer="features.norm5",
        params_millions=8.0,
        min_size=29,
        description="Densely connected blocks; few parameters, memory hungry when training.",
    ),
    BackboneSpec(
        name="googlenet",
        family="GoogLeNet",
        builder="googlenet",
        weights="GoogLeNet_Weights.IMAGENET1K_V1",
        input_size=224,
        resize_size=256,
        mean=_IMAGENET_MEAN,
        std=_IMAGENET_STD,
        head="fc",
        groups=(
            ("stem", ("conv1", "conv2", "conv3")),
            ("inception3", ("inception3a", "inception3b")),
            ("inception4", ("inception4a", "inception4b", "inception4c", "inception4d", "inception4e")),
            ("inception5", ("inception5a", "inception5b")),
        ),
        cam_layer="inception5b",
        params_millions=6.6,
        min_size=15,
        # Auxiliary classifiers off: the model always returns one tensor. transform_input as
        # torchvision sets it for its pretrained weights, so every way of building agrees.
        init_kwargs=(("aux_logits", False), ("transform_input", True), ("init_weights", True)),
        unused_weights=("aux1", "aux2"),
        description="Inception v1; light and quick.",
    ),
    BackboneSpec(
        name="inception_v3",
        family="Inception",
        builder="inception_v3",
        weights="Inception_V3_Weights.IMAGENET1K_V1",
        input_size=299,
        resize_size=342,
        mean=_IMAGENET_MEAN,
        std=_IMAGENET_STD,
        head="fc",
        aux_head="AuxLogits.fc",
        groups=(
            ("stem", ("Conv2d_1a_3x3", "Conv2d_2a_3x3", "Conv2d_2b_3x3", "Conv2d_3b_1x1", "Conv2d_4a_3x3")),
            ("mixed5", ("Mixed_5b", "Mixed_5c", "Mixed_5d")),
            # The auxiliary branch reads Mixed_6e's output, so its convolutions train with mixed6.
            ("mixed6", ("Mixed_6a", "Mixed_6b", "Mixed_6c", "Mixed_6d", "Mixed_6e", "AuxLogits.conv0", "AuxLogits.conv1")),
            ("mixed7", ("Mixed_7a", "Mixed_7b", "Mixed_7c")),
        ),
        cam_layer="Mixed_7c",
        params_millions=27.2,
        min_size=75,
        init_kwargs=(("aux_logits", True), ("transform_input", True), ("init_weights", True)),
        description="Inception v3 at 299 px, with an auxiliary classifier while training.",
    ),
    BackboneSpec(
        name="mobilenet_v2",
        family="MobileNet",
        builder="mobilenet_v2",
        weights="MobileNet_V2_Weights.IMAGENET1K_V2",
        input_size=224,
        resize_size=232,
        mean=_IMAGENET_MEAN,
        std=_IMAGENET_STD,
        head="classifier.1",
        groups=(
            ("stem", _indexed("features", 0, 1)),
            ("stage2", _indexed("features", 2, 3)),
            ("stage3", _indexed("features", 4, 5, 6)),
            ("stage4", _indexed("features", 7, 8, 9, 10)),
            ("stage5", _indexed("features", 11, 12, 13)),
            ("stage6", _indexed("features", 14, 15, 16, 17)),
            ("last_conv", _indexed("features", 18)),
        ),
        cam_layer="features.18",
        params_millions=3.5,
        description="Inverted residuals; tiny and fast, good on a laptop CPU.",
    ),
    BackboneSpec(
        name="mobilenet_v3_small",
        family="MobileNet",
        builder="mobilenet_v3_small",
        weights="MobileNet_V3_Small_Weights.IMAGENET1K_V1",
        input_size=224,
        resize_size=256,
        mean=_IMAGENET_MEAN,
        std=_IMAGENET_STD,
        head="classifier.3",
        groups=(
            ("stem", _indexed("features", 0, 1)),
            ("stage2", _indexed("features", 2, 3)),
            ("stage3", _indexed("features", 4, 5, 6)),
            ("stage4", _indexed("features", 7, 8)),
            ("stage5", _indexed("features", 9, 10, 11)),
            ("last_conv", _indexed("features", 12)),
            ("pre_logits", _indexed("classifier", 0)),
        ),
        cam_layer="features.12",
        params_millions=2.5,
        description="The smallest and fastest backbone here.",
    ),
    BackboneSpec(
        name="mobilenet_v3_large",
        family="MobileNet",
        builder="mobilenet_v3_large",
        weights="MobileNet_V3_Large_Weights.IMAGENET1K_V2",
        input_size=224,
        resize_size=232,
        mean=_IMAGENET_MEAN,
        std=_IMAGENET_STD,
        head="classifier.3",
        groups=(
            ("stem", _indexed("features", 0, 1)),
            ("stage2", _indexed("features", 2, 3)),
            ("stage3", _indexed("features", 4, 5, 6)),
            ("stage4", _indexed("features", 7, 8, 9, 10)),
            ("stage5", _indexed("features", 11, 12)),
            ("stage6", _indexed("features", 13, 14, 15)),
            ("last_conv", _indexed("features", 16)),
            ("pre_logits", _indexed("classifier", 0)),
        ),
        cam_layer="features.16",
        params_millions=5.5,
        description="Fast mobile network with good accuracy for its size.",
    ),
    BackboneSpec(
        name="efficientnet_b0",
        family="EfficientNet",
        builder="efficientnet_b0",
        weights="EfficientNet_B0_Weights.IMAGENET1K_V1",
        input_size=224,
        resize_size=256,
        mean=_IMAGENET_MEAN,
        std=_IMAGENET_STD,
        head="classifier.1",
        groups=(
            ("stem", _indexed("features", 0)),
            ("stage1", _indexed("features", 1)),
            ("stage2", _indexed("features", 2)),
            ("stage3", _indexed("features", 3)),
            ("stage4", _indexed("features", 4)),
            ("stage5", _indexed("features", 5)),
            ("stage6", _indexed("features", 6)),
            ("stage7", _indexed("features", 7)),
            ("last_conv", _indexed("features", 8)),
        ),
        cam_layer="features.8",
        params_millions=5.3,
        description="Accurate for its size; slower to train than MobileNet.",
    ),
    BackboneSpec(
        name="convnext_tiny",
        family="ConvNeXt",
        builder="convnext_tiny",
        weights="ConvNeXt_Tiny_Weights.IMAGENET1K_V1",
        input_size=224,
        resize_size=236,
        mean=_IMAGENET_MEAN,
        std=_IMAGENET_STD,
        head="classifier.2",
        groups=(
            ("stem", _indexed("features", 0)),
            ("stage1", _indexed("features", 1)),
            ("stage2", _indexed("features", 2, 3)),
            ("stage3", _indexed("features", 4, 5)),
            # classifier.0 is the final LayerNorm of the feature extractor, not part of the head.
            ("stage4", ("features.6", "features.7", "classifier.0")),
        ),
        cam_layer="features.7",
        params_millions=28.6,
        min_size=32,
        description="Modern convolutional network; most accurate here, needs a GPU.",
    ),
)

_BY_NAME = {spec.name: spec for spec in _BACKBONES}


def list_backbones() -> list[BackboneSpec]:
    """Every backbone, in display order (families together, small before large)."""
    return list(_BACKBONES)


def get_backbone(name: str) -> BackboneSpec:
    """The entry for ``name``; ``ModelError`` listing the available names if there is none."""
    try:
        return _BY_NAME[name]
    except KeyError:
        raise ModelError(f"unknown model '{name}'; available: {', '.join(_BY_NAME)}.") from None
