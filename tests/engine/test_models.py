"""build_model: torchvision's weights path and cache, local weight files, heads, checkpoints."""

from __future__ import annotations

import pickle
from pathlib import Path
from urllib.error import URLError

import pytest
import torch
import torchvision

from imgcls_gui.engine.config import ModelConfig, RunConfig
from imgcls_gui.engine.errors import CheckpointError, ConfigError, ModelError
from imgcls_gui.engine.models.build import (
    build_model,
    count_parameters,
    head_module,
    model_from_checkpoint,
    preprocessing_for,
    spec_of,
    weights_cache_path,
    weights_cached,
)
from imgcls_gui.engine.models.registry import get_backbone


@pytest.fixture
def torch_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty torchvision cache in tmp (TORCH_HOME + torch.hub.set_dir), offline unless a test says otherwise."""
    home = tmp_path / "torch_home"
    monkeypatch.setenv("TORCH_HOME", str(home))
    monkeypatch.setenv("IMGCLS_OFFLINE", "1")  # a test that forgets to plant weights must not hit the network
    monkeypatch.setattr(torch.hub, "_hub_dir", torch.hub._hub_dir)  # restores set_dir's value afterwards
    torch.hub.set_dir(str(home / "hub"))
    return home / "hub"


def _torchvision_state(name: str) -> dict[str, torch.Tensor]:
    """A randomly initialised torchvision model's state dict in the layout of its ImageNet file."""
    torch.manual_seed(0)
    spec = get_backbone(name)
    # The pretrained builders always construct with auxiliary classifiers (then drop them).
    kwargs = {"aux_logits": True, "init_weights": False} if spec.init_kwargs else {}
    model = getattr(torchvision.models, spec.builder)(weights=None, **kwargs)
    return {k: v.clone() for k, v in model.state_dict().items()}


def _plant_cached_weights(name: str) -> dict[str, torch.Tensor]:
    state = _torchvision_state(name)
    path = weights_cache_path(name)
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(state, path)
    return state


def _assert_backbone_equal(model: torch.nn.Module, state: dict[str, torch.Tensor], heads: tuple[str, ...]) -> None:
    loaded = model.state_dict()
    compared = 0
    for key, value in loaded.items():
        if any(key == h or key.startswith(h + ".") for h in heads):
            continue
        assert torch.equal(value, state[key]), key
        compared += 1
    assert compared > 10


# -- ImageNet weights through torchvision --------------------------------------------------------


@pytest.mark.parametrize(
    "name, image_size",
    [("resnet18", 0), ("mobilenet_v3_small", 0), ("googlenet", 0), ("inception_v3", 0), ("inception_v3", 128)],
)
def test_imagenet_weights_load_through_torchvision_from_its_cache(torch_home: Path, name: str, image_size: int) -> None:
    spec = get_backbone(name)
    path = weights_cache_path(name)
    assert path.parent == torch_home / "checkpoints"
    assert path.name == Path(torchvision.models.get_weight(spec.weights).url).name
    assert not weights_cached(name)
    saved = _plant_cached_weights(name)
    assert weights_cached(name)

    model = build_model(ModelConfig(name, weights="imagenet", image_size=image_size), 3)

    heads = (spec.head, "AuxLogits" if image_size else str(spec.aux_head), "aux1", "aux2")
    _assert_backbone_equal(model, saved, heads)
    assert head_module(model).out_features == 3
    assert not torch.equal(head_module(model).weight, saved[spec.head + ".weight"][:3])
    if name == "googlenet":  # aux classifiers dropped, input transform kept as torchvision sets it
        assert model.aux1 is None and model.transform_input
    if name == "inception_v3":
        assert (model.AuxLogits is None) == bool(image_size)
        if not image_size:
            assert model.get_submodule("AuxLogits.fc").out_features == 3
            assert torch.equal(model.AuxLogits.conv0.conv.weight, saved["AuxLogits.conv0.conv.weight"])


def test_offline_and_not_cached_names_the_missing_file(torch_home: Path) -> None:
    with pytest.raises(ModelError) as info:
        build_model(ModelConfig("resnet18", weights="imagenet"), 3)
    message = str(info.value)
    assert str(weights_cache_path("resnet18")) in message
    assert "--weights" in message and "internet" in message
    assert not weights_cached("resnet18")


