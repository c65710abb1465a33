"""Build a registry backbone with its weights (ImageNet, none, or a local file) and a fresh head.

ImageNet weights go through torchvision's own weights API and cache
(``torch.hub.get_dir()/checkpoints/<file>``). A local file is a plain state dict in torchvision's
layout or an imgcls checkpoint; its head is dropped, so a model trained on one set of classes
can seed a new one. Every file is read with ``weights_only=True``: loading weights never runs code.
"""

from __future__ import annotations

import http.client
import os
import threading
import zipfile
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable
from urllib.parse import urlparse

from ..checkpoint import CHECKPOINT_FORMAT
from ..checkpoint import load_error_reason as _load_reason
from ..model_files import screen_before_torch_load
from ..config import ModelConfig
from ..errors import CheckpointError, ConfigError, ModelError
from ..data.preprocess import Preprocessing
from .registry import BackboneSpec, get_backbone, is_under

if TYPE_CHECKING:
    import torch

ProgressHook = Callable[[int, int], None]  # (bytes_done, bytes_total)

OFFLINE_ENV = "IMGCLS_OFFLINE"
# A base URL (http(s):// or file://) holding torchvision's weight files under their own names: a
# company mirror, or a shared folder for machines without internet. Unset: torchvision's URL.
MIRROR_ENV = "IMGCLS_WEIGHTS_MIRROR"
_SPEC_ATTR = "imgcls_spec"
_MAX_NAMES = 4  # key names quoted per kind in a "does not fit" message


def build_model(cfg: ModelConfig, num_classes: int, *, progress: ProgressHook | None = None) -> "torch.nn.Module":
    """The backbone named by ``cfg`` with the weights it asks for and a new head for ``num_classes``."""
    spec = get_backbone(cfg.name)
    _check_head_config(cfg, num_classes)
    weights = cfg.weights.strip()
    if not weights:
        raise ConfigError("model.weights is empty; use 'imagenet', 'none' or the path of a weights file.")
    model = _build_pretrained(spec, progress) if weights == "imagenet" else _build_random(spec)
    if not _keeps_aux(spec, cfg):
        _drop_aux_branch(model, spec)
    if weights not in ("imagenet", "none"):
        _load_local_weights(model, spec, Path(weights).expanduser())
    _replace_heads(model, spec, cfg, num_classes)
    setattr(model, _SPEC_ATTR, spec)  # a plain attribute: spec_of() finds it, state_dict ignores it
    return model


def model_from_checkpoint(ckpt: dict[str, Any]) -> "torch.nn.Module":
    """The trained model stored in a checkpoint (from ``load_checkpoint``), in eval mode."""
    source = ckpt.get("source", "checkpoint") if isinstance(ckpt, dict) else "checkpoint"
    try:
        model_cfg = ModelConfig(**{**ckpt["config"]["model"], "weights": "none"})
        num_classes = len(ckpt["classes"])
        state = ckpt["model"]
    except (KeyError, TypeError) as exc:
        raise CheckpointError(
            f"{source}: checkpoint lacks its model config, classes or weights ({exc}); was it written by imgcls?"
        ) from exc
    model = build_model(model_cfg, num_classes)
    try:
        model.load_state_dict(state)
    except (RuntimeError, TypeError, AttributeError) as exc:
        # torch's first line only says "Error(s) in loading state_dict for X:"; the next one says which tensor.
        lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
        reason = (lines[1] if len(lines) > 1 and lines[0].startswith("Error(s) in loading") else lines[0]) if lines else ""
        raise CheckpointError(
            f"{source}: checkpoint weights do not fit {model_cfg.name} with {num_classes} classes "
            f"({reason[:300]}); the checkpoint is damaged or from another version."
        ) from exc
    return model.eval()


def spec_of(model: "torch.nn.Module") -> BackboneSpec:
    """The registry entry a model was built from (set by ``build_model``)."""
    spec = getattr(model, _SPEC_ATTR, None)
    if not isinstance(spec, BackboneSpec):
        raise ModelError(f"{type(model).__name__} was not built by imgcls (no backbone spec); use build_model().")
    return spec


def head_module(model: "torch.nn.Module") -> "torch.nn.Module":
    """The classifier head that ``build_model`` put in (a Linear or a small Sequential)."""
    return model.get_submodule(spec_of(model).head)


