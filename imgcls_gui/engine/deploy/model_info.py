"""What an exported model carries about itself, so it can be used without its run folder.

Export writes it (ONNX ``metadata_props``, TorchScript ``extra/imgcls.json``); ``Predictor`` reads
it back. Only portable facts go in: never the dataset path or anything else that names the
training machine or its user. No torch here.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ..errors import ExportError
from ..data.preprocess import Preprocessing

PREFIX = "imgcls."
# How an image becomes the input tensor; readers outside imgcls (the bundle's predict.py) follow it.
RESIZE_RULE = "shorter-side-then-center-crop"
INPUT_NAME = "input"
OUTPUT_NAME = "probabilities"
# Per-epoch bookkeeping in a checkpoint's metrics that says nothing about the model's quality.
_NOT_VALIDATION = frozenset({"train_loss", "lr", "seconds", "images_per_s", "epoch"})


@dataclass(frozen=True)
class ModelInfo:
    """Classes, task, thresholds and preprocessing of a model, plus where it came from."""

    classes: tuple[str, ...]
    task: str  # "multiclass" | "multilabel"
    preprocessing: Preprocessing
    thresholds: tuple[float, ...] | None = None  # per class; multilabel decisions
    backbone: str = ""
    created: str = ""  # when the model was trained (ISO date)
    version: str = ""  # imgcls version that wrote the file
    metrics: Mapping[str, float] = field(default_factory=dict)  # validation metrics of this model

    @classmethod
    def from_checkpoint(cls, ckpt: Mapping[str, Any]) -> "ModelInfo":
        """The portable facts of an imgcls checkpoint (a dict from ``load_checkpoint``)."""
        from ... import __version__

        thresholds = ckpt.get("thresholds")
        metrics = {k: float(v) for k, v in (ckpt.get("metrics") or {}).items()
                   if k not in _NOT_VALIDATION and isinstance(v, (int, float)) and not isinstance(v, bool)}
        return cls(
            classes=tuple(str(c) for c in ckpt["classes"]),
            task=str(ckpt["task"]),
            preprocessing=Preprocessing.from_dict(ckpt["preprocessing"]),
            thresholds=tuple(float(t) for t in thresholds) if thresholds is not None else None,
            backbone=str((ckpt.get("config") or {}).get("model", {}).get("name", "")),
            created=str(ckpt.get("created", "")),
            version=__version__,
            metrics=metrics,
        )

    def to_json_dict(self) -> dict[str, Any]:
        """Plain JSON values; non-finite metrics become null (JSON has no NaN)."""
        return {
            "classes": list(self.classes),
            "task": self.task,
            "thresholds": list(self.thresholds) if self.thresholds is not None else None,
            "preprocessing": {**self.preprocessing.to_dict(), "resize": RESIZE_RULE},
            "backbone": self.backbone,
            "created": self.created,
            "version": self.version,
            "metrics": {k: (v if math.isfinite(v) else None) for k, v in self.metrics.items()},
        }

    def to_metadata_props(self) -> dict[str, str]:
        """ONNX ``metadata_props``: ``imgcls.<key>`` → text (JSON for lists and mappings)."""
        return {PREFIX + k: v if isinstance(v, str) else json.dumps(v, ensure_ascii=False)
                for k, v in self.to_json_dict().items()}

    @classmethod
    def from_json_dict(cls, data: Mapping[str, Any], where: str) -> "ModelInfo":
        try:
            thresholds = data.get("thresholds")
            info = cls(
                classes=tuple(str(c) for c in data["classes"]),
                task=str(data["task"]),
                preprocessing=Preprocessing.from_dict(data["preprocessing"]),
                thresholds=tuple(float(t) for t in thresholds) if thresholds is not None else None,
                backbone=str(data.get("backbone", "")),
                created=str(data.get("created", "")),
                version=str(data.get("version", "")),
                metrics={k: float(v) if v is not None else math.nan for k, v in (data.get("metrics") or {}).items()},
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise ExportError(f"{where}: imgcls metadata is incomplete or damaged ({exc}); export the model again.") from exc
        if info.task not in ("multiclass", "multilabel") or not info.classes:
            raise ExportError(f"{where}: imgcls metadata names no classes or an unknown task {info.task!r}.")
        if info.thresholds is not None and len(info.thresholds) != len(info.classes):
            raise ExportError(f"{where}: {len(info.thresholds)} thresholds for {len(info.classes)} classes; export again.")
        return info

    @classmethod
    def from_metadata_props(cls, props: Mapping[str, str], where: str) -> "ModelInfo":
        """Inverse of ``to_metadata_props``; ExportError naming ``where`` when keys are missing or bad."""
        data: dict[str, Any] = {}
        for key, text in props.items():
            if key.startswith(PREFIX):
                name = key[len(PREFIX):]
                try:
                    data[name] = text if name in ("task", "backbone", "created", "version") else json.loads(text)
                except json.JSONDecodeError as exc:
                    raise ExportError(f"{where}: metadata {key} is not valid JSON; export the model again.") from exc
        return cls.from_json_dict(data, where)


class ModelFacts:
    """``classes``, ``task`` and ``preprocessing`` read from ``self.info`` (a ``ModelInfo``): a loaded ``Predictor``
    and the app's ``ModelDescription`` of one answer alike."""

    info: ModelInfo

    @property
    def classes(self) -> tuple[str, ...]:
        return self.info.classes

    @property
    def task(self) -> str:
        return self.info.task

    @property
    def preprocessing(self) -> Preprocessing:
        return self.info.preprocessing
