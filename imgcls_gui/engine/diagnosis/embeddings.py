"""The embeddings a diagnosis works on: the head-input features of a backbone, read through the feature cache.

The backbone is a trained run's (its best.pt, so features are what that model's head sees) or a
registry backbone with chosen weights. Either way the rows are cached by image content under the
exact backbone weights and preprocessing, like head-only training's, so the second diagnosis (or a
training run with the same frozen backbone) skips extraction.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from ..config import ModelConfig
from ..errors import CheckpointError, StopRequested

if TYPE_CHECKING:
    import torch

    from ..data.preprocess import Preprocessing

Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class BackboneSource:
    """Where embeddings come from: ``run`` (a run folder or checkpoint) when set, else ``model``'s backbone."""

    run: Path | None = None
    model: ModelConfig = ModelConfig()

    def describe(self) -> str:
        if self.run is not None:
            return f"run {Path(self.run).name}"
        return f"{self.model.name} ({self.model.weights} weights)"


def latest_run_with_model(runs_dir: Path) -> Path | None:
    """The newest run folder under ``runs_dir`` that has a best.pt, or None."""
    from ..project.runs import list_runs

    for run in list_runs(runs_dir):
        if run.has_checkpoint and not run.problem:
            return run.path
    return None


def load_backbone(source: BackboneSource) -> tuple["torch.nn.Module", "Preprocessing", str]:
    """(model in eval mode, its eval preprocessing, a one-line description) for ``source``."""
    from ..checkpoint import CheckpointHeader, load_checkpoint
    from ..data.preprocess import Preprocessing
    from ..models.build import build_model, model_from_checkpoint, preprocessing_for

    if source.run is not None:
        path = Path(source.run)
        if path.is_dir() and not (path / "best.pt").is_file():
            raise CheckpointError(f"{path}: this run has no best.pt yet; train it for an epoch or choose another run.")
        ckpt = load_checkpoint(path)
        header = CheckpointHeader.of(ckpt)
        model = model_from_checkpoint(ckpt)
        name = header.config.get("model", {}).get("name", "?")
        return model, Preprocessing.from_dict(header.preprocessing), f"{name} from run {path.name if path.is_dir() else path}"
    import torch

    with torch.random.fork_rng():  # random (weights: none) backbones are the same each time, so their features cache
        torch.manual_seed(0)
        model = build_model(source.model, 2).eval()  # the head is never used: features are its input
    return model, preprocessing_for(source.model), source.describe()


def embed_images(
    paths: Sequence[Path],
    source: BackboneSource,
    *,
    known_sha1: dict[Path, str] | None = None,
    device: str = "auto",
    batch_size: int = 32,
    num_workers: int = -1,
    cache_dir: str | Path | None = None,
    progress: Progress | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> tuple[np.ndarray, str, int]:
    """(float32 features, one row per path; the backbone's description; rows computed rather than cached)."""
    import torch

    from ..data.images import file_sha1
    from ..data.loading import ImageDataset
    from ..data.preprocess import eval_transform
    from ..device import resolve_device
    from ..training.feature_cache import (
        FeatureStore,
        ViewSpec,
        _content_key,
        backbone_fingerprint,
        cached_features,
        default_cache_dir,
        extract_features,
    )

    model, pre, description = load_backbone(source)
    torch_device = resolve_device(device)
    model.to(torch_device)
    known = known_sha1 or {}
    hashes = [known.get(Path(p)) or _content_key(Path(p), file_sha1) for p in paths]
    store = FeatureStore(Path(cache_dir) if cache_dir else default_cache_dir(),
                         ViewSpec(0, pre.to_dict(), None).key(backbone_fingerprint(model)))
    transform = eval_transform(pre)

    def compute(indices: list[int]) -> np.ndarray:
        done = 0

        def check() -> None:  # called before each batch
            nonlocal done
            if should_stop is not None and should_stop():
                raise StopRequested()
            if progress is not None:
                progress(min(done, len(indices)), len(indices))
            done += batch_size

        subset = ImageDataset([Path(paths[i]) for i in indices], torch.zeros(len(indices)), transform,
                              draft_size=pre.resize_size)
        return extract_features(model, subset, device=torch_device, batch_size=batch_size, num_workers=num_workers,
                                check=check)

    rows, computed = cached_features(store, hashes, compute, ram_budget_bytes=1 << 62)
    if progress is not None:
        progress(len(paths), len(paths))
    return np.asarray(rows, dtype=np.float32), description, computed