def count_parameters(model: "torch.nn.Module") -> tuple[int, int]:
    """(trainable, frozen) parameter counts."""
    trainable = frozen = 0
    for param in model.parameters():
        if param.requires_grad:
            trainable += param.numel()
        else:
            frozen += param.numel()
    return trainable, frozen


def preprocessing_for(cfg: ModelConfig) -> Preprocessing:
    """The eval preprocessing for this backbone; ``cfg.image_size > 0`` overrides its input size."""
    spec = get_backbone(cfg.name)
    if cfg.image_size < 0:
        raise ConfigError(f"model.image_size must be 0 (the backbone's own size) or a size in pixels, not {cfg.image_size}.")
    if cfg.image_size == 0:
        return Preprocessing(spec.input_size, spec.resize_size, spec.mean, spec.std)
    if cfg.image_size < spec.min_size:
        raise ConfigError(
            f"model.image_size {cfg.image_size} is too small for {spec.name}: it needs at least {spec.min_size} px."
        )
    return Preprocessing.for_size(cfg.image_size, spec.mean, spec.std)


def weights_cache_path(name: str) -> Path:
    """Where torchvision's cache keeps (or will download) this backbone's ImageNet weights."""
    import torch.hub

    url = _weights_enum(get_backbone(name)).url
    return Path(torch.hub.get_dir()) / "checkpoints" / os.path.basename(urlparse(url).path)


def weights_cached(name: str) -> bool:
    """True if the ImageNet weights are already on disk (no download needed)."""
    return weights_cache_path(name).is_file()


def download_url(url: str) -> str:
    """``url`` (torchvision's), or the same file name under ``IMGCLS_WEIGHTS_MIRROR`` when that is set."""
    mirror = os.environ.get(MIRROR_ENV, "").strip()
    return f"{mirror.rstrip('/')}/{os.path.basename(urlparse(url).path)}" if mirror else url


def offline_mode() -> bool:
    """``IMGCLS_OFFLINE=1`` forbids downloads: missing weights fail fast instead of timing out."""
    return os.environ.get(OFFLINE_ENV, "").strip().lower() in {"1", "true", "yes", "on"}


# -- building ------------------------------------------------------------------------------------


def _check_head_config(cfg: ModelConfig, num_classes: int) -> None:
    if num_classes < 1:
        raise ConfigError(f"a model needs at least one class, got {num_classes}.")
    if cfg.hidden_size < 0:
        raise ConfigError(f"model.hidden_size must be 0 (no hidden layer) or positive, not {cfg.hidden_size}.")
    if not 0.0 <= cfg.dropout < 1.0:
        raise ConfigError(f"model.dropout must be in [0, 1), not {cfg.dropout}.")


def _weights_enum(spec: BackboneSpec) -> Any:
    from torchvision.models import get_weight

    return get_weight(spec.weights)


def _builder(spec: BackboneSpec) -> Callable[..., "torch.nn.Module"]:
    import torchvision.models

    return getattr(torchvision.models, spec.builder)


def _build_random(spec: BackboneSpec) -> "torch.nn.Module":
    return _builder(spec)(weights=None, **dict(spec.init_kwargs))


def _keeps_aux(spec: BackboneSpec, cfg: ModelConfig) -> bool:
    """The auxiliary classifier pools a fixed-size feature map: inception_v3's fails below 299 px."""
    return spec.aux_head is not None and (cfg.image_size == 0 or cfg.image_size >= spec.input_size)


def _aux_branch(spec: BackboneSpec) -> str | None:
    """The module holding the auxiliary classifier ("AuxLogits" for "AuxLogits.fc")."""
    return spec.aux_head.split(".")[0] if spec.aux_head else None


def _drop_aux_branch(model: "torch.nn.Module", spec: BackboneSpec) -> None:
    branch = _aux_branch(spec)
    if branch is None or not _has_submodule(model, branch):
        return
    # What torchvision's own builders do to drop auxiliary classifiers (googlenet, inception_v3).
    setattr(model, branch, None)
    if hasattr(model, "aux_logits"):
        model.aux_logits = False


