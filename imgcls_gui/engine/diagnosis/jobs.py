"""Feature extraction the app runs in its child process (``training/child.py``'s ``JOB_HANDLERS``): the Review
tab's diagnosis and the Embedding map tab's map.

``diagnose_job`` and ``map_job`` run in the child, where torch lives; ``diagnose_in_child`` and
``map_in_child`` are the app's side: they send the job to a child (a ``TrainingChild``) and rebuild its
result from the fields it sent back (``wire.py``; the diagnosis's and the map's arrays cross as dtype,
shape and bytes), so the app's process never imports torch to extract features. Progress comes as
``JobProgress`` events; the app's Stop is honoured between batches (and between folds and stages).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..data.samples import LabeledDataset
from ..errors import StopRequested
from .diagnose import Diagnosis
from .embeddings import BackboneSource


@dataclass(frozen=True)
class MapData:
    """What the Embedding map tab draws: one row per image, placed by its backbone features."""

    image_ids: tuple[int, ...]
    paths: tuple[Path, ...]
    coords: np.ndarray  # (N, 2)
    labels: tuple[tuple[str, ...], ...]
    predicted: tuple[str, ...] | None  # the run's top class per image, when a run made the features
    error: np.ndarray | None  # 1 - the run's probability of the given label (NaN when unlabelled)
    source: str
    method: str
    pid: int = 0  # the process that computed it (the app's child)


def _stoppable(job: Any, work: Callable[[], Any]) -> Any:
    """``work()`` with the engine's StopRequested (a should_stop that turned true) as the job's own stop."""
    try:
        return work()
    except StopRequested:
        job.raise_if_stopped()
        raise


def diagnose_job(job: Any) -> dict[str, Any]:
    """Child-process handler of kind "diagnose" (payload: dataset, backbone source, device, num_workers):
    ``diagnose``'s fields; progress over extraction then cross-validation."""
    from ..training import wire
    from .diagnose import diagnose

    payload = job.payload
    dataset = wire.dataset_from_dict(payload["dataset"])
    source = wire.from_plain(BackboneSource, payload["source"])
    job.progress(0, 0, "diagnosing")  # a Stop sent before the start is honoured here
    diagnosis = _stoppable(job, lambda: diagnose(
        dataset, source, device=payload["device"], num_workers=payload["num_workers"],
        progress=lambda done, total: job.progress(done, total, "diagnosing"), should_stop=lambda: job.stopped))
    return wire.to_plain(diagnosis)  # type: ignore[no-any-return]


def diagnose_in_child(child: Any, dataset: LabeledDataset, source: BackboneSource, device: str, num_workers: int,
                      on_event: Callable[[object], None], control: Any,
                      interrupted: Callable[[], bool] = lambda: False) -> Diagnosis:
    """``diagnose(dataset, source, ...)`` computed in ``child`` (a ``TrainingChild``): a ``Diagnosis``."""
    from ..training import wire

    payload = {"dataset": wire.dataset_to_dict(dataset), "source": wire.to_plain(source), "device": device,
               "num_workers": num_workers}
    return wire.from_plain(Diagnosis, child.run_job("diagnose", payload, on_event, control, interrupted))


def error_score(prediction: Any, given: tuple[str, ...]) -> float:
    """1 - the probability the model gives the image's label (the mean over labels for multi-label)."""
    if not given or prediction.error:
        return float("nan")
    probs = dict(prediction.top_k)
    return float(1.0 - np.mean([probs.get(name, 0.0) for name in given]))


def compute_map(paths: Sequence[Path], labels: Sequence[tuple[str, ...]], sha1: dict[Path, str], run: Path | None,
                model_config: Any, method: str, progress: Callable[[int, int], None],
                should_stop: Callable[[], bool]) -> MapData:
    """Features of ``paths`` (cached) → 2-D map, plus the run's predictions for colouring when ``run`` made the
    features (else ``model_config``'s backbone did). ``image_ids`` is left empty for the caller to fill."""
    from ..deploy.predict import Predictor
    from ..evaluation.embedding_map import embedding_map
    from .embeddings import embed_images

    source = BackboneSource(run=run) if run is not None else BackboneSource(model=model_config)
    total = len(paths) * (2 if run is not None else 1) + 3
    features, description, _computed = embed_images(
        paths, source, known_sha1=sha1, progress=lambda done, _n: progress(done, total), should_stop=should_stop)
    predicted = error = None
    if run is not None:
        predictor = Predictor.load(run)
        rows = predictor.predict(paths, top_k=len(predictor.classes),  # every class: the error score needs all
                                 progress=lambda done, _n: progress(len(paths) + done, total), should_stop=should_stop)
        if should_stop():
            raise StopRequested()
        predicted = tuple(p.label for p in rows)
        error = np.array([error_score(p, given) for p, given in zip(rows, labels)], dtype=float)
    made = embedding_map(features, method=method, should_stop=should_stop,
                         progress=lambda done, _n: progress(total - 3 + done, total))
    return MapData((), tuple(paths), made.coords, tuple(labels), predicted, error, description, made.method,
                   os.getpid())


def map_job(job: Any) -> dict[str, Any]:
    """Child-process handler of kind "map" (payload: paths, labels, content hashes, run, model config, method):
    ``compute_map``'s fields."""
    from ..config import ModelConfig
    from ..training import wire

    payload = job.payload
    paths = [Path(p) for p in payload["paths"]]
    labels = [tuple(row) for row in payload["labels"]]
    sha1 = {Path(path): digest for path, digest in payload["sha1"].items()}
    run = Path(payload["run"]) if payload["run"] else None
    model_config = wire.from_plain(ModelConfig, payload["model"])
    job.progress(0, 0, "mapping")  # a Stop sent before the start is honoured here
    made = _stoppable(job, lambda: compute_map(
        paths, labels, sha1, run, model_config, payload["method"],
        lambda done, total: job.progress(done, total, "mapping"), lambda: job.stopped))
    return wire.to_plain(made)  # type: ignore[no-any-return]


def map_in_child(child: Any, image_ids: Sequence[int], paths: Sequence[Path], labels: Sequence[tuple[str, ...]],
                 sha1: dict[Path, str], run: Path | None, model_config: Any, method: str,
                 on_event: Callable[[object], None], control: Any,
                 interrupted: Callable[[], bool] = lambda: False) -> MapData:
    """``compute_map`` in ``child`` (a ``TrainingChild``): the ``MapData`` of ``image_ids`` (one per path)."""
    import dataclasses

    from ..training import wire

    payload = {"paths": [str(p) for p in paths], "labels": [list(row) for row in labels],
               "sha1": {str(path): digest for path, digest in sha1.items()}, "run": str(run) if run else None,
               "model": wire.to_plain(model_config), "method": method}
    made = wire.from_plain(MapData, child.run_job("map", payload, on_event, control, interrupted))
    return dataclasses.replace(made, image_ids=tuple(image_ids))