def test_connection_failure_becomes_the_same_model_error(torch_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("IMGCLS_OFFLINE")
    attempts = []

    def no_network(url: str, dst: str, *args, **kwargs) -> None:
        attempts.append(url)
        raise URLError("[Errno -3] Temporary failure in name resolution")

    monkeypatch.setattr(torch.hub, "download_url_to_file", no_network)
    with pytest.raises(ModelError, match="download failed") as info:
        build_model(ModelConfig("mobilenet_v3_small", weights="imagenet"), 3)
    assert str(weights_cache_path("mobilenet_v3_small")) in str(info.value)
    assert attempts == [torchvision.models.get_weight(get_backbone("mobilenet_v3_small").weights).url]


def test_download_goes_to_the_cache_and_reports_progress(torch_home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # torch.hub's real downloader, pointed at a local file instead of the internet.
    monkeypatch.delenv("IMGCLS_OFFLINE")
    source = tmp_path / "served.pth"
    saved = _torchvision_state("mobilenet_v3_small")
    torch.save(saved, source)
    real_download = torch.hub.download_url_to_file
    monkeypatch.setattr(
        torch.hub, "download_url_to_file", lambda url, dst, *a, **k: real_download(source.as_uri(), dst, *a, **k)
    )
    calls: list[tuple[int, int]] = []

    model = build_model(ModelConfig("mobilenet_v3_small", weights="imagenet"), 3, progress=lambda d, t: calls.append((d, t)))

    size = source.stat().st_size
    assert weights_cached("mobilenet_v3_small") and weights_cache_path("mobilenet_v3_small").stat().st_size == size
    assert calls[0][0] == 0 and calls[-1] == (size, size)
    assert all(done <= total for done, total in calls)
    _assert_backbone_equal(model, saved, ("classifier.3",))


def test_a_planted_cache_file_that_runs_code_is_refused(torch_home: Path, tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    path = weights_cache_path("resnet18")
    path.parent.mkdir(parents=True)
    torch.save({"fc.weight": _CodeOnLoad(marker)}, path)
    with pytest.raises(ModelError, match="Delete it"):
        build_model(ModelConfig("resnet18", weights="imagenet"), 3)
    assert not marker.exists()


# -- local weight files ----------------------------------------------------------------------------


def _plant_marker(path: str) -> None:
    Path(path).write_text("code ran while loading weights")


class _CodeOnLoad:
    """Unpickling this runs _plant_marker: what a malicious weights file would do."""

    def __init__(self, marker: Path) -> None:
        self.marker = str(marker)

    def __reduce__(self):
        return (_plant_marker, (self.marker,))


def test_local_state_dict_loads_into_the_backbone(tmp_path: Path) -> None:
    saved = _torchvision_state("resnet18")
    path = tmp_path / "resnet18_weights.pth"
    torch.save(saved, path)
    model = build_model(ModelConfig("resnet18", weights=str(path)), 4)
    _assert_backbone_equal(model, saved, ("fc",))
    assert head_module(model).out_features == 4


def test_state_dict_saved_from_data_parallel_loads(tmp_path: Path) -> None:
    saved = _torchvision_state("resnet18")
    path = tmp_path / "ddp.pth"
    torch.save({"module." + k: v for k, v in saved.items()}, path)
    _assert_backbone_equal(build_model(ModelConfig("resnet18", weights=str(path)), 2), saved, ("fc",))


def test_googlenet_file_with_aux_classifiers_loads(tmp_path: Path) -> None:
    saved = _torchvision_state("googlenet")
    assert any(k.startswith("aux1.") for k in saved)
    path = tmp_path / "googlenet.pth"
    torch.save(saved, path)
    model = build_model(ModelConfig("googlenet", weights=str(path)), 3)
    _assert_backbone_equal(model, saved, ("fc",))
    assert isinstance(model.train()(torch.randn(2, 3, 64, 64)), torch.Tensor)


def test_weights_of_another_architecture_do_not_fit(tmp_path: Path) -> None:
    path = tmp_path / "mobilenet.pth"
    torch.save(_torchvision_state("mobilenet_v3_small"), path)
    with pytest.raises(ModelError, match="does not fit resnet18: missing keys") as info:
        build_model(ModelConfig("resnet18", weights=str(path)), 3)
    message = str(info.value)
    assert str(path) in message and "unexpected keys" in message and "more)" in message


def test_shape_mismatch_is_reported(tmp_path: Path) -> None:
    saved = _torchvision_state("resnet18")
    saved["conv1.weight"] = saved["conv1.weight"][:, :1]  # e.g. weights of a grayscale variant
    path = tmp_path / "gray.pth"
    torch.save(saved, path)
    with pytest.raises(ModelError, match=r"does not fit resnet18: shape mismatch conv1.weight \(64, 1, 7, 7\) vs \(64, 3, 7, 7\)"):
        build_model(ModelConfig("resnet18", weights=str(path)), 3)


@pytest.mark.parametrize("content", [b"", b"not a weights file at all", bytes(range(256)) * 8, b"PK\x03\x04garbage"])
def test_unreadable_files_are_model_errors_naming_the_file(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "broken.pth"
    path.write_bytes(content)
    with pytest.raises(ModelError, match="broken.pth"):
        build_model(ModelConfig("resnet18", weights=str(path)), 3)


def test_missing_file_and_non_state_dict_are_model_errors(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match="not found"):
        build_model(ModelConfig("resnet18", weights=str(tmp_path / "nope.pth")), 3)
    path = tmp_path / "list.pth"
    torch.save([torch.zeros(2)], path)
    with pytest.raises(ModelError, match="not a state dict"):
        build_model(ModelConfig("resnet18", weights=str(path)), 3)


@pytest.mark.parametrize("writer", ["torch.save", "pickle"])
def test_a_file_that_would_run_code_is_refused(tmp_path: Path, writer: str) -> None:
    marker = tmp_path / "pwned"
    path = tmp_path / "evil.pth"
    payload = {"conv1.weight": _CodeOnLoad(marker)}
    if writer == "torch.save":
        torch.save(payload, path)
    else:
        path.write_bytes(pickle.dumps(payload, protocol=2))
    with pytest.raises(ModelError, match="evil.pth.*refused for safety"):
        build_model(ModelConfig("resnet18", weights=str(path)), 3)
    assert not marker.exists()
    if writer == "torch.save":  # the payload is live: an unsafe loader would have run it
        torch.load(path, weights_only=False)
        assert marker.exists()


def test_imgcls_checkpoint_seeds_a_model_with_other_classes(tmp_path: Path) -> None:
    old = build_model(ModelConfig("resnet18", weights="none", hidden_size=16, dropout=0.2), 5)
    path = tmp_path / "best.pt"
    torch.save({"format": "imgcls-checkpoint", "version": 1, "model": old.state_dict(), "classes": list("abcde")}, path)

    new = build_model(ModelConfig("resnet18", weights=str(path)), 3)

    _assert_backbone_equal(new, old.state_dict(), ("fc",))
    assert isinstance(head_module(new), torch.nn.Linear) and head_module(new).out_features == 3


def test_inception_checkpoint_without_aux_branch_seeds_a_full_size_model(tmp_path: Path) -> None:
    small = build_model(ModelConfig("inception_v3", weights="none", image_size=96), 5)
    assert small.AuxLogits is None
    path = tmp_path / "small.pt"
    torch.save({"format": "imgcls-checkpoint", "model": small.state_dict()}, path)
    full = build_model(ModelConfig("inception_v3", weights=str(path)), 3)
    _assert_backbone_equal(full, small.state_dict(), ("fc", "AuxLogits"))
    assert full.get_submodule("AuxLogits.fc").out_features == 3


# -- heads, helpers, checkpoints -------------------------------------------------------------------


@pytest.mark.parametrize(
    "hidden, dropout, expected",
    [(0, 0.0, ["Linear"]), (0, 0.3, ["Dropout", "Linear"]), (32, 0.1, ["Dropout", "Linear", "ReLU", "Dropout", "Linear"])],
)
def test_head_layout(hidden: int, dropout: float, expected: list[str]) -> None:
    model = build_model(ModelConfig("mobilenet_v3_small", weights="none", hidden_size=hidden, dropout=dropout), 7)
    head = head_module(model)
    layers = list(head) if isinstance(head, torch.nn.Sequential) else [head]
    assert [type(m).__name__ for m in layers] == expected
    assert layers[-1].out_features == 7
    assert all(m.p == dropout for m in layers if isinstance(m, torch.nn.Dropout))
    assert model.eval()(torch.randn(2, 3, 32, 32)).shape == (2, 7)
    assert spec_of(model) is get_backbone("mobilenet_v3_small")


def test_bad_head_settings_and_names_are_refused() -> None:
    with pytest.raises(ConfigError, match="at least one class"):
        build_model(ModelConfig("resnet18", weights="none"), 0)
    with pytest.raises(ConfigError, match="dropout"):
        build_model(ModelConfig("resnet18", weights="none", dropout=1.0), 3)
    with pytest.raises(ConfigError, match="hidden_size"):
        build_model(ModelConfig("resnet18", weights="none", hidden_size=-1), 3)
    with pytest.raises(ConfigError, match="weights is empty"):
        build_model(ModelConfig("resnet18", weights=" "), 3)
    with pytest.raises(ModelError, match="unknown model"):
        build_model(ModelConfig("resnet7", weights="none"), 3)
    with pytest.raises(ModelError, match="not built by imgcls"):
        spec_of(torchvision.models.resnet18())


def test_count_parameters_splits_trainable_and_frozen() -> None:
    model = build_model(ModelConfig("resnet18", weights="none"), 3)
    total = sum(p.numel() for p in model.parameters())
    assert count_parameters(model) == (total, 0)
    model.layer1.requires_grad_(False)
    frozen = sum(p.numel() for p in model.layer1.parameters())
    assert count_parameters(model) == (total - frozen, frozen)


def test_preprocessing_follows_the_backbone_or_the_override() -> None:
    inception = preprocessing_for(ModelConfig("inception_v3"))
    spec = get_backbone("inception_v3")
    assert (inception.image_size, inception.resize_size) == (spec.input_size, spec.resize_size)
    resnet50 = get_backbone("resnet50")
    assert preprocessing_for(ModelConfig("resnet50")).resize_size == resnet50.resize_size
    small = preprocessing_for(ModelConfig("resnet18", image_size=112))
    assert (small.image_size, small.resize_size) == (112, 128)
    with pytest.raises(ConfigError, match="at least 75"):
        preprocessing_for(ModelConfig("inception_v3", image_size=64))
    with pytest.raises(ConfigError):
        preprocessing_for(ModelConfig("resnet18", image_size=-1))


def test_model_from_checkpoint_rebuilds_the_trained_model() -> None:
    cfg = ModelConfig("resnet18", weights="/somewhere/else.pth", hidden_size=8, dropout=0.2)
    trained = build_model(ModelConfig(**{**cfg.__dict__, "weights": "none"}), 4).eval()
    ckpt = {"config": RunConfig(model=cfg).to_dict(), "classes": list("abcd"), "model": trained.state_dict()}

    model = model_from_checkpoint(ckpt)

    assert not model.training
    images = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        assert torch.equal(model(images), trained(images))
    with pytest.raises(CheckpointError, match="do not fit"):
        model_from_checkpoint({**ckpt, "classes": list("abc")})
    with pytest.raises(CheckpointError, match="model config"):
        model_from_checkpoint({"model": {}})


def test_a_weights_mirror_keeps_torchvisions_file_name(monkeypatch: pytest.MonkeyPatch) -> None:
    from imgcls_gui.engine.models.build import MIRROR_ENV, download_url

    url = torchvision.models.get_weight(get_backbone("resnet18").weights).url
    monkeypatch.delenv(MIRROR_ENV, raising=False)
    assert download_url(url) == url
    monkeypatch.setenv(MIRROR_ENV, "file:///srv/weights/")
    assert download_url(url) == "file:///srv/weights/" + url.rsplit("/", 1)[1]
