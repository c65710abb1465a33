"""The one preprocessing rule shared by training-time evaluation, export checks and inference.

Eval rule: resize the shorter side to ``resize_size`` (bilinear, antialiased), centre-crop
``image_size``, scale to [0, 1], normalise with ``mean``/``std``. Training augmentation lives in
``transforms.py`` and ends in the same normalisation.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # torch is imported lazily: the GUI must show its window before torch loads
    import torch
    from PIL import Image

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


@dataclass(frozen=True)
class Preprocessing:
    image_size: int = 224
    resize_size: int = 256
    mean: tuple[float, float, float] = IMAGENET_MEAN
    std: tuple[float, float, float] = IMAGENET_STD

    @classmethod
    def for_size(cls, image_size: int, mean=IMAGENET_MEAN, std=IMAGENET_STD) -> "Preprocessing":
        """Keep torchvision's 224→256 (299→342) resize/crop ratio for any crop size."""
        return cls(image_size, int(round(image_size * 256 / 224)), tuple(mean), tuple(std))

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "Preprocessing":
        return cls(int(data["image_size"]), int(data["resize_size"]), tuple(data["mean"]), tuple(data["std"]))


def eval_transform(pre: Preprocessing):
    """torchvision.transforms.v2 pipeline: PIL image or uint8 tensor → normalised float tensor."""
    import torch
    from torchvision.transforms import v2

    return v2.Compose(
        [
            v2.ToImage(),
            v2.Resize(pre.resize_size, antialias=True),
            v2.CenterCrop(pre.image_size),
            v2.ToDtype(torch.float32, scale=True),
            v2.Normalize(list(pre.mean), list(pre.std)),
        ]
    )


def preprocess_image(image: "Image.Image", pre: Preprocessing) -> "torch.Tensor":
    """One RGB PIL image → a (3, H, W) float tensor, by the eval rule."""
    return eval_transform(pre)(image)