def _build_pretrained(spec: BackboneSpec, progress: ProgressHook | None) -> "torch.nn.Module":
    weights = _weights_enum(spec)
    path = _ensure_cached(spec, weights, progress)
    # torchvision reads its cache with weights_only=False; vet the file first so a planted
    # or damaged file is refused instead of executed.
    _check_safe_to_load(path)
    try:
        return _builder(spec)(weights=weights, progress=False)
    except RuntimeError as exc:
        raise ModelError(
            f"{path}: cached weights do not fit {spec.name} ({str(exc).splitlines()[0][:200]}). "
            "Delete the file so it is downloaded again."
        ) from exc


def _ensure_cached(spec: BackboneSpec, weights: Any, progress: ProgressHook | None) -> Path:
    path = weights_cache_path(spec.name)
    if path.is_file():
        return path
    if offline_mode():
        raise _not_cached_error(spec, path, weights.url, f"offline mode ({OFFLINE_ENV}=1)")
    total = int(float(weights.meta.get("_file_size", 0.0)) * 2**20)  # torchvision states MiB
    url = download_url(weights.url)
    try:
        _download(url, path, total, progress)
    except (OSError, http.client.HTTPException) as exc:  # URLError, HTTPError, timeouts: all OSErrors
        raise _not_cached_error(spec, path, url, f"the download failed: {exc}") from exc
    return path


def _not_cached_error(spec: BackboneSpec, path: Path, url: str, reason: str) -> ModelError:
    return ModelError(
        f"ImageNet weights for {spec.name} are not cached and cannot be downloaded ({reason}). "
        f"Missing file: {path}. Fix: run once with internet access so torchvision downloads it "
        f"(or download {url} and save it at that path), or pass --weights PATH to a local weights "
        "file, or --weights none to train from scratch."
    )


def _download(url: str, dst: Path, total: int, progress: ProgressHook | None) -> None:
    """torch.hub's downloader (temp file + rename); polls the partial file to report progress."""
    import torch.hub

    dst.parent.mkdir(parents=True, exist_ok=True)
    if progress is None:
        torch.hub.download_url_to_file(url, str(dst), progress=False)
        return
    failure: list[BaseException] = []

    def fetch() -> None:
        try:
            torch.hub.download_url_to_file(url, str(dst), progress=False)
        except BaseException as exc:  # re-raised on the calling thread below
            failure.append(exc)

    worker = threading.Thread(target=fetch, name="imgcls-weights-download", daemon=True)
    worker.start()
    progress(0, total)
    while worker.is_alive():
        worker.join(0.25)
        done = _partial_bytes(dst)
        progress(done, max(total, done))
    if failure:
        raise failure[0]
    size = dst.stat().st_size
    progress(size, size)


def _partial_bytes(dst: Path) -> int:
    # download_url_to_file writes "<dst>.<uuid>.partial" before renaming it to dst.
    done = 0
    for part in dst.parent.glob(f"{dst.name}.*.partial"):
        try:
            done += part.stat().st_size
        except FileNotFoundError:  # renamed or removed between glob and stat
            pass
    return done


def _replace_heads(model: "torch.nn.Module", spec: BackboneSpec, cfg: ModelConfig, num_classes: int) -> None:
    import torch.nn as nn

    old = model.get_submodule(spec.head)
    model.set_submodule(spec.head, _new_head(_in_features(old, spec.head), num_classes, cfg))
    if spec.aux_head is not None and _has_submodule(model, spec.aux_head):
        aux = model.get_submodule(spec.aux_head)
        model.set_submodule(spec.aux_head, nn.Linear(_in_features(aux, spec.aux_head), num_classes))


def _new_head(in_features: int, num_classes: int, cfg: ModelConfig) -> "torch.nn.Module":
    import torch.nn as nn

    if cfg.hidden_size > 0:
        return nn.Sequential(
            nn.Dropout(cfg.dropout),
            nn.Linear(in_features, cfg.hidden_size),
            nn.ReLU(inplace=True),
            nn.Dropout(cfg.dropout),
            nn.Linear(cfg.hidden_size, num_classes),
        )
    if cfg.dropout > 0:
        return nn.Sequential(nn.Dropout(cfg.dropout), nn.Linear(in_features, num_classes))
    return nn.Linear(in_features, num_classes)


def _in_features(module: "torch.nn.Module", where: str) -> int:
    import torch.nn as nn

    if not isinstance(module, nn.Linear):
        raise ModelError(f"registry error: '{where}' is a {type(module).__name__}, expected the final Linear layer.")
    return module.in_features


