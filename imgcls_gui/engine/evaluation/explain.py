"""Why a model decided: Grad-CAM heatmaps over the image, and PNG overlays of them.

``explain_images(model_or_run, paths)`` returns one ``Explanation`` per image and class explained:
the predicted class (multi-class), every label at or over its threshold (multi-label, the top label
when none is), or the ``labels`` asked for. Each heatmap is a float32 array in [0, 1] of the image's
own size (height, width, after EXIF orientation); ``overlay_png`` / ``overlay_image`` blend it over
the photo. The CAMs come from pytorch-grad-cam (``grad-cam`` on PyPI), on the layer the registry
names for the backbone (``BackboneSpec.cam_layer``).

Methods: ``gradcam`` (default; class-specific, one forward and one backward pass per image),
``gradcam++`` (sharper when a class appears several times) and ``eigencam``, gradient-free: the first
principal component of the layer's activations, one forward pass and no backward. It shows what the
backbone looks at, the same map for every class, which suits a quick look at a model whose
gradients are not wanted (inference-only machines, very large inputs).

The model sees only the centre crop of the eval preprocessing (shorter side resized, centre
cropped); the heatmap is placed over that crop in the image's coordinates and is 0 outside it.
Qt-free, torch imported lazily.
"""

from __future__ import annotations

import io
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ..errors import ImgclsError, ModelError

if TYPE_CHECKING:
    import torch
    from PIL import Image

    from ..data.preprocess import Preprocessing

CAM_METHODS = ("gradcam", "gradcam++", "eigencam")
DEFAULT_THRESHOLD = 0.5  # multi-label, when the model stores none
OVERLAY_ALPHA = 0.45  # share of the heatmap in an overlay; the photo keeps the rest

Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class Explanation:
    """The heatmap of one class on one image.

    ``heatmap``: (height, width) float32 in [0, 1] at the image's size (or its ``max_side`` reduction),
    None when the image could not be read (``error`` says why). ``probability``: the model's
    probability of ``label`` for this image; ``predicted``: whether the model asserts ``label``.
    """

    path: Path
    label: str
    class_index: int
    probability: float
    predicted: bool
    method: str
    heatmap: np.ndarray | None
    error: str = ""

    @property
    def ok(self) -> bool:
        return self.heatmap is not None


