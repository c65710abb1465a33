"""Grad-CAM overlays the app runs in its child process (``training/child.py``'s ``JOB_HANDLERS``).

The app shows where a model looked in one image at a time (the Results view, the Inference panel's rows, the
Review tab's queue). ``explain_job`` computes that image's overlays in the child, where torch and the
``Explainer`` live: the child keeps the last Explainers it loaded (a run clicked through image by image loads
once). ``explain_in_child`` is the app's side: it sends the job and rebuilds the ``ExplainedImage`` from its
fields (the PNGs cross as raw bytes, ``wire.py``), so the app's process never imports torch for Grad-CAM.
"""

from __future__ import annotations

import io
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .loaded_models import RecentlyLoaded

EXPLAINERS_KEPT = 2  # a run and the checkpoint next to it, say, without reloading either


@dataclass(frozen=True)
class ExplainedImage:
    """One image's Grad-CAM: PNG overlays, one per class explained, and the plain photo at their size.

    ``error`` says why there is no overlay (an unreadable image, a class the model does not know); ``photo``
    is then still the plain image when it could be read. ``pid``: the process that computed it.
    """

    path: Path
    overlays: tuple[tuple[str, float, bytes], ...]  # (class, probability, PNG)
    photo: bytes  # PNG
    error: str = ""
    pid: int = 0


def checkpoint_of(model: Path) -> Path:
    """The checkpoint an Explainer opens for ``model``: a run folder's best.pt (else last.pt), or the file itself."""
    if model.is_dir():
        return next((model / n for n in ("best.pt", "last.pt") if (model / n).is_file()), model / "best.pt")
    return model


_explainers = RecentlyLoaded(EXPLAINERS_KEPT)  # by checkpoint file and device


def cached_explainer(model: Path, device: str = "cpu") -> Any:
    """The Explainer of a run folder or checkpoint on ``device``, loaded once while the file stays the same."""
    from ..evaluation.explain import Explainer

    return _explainers.get(checkpoint_of(Path(model)), lambda: Explainer.load(model, device=device), device)


def _png(image: Any) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def explain_image(model: Path, path: Path, label: str | None, max_side: int, device: str = "cpu",
                  progress: Callable[[int, int], None] = lambda done, total: None) -> ExplainedImage:
    """The overlay(s) of ``path`` by ``model`` (a run folder or .pt checkpoint): of ``label``, else the
    predicted class(es); at most ``max_side`` pixels a side. ``progress`` may raise to stop between steps."""
    from ..data.images import load_image
    from ..evaluation.explain import overlay_png

    progress(0, 2)
    explainer = cached_explainer(model, device)
    progress(1, 2)
    if label and label not in explainer.classes:
        photo = load_image(path, draft_size=max_side)
        photo.thumbnail((max_side, max_side))
        return ExplainedImage(path, (), _png(photo), f"the model does not know the class '{label}'", os.getpid())
    found = explainer.explain([path], labels=[label] if label else None, max_side=max_side)
    if not found or found[0].heatmap is None:
        return ExplainedImage(path, (), b"", found[0].error if found else "no explanation", os.getpid())
    height, width = found[0].heatmap.shape
    photo = load_image(path).resize((width, height))
    overlays = tuple((e.label, e.probability, overlay_png(photo, e.heatmap)) for e in found)
    progress(2, 2)
    return ExplainedImage(path, overlays, _png(photo), "", os.getpid())


def explain_job(job: Any) -> dict[str, Any]:
    """Child-process handler of kind "explain" (payload: model, image path, label or None, max side, device):
    ``explain_image``'s fields; the app's Stop is honoured between its steps."""
    from ..training import wire

    payload = job.payload
    explained = explain_image(Path(payload["model"]), Path(payload["path"]), payload["label"],
                              int(payload["max_side"]), payload["device"],
                              lambda done, total: job.progress(done, total, "explaining"))
    return wire.to_plain(explained)  # type: ignore[no-any-return]


def explain_in_child(child: Any, model: str | os.PathLike[str], path: str | os.PathLike[str], label: str | None,
                     max_side: int, device: str, on_event: Callable[[object], None], control: Any,
                     interrupted: Callable[[], bool] = lambda: False) -> ExplainedImage:
    """``explain_image`` computed in ``child`` (a ``TrainingChild``): an ``ExplainedImage``."""
    from ..training import wire

    payload = {"model": str(model), "path": str(path), "label": label, "max_side": max_side, "device": device}
    return wire.from_plain(ExplainedImage, child.run_job("explain", payload, on_event, control, interrupted))