def _has_submodule(model: "torch.nn.Module", path: str) -> bool:
    try:
        return model.get_submodule(path) is not None
    except AttributeError:
        return False


# -- local weight files --------------------------------------------------------------------------


def _load_local_weights(model: "torch.nn.Module", spec: BackboneSpec, path: Path) -> None:
    """Load a state dict or an imgcls checkpoint's model into ``model``, everything but the head."""
    state = _read_state_dict(path)
    state = {key: value for key, value in state.items() if not _is_replaced(key, spec)}
    expected = {key: value for key, value in model.state_dict().items() if not _is_replaced(key, spec)}
    # The auxiliary branch only helps training and exists only at full input size: a file with
    # or without it fits either way (missing parts keep their fresh initialisation).
    branch = _aux_branch(spec)
    if branch is not None:
        state = {k: v for k, v in state.items() if k in expected or not is_under(k, branch)}
    # Old torchvision files lack BatchNorm step counters; BatchNorm fills those in itself.
    missing = sorted(
        k
        for k in expected.keys() - state.keys()
        if not k.endswith("num_batches_tracked") and not (branch is not None and is_under(k, branch))
    )
    unexpected = sorted(state.keys() - expected.keys())
    mismatched = sorted(
        f"{k} {tuple(state[k].shape)} vs {tuple(expected[k].shape)}"
        for k in expected.keys() & state.keys()
        if tuple(state[k].shape) != tuple(expected[k].shape)
    )
    if missing or unexpected or mismatched:
        parts = [
            f"{label} {_few(names)}"
            for label, names in (("missing keys", missing), ("unexpected keys", unexpected), ("shape mismatch", mismatched))
            if names
        ]
        raise ModelError(
            f"{path} does not fit {spec.name}: {'; '.join(parts)}. "
            f"Use weights saved from a torchvision {spec.builder} (or an imgcls model of that backbone)."
        )
    model.load_state_dict(state, strict=False)


def _read_state_dict(path: Path) -> dict[str, "torch.Tensor"]:
    import torch

    if not path.is_file():
        raise ModelError(
            f"{path}: weights file not found. Pass 'imagenet', 'none', or the path of a state dict "
            "(torch.save(model.state_dict(), path)) or an imgcls checkpoint."
        )
    screen_before_torch_load(path, "weights")  # TorchScript runs code; bombs balloon
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # a damaged or hostile file makes the unpickler raise nearly any type
        raise ModelError(
            f"{path}: cannot read weights from this file ({_load_reason(exc)}). imgcls reads only plain "
            "tensors saved with torch.save(model.state_dict(), path) and imgcls checkpoints; files that "
            "need code to load are refused for safety."
        ) from exc
    if isinstance(obj, dict) and obj.get("format") == CHECKPOINT_FORMAT:
        obj = obj.get("model")
    if not isinstance(obj, dict) or not obj or not all(isinstance(v, torch.Tensor) for v in obj.values()):
        raise ModelError(
            f"{path}: not a state dict (expected a mapping of parameter names to tensors, as written by "
            "torch.save(model.state_dict(), path), or an imgcls checkpoint)."
        )
    if all(str(key).startswith("module.") for key in obj):  # saved from DataParallel/DDP
        obj = {str(key)[len("module.") :]: value for key, value in obj.items()}
    return obj


def _is_replaced(key: str, spec: BackboneSpec) -> bool:
    """Keys of modules build_model replaces or does not build: the file's values are not used."""
    prefixes = (spec.head, *((spec.aux_head,) if spec.aux_head else ()), *spec.unused_weights)
    return any(is_under(key, p) for p in prefixes)


def _few(names: list[str]) -> str:
    shown = ", ".join(names[:_MAX_NAMES])
    return shown + (f" (+{len(names) - _MAX_NAMES} more)" if len(names) > _MAX_NAMES else "")


def _check_safe_to_load(path: Path) -> None:
    import torch

    try:
        screen_before_torch_load(path, "weights")  # inside the try: the message below says what to do
        # mmap avoids reading the tensors twice; legacy (non-zip) files cannot be mapped.
        torch.load(path, map_location="cpu", weights_only=True, mmap=zipfile.is_zipfile(path))
    except Exception as exc:  # see _read_state_dict
        raise ModelError(
            f"{path}: the cached weights file is damaged or not a plain weights file ({_load_reason(exc)}). "
            "Delete it so it is downloaded again."
        ) from exc