class Explainer:
    """A classifier ready for Grad-CAM: the model (logits), its classes, task, thresholds and preprocessing.

    Build one with ``Explainer.load(run_or_checkpoint)`` and reuse it for many calls of ``explain``.
    """

    def __init__(self, model: "torch.nn.Module", classes: Sequence[str], task: str, preprocessing: "Preprocessing", *,
                 thresholds: Sequence[float] | None = None, device: str = "cpu", source: str = "") -> None:
        from ..device import resolve_device
        from ..models.build import spec_of

        self.spec = spec_of(model)
        if not self.spec.cam_layer:
            raise ModelError(f"{self.spec.name} names no Grad-CAM layer in the registry (cam_layer).")
        self.device = resolve_device(device)
        self.model = model.eval().to(self.device)
        self.classes = tuple(classes)
        self.task = task
        self.preprocessing = preprocessing
        self.thresholds = tuple(thresholds) if thresholds is not None else None
        self.source = source

    @classmethod
    def load(cls, path: str | os.PathLike[str], *, device: str = "cpu") -> "Explainer":
        """Open a run folder (its best.pt, else last.pt) or an imgcls ``.pt`` checkpoint.

        Exported ONNX and TorchScript files have no layers to look inside: explain the run they came from.
        """
        from ..checkpoint import CheckpointHeader, load_checkpoint
        from ..data.preprocess import Preprocessing
        from ..models.build import model_from_checkpoint

        path = Path(path)
        if path.suffix.lower() in (".onnx", ".ts", ".torchscript") or (path.is_file() and path.suffix.lower() != ".pt"):
            raise ModelError(f"{path}: Grad-CAM needs the run folder or its .pt checkpoint; an exported model "
                             "has no layers to look inside. Pass the run folder the export came from.")
        ckpt = load_checkpoint(path)
        header = CheckpointHeader.of(ckpt)
        model = model_from_checkpoint(ckpt)
        return cls(model, header.classes, header.task, Preprocessing.from_dict(header.preprocessing),
                   thresholds=header.thresholds, device=device, source=str(path))

    # -- explaining ---------------------------------------------------------------------------
    def explain(
        self,
        paths: Sequence[str | os.PathLike[str]],
        *,
        labels: Sequence[str] | None = None,
        method: str = "gradcam",
        threshold: float | None = None,
        max_side: int | None = None,
        progress: Progress | None = None,
        should_stop: Callable[[], bool] | None = None,
    ) -> list[Explanation]:
        """Explanations of ``paths`` in order (see ``explain_images``)."""
        wanted = self._class_indices(labels)
        results: list[Explanation] = []
        with self._cam(method) as cam:
            for done, path in enumerate(paths, start=1):
                results.extend(self._explain_one(cam, Path(path), wanted, method, threshold, max_side))
                if progress is not None:
                    progress(done, len(paths))
                if should_stop is not None and should_stop():
                    break
        return results

    def explain_pixels(self, pixels: np.ndarray, *, labels: Sequence[str] | None = None, method: str = "gradcam",
                       max_side: int | None = None, name: str = "frame") -> list[Explanation]:
        """Explanations of one H x W x 3 uint8 RGB frame already in memory (a camera's), as ``explain`` gives for a file."""
        from PIL import Image

        wanted = self._class_indices(labels)
        image = Image.fromarray(np.ascontiguousarray(pixels, dtype=np.uint8), "RGB")
        with self._cam(method) as cam:
            return self._explain_image(cam, Path(name), image, wanted, method, None, max_side)

    def _class_indices(self, labels: Sequence[str] | None) -> list[int] | None:
        if labels is None:
            return None
        unknown = [name for name in labels if name not in self.classes]
        if unknown:
            raise ModelError(f"the model has no class {', '.join(map(repr, unknown))}; its classes are "
                             f"{', '.join(self.classes)}.")
        return [self.classes.index(name) for name in labels]

    def _cam(self, method: str) -> Any:
        from pytorch_grad_cam import EigenCAM, GradCAM, GradCAMPlusPlus

        if method not in CAM_METHODS:
            raise ModelError(f"unknown explanation method {method!r}; choose one of {', '.join(CAM_METHODS)}.")
        kind = {"gradcam": GradCAM, "gradcam++": GradCAMPlusPlus, "eigencam": EigenCAM}[method]
        return kind(model=self.model, target_layers=[self.model.get_submodule(self.spec.cam_layer)])

    def _explain_one(self, cam: Any, path: Path, wanted: list[int] | None, method: str, threshold: float | None,
                     max_side: int | None) -> list[Explanation]:
        from ..data.images import load_image

        try:
            image = load_image(path)
            # The model sees the file decoded as training, evaluation and prediction decode it (big JPEGs at a
            # reduced DCT scale), so the explanation's probability is the one the Results and predictions show;
            # the map is still placed on the full picture (the centre crop is the same fraction of both).
            seen = load_image(path, draft_size=self.preprocessing.resize_size)
        except ImgclsError as exc:
            return [Explanation(path, "", -1, float("nan"), False, method, None, str(exc))]
        return self._explain_image(cam, path, image, wanted, method, threshold, max_side, seen=seen)

    def _explain_image(self, cam: Any, path: Path, image: "Image.Image", wanted: list[int] | None, method: str,
                       threshold: float | None, max_side: int | None,
                       seen: "Image.Image | None" = None) -> list[Explanation]:
        from ..data.preprocess import preprocess_image

        batch = preprocess_image(seen if seen is not None else image, self.preprocessing)[None].to(self.device)
        probs = self._probabilities(batch)
        asserted = self._asserted(probs, threshold)
        indices = wanted if wanted is not None else (asserted or [int(np.argmax(probs))])
        maps = self._maps(cam, batch, indices)
        width, height = image.size
        target = _reduced((width, height), max_side)
        return [
            Explanation(path, self.classes[index], index, float(probs[index]), index in asserted, method,
                        crop_heatmap_to_image(maps[row], (width, height), self.preprocessing, target))
            for row, index in enumerate(indices)
        ]

    def _probabilities(self, batch: "torch.Tensor") -> np.ndarray:
        import torch

        with torch.inference_mode():
            logits = self.model(batch).float()
        activated = torch.sigmoid(logits) if self.task == "multilabel" else torch.softmax(logits, dim=1)
        return activated[0].cpu().numpy()

    def _asserted(self, probs: np.ndarray, threshold: float | None) -> list[int]:
        """Classes the model asserts: the top one (multi-class) or every label at or over its threshold."""
        if self.task != "multilabel":
            return [int(np.argmax(probs))]
        if threshold is not None:
            limits = np.full(len(probs), float(threshold))
        elif self.thresholds is not None:
            limits = np.asarray(self.thresholds, dtype=float)
        else:
            limits = np.full(len(probs), DEFAULT_THRESHOLD)
        return [int(i) for i in np.argsort(-probs, kind="stable") if probs[i] >= limits[i]]

    def _maps(self, cam: Any, batch: "torch.Tensor", indices: list[int]) -> np.ndarray:
        """One (crop, crop) CAM per class index: the image repeated, one target each."""
        from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget

        repeated = batch.expand(len(indices), *batch.shape[1:]).clone().requires_grad_(True)  # grads reach the
        # target layer even when every parameter below it is frozen
        return cam(input_tensor=repeated, targets=[ClassifierOutputTarget(i) for i in indices])


def explain_images(
    model_or_run: "Explainer | str | os.PathLike[str]",
    paths: Sequence[str | os.PathLike[str]],
    *,
    labels: Sequence[str] | None = None,
    method: str = "gradcam",
    threshold: float | None = None,
    max_side: int | None = None,
    device: str = "cpu",
    progress: Progress | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> list[Explanation]:
    """Grad-CAM explanations of ``paths`` by a run folder, a ``.pt`` checkpoint or a loaded ``Explainer``.

    Per image: the predicted class (multi-class); every label at or over its threshold, else the top
    label (multi-label; ``threshold`` overrides the stored ones); or exactly ``labels`` when given
    (class names). ``method``: "gradcam", "gradcam++" or the gradient-free "eigencam". Heatmaps have
    the image's size; ``max_side`` caps their longer side (for display). An unreadable image gives one
    Explanation with ``error`` set and no heatmap, and the rest go on. ``progress(done, total)`` after
    each image; when ``should_stop()`` turns true the images not yet explained are left out.
    """
    explainer = model_or_run if isinstance(model_or_run, Explainer) else Explainer.load(model_or_run, device=device)
    return explainer.explain(paths, labels=labels, method=method, threshold=threshold, max_side=max_side,
                             progress=progress, should_stop=should_stop)


# -- geometry and overlays ------------------------------------------------------------------------

def crop_box(size: tuple[int, int], pre: "Preprocessing") -> tuple[float, float, float, float]:
    """(left, top, right, bottom) in image pixels of the centre crop the eval preprocessing feeds the model."""
    width, height = size
    scale = pre.resize_size / min(width, height)
    side = pre.image_size / scale  # the crop's side, in image pixels
    left, top = (width - side) / 2, (height - side) / 2
    return left, top, left + side, top + side


def crop_heatmap_to_image(heatmap: np.ndarray, size: tuple[int, int], pre: "Preprocessing",
                          target: tuple[int, int] | None = None) -> np.ndarray:
    """A (crop, crop) heatmap placed over the image's centre crop: (height, width) float32, 0 outside it.

    ``target`` (width, height) scales the result (default: the image's ``size``).
    """
    from PIL import Image

    width, height = size
    out_w, out_h = target or size
    sx, sy = out_w / width, out_h / height
    left, top, right, bottom = crop_box(size, pre)
    box = (round(left * sx), round(top * sy), round(right * sx), round(bottom * sy))
    inner = (max(1, box[2] - box[0]), max(1, box[3] - box[1]))
    scaled = np.asarray(Image.fromarray(np.asarray(heatmap, dtype=np.float32), mode="F").resize(inner, Image.BILINEAR))
    canvas = np.zeros((out_h, out_w), dtype=np.float32)
    # paste, clipped to the canvas (the crop can overhang by a rounding pixel)
    x0, y0 = max(0, box[0]), max(0, box[1])
    x1, y1 = min(out_w, box[0] + inner[0]), min(out_h, box[1] + inner[1])
    canvas[y0:y1, x0:x1] = scaled[y0 - box[1]:y1 - box[1], x0 - box[0]:x1 - box[0]]
    return np.clip(canvas, 0.0, 1.0)


def overlay_image(image: "Image.Image | str | os.PathLike[str]", heatmap: np.ndarray, *,
                  alpha: float = OVERLAY_ALPHA) -> "Image.Image":
    """The photo with ``heatmap`` blended over it in the jet colour map (the heatmap is scaled to the photo)."""
    from PIL import Image
    from pytorch_grad_cam.utils.image import show_cam_on_image

    from ..data.images import load_image

    photo = load_image(image) if isinstance(image, (str, os.PathLike)) else image.convert("RGB")
    mask = np.asarray(heatmap, dtype=np.float32)
    if mask.shape != (photo.height, photo.width):
        mask = np.asarray(Image.fromarray(mask, mode="F").resize(photo.size, Image.BILINEAR))
    rgb = np.asarray(photo, dtype=np.float32) / 255.0
    blended = show_cam_on_image(rgb, np.clip(mask, 0.0, 1.0), use_rgb=True, image_weight=1.0 - alpha)
    return Image.fromarray(blended)


def heatmap_image(heatmap: np.ndarray) -> "Image.Image":
    """The heatmap alone in an overlay's colours (jet, as ``overlay_image`` blends them), to lay over a picture."""
    from PIL import Image
    from pytorch_grad_cam.utils.image import show_cam_on_image

    mask = np.clip(np.asarray(heatmap, dtype=np.float32), 0.0, 1.0)
    black = np.zeros((*mask.shape, 3), dtype=np.float32)
    return Image.fromarray(show_cam_on_image(black, mask, use_rgb=True, image_weight=0.0))


def overlay_png(image: "Image.Image | str | os.PathLike[str]", heatmap: np.ndarray, *, alpha: float = OVERLAY_ALPHA) -> bytes:
    """``overlay_image`` encoded as PNG bytes (what the CLI writes and the app shows)."""
    buffer = io.BytesIO()
    overlay_image(image, heatmap, alpha=alpha).save(buffer, format="PNG")
    return buffer.getvalue()


def overlay_name(explanation: Explanation, taken: set[str] | None = None) -> str:
    """``<stem>.<label>.<method>.png``, safe on any file system; ``-2``, ``-3``... when ``taken`` has it.

    The chosen name is added to ``taken`` (two images named alike in different folders keep both files).
    """
    safe = "".join(c if c.isalnum() or c in "-_" else "_" for c in explanation.label) or "class"
    base = f"{explanation.path.stem}.{safe}.{explanation.method.replace('+', 'p')}"
    name, count = f"{base}.png", 1
    while taken is not None and name.lower() in taken:
        count += 1
        name = f"{base}-{count}.png"
    if taken is not None:
        taken.add(name.lower())
    return name


def write_overlays(explanations: Sequence[Explanation], out_dir: str | os.PathLike[str], *,
                   taken: set[str] | None = None, alpha: float = OVERLAY_ALPHA) -> list[Path | None]:
    """Write each explanation's overlay PNG into ``out_dir`` (created); the paths, None where it had no heatmap.

    Each file is written atomically. Pass the same ``taken`` set to calls writing into one folder.
    """
    from ..checkpoint import atomic_write_bytes

    folder = Path(out_dir)
    folder.mkdir(parents=True, exist_ok=True)
    taken = set() if taken is None else taken
    written: list[Path | None] = []
    for explanation in explanations:
        if explanation.heatmap is None:
            written.append(None)
            continue
        target = folder / overlay_name(explanation, taken)
        atomic_write_bytes(target, overlay_png(explanation.path, explanation.heatmap, alpha=alpha))
        written.append(target)
    return written


def _reduced(size: tuple[int, int], max_side: int | None) -> tuple[int, int]:
    width, height = size
    if not max_side or max(width, height) <= max_side:
        return size
    scale = max_side / max(width, height)
    return max(1, round(width * scale)), max(1, round(height * scale))
