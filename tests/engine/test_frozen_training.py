"""A real training run leaves frozen layer groups exactly as loaded: weights and BatchNorm statistics.

The unit test in test_freezing.py checks ``set_frozen_batchnorm_eval`` on its own; this one checks that
training calls it: a frozen BatchNorm left in train mode updates its running statistics at every batch
although its weights never move, and the model no longer matches the features it was frozen for.
"""

from __future__ import annotations

from pathlib import Path

import torch
import torchvision

from imgcls_gui.engine.checkpoint import load_checkpoint
from imgcls_gui.engine.config import FreezeConfig, ModelConfig
from imgcls_gui.engine.training.trainer import Trainer

from .test_training import tiny_config
from .tiny_data import make_class_folders


def _pretrained_file(path: Path) -> dict[str, torch.Tensor]:
    """A torchvision resnet18 state dict (ImageNet layout) whose BatchNorm statistics are not the defaults."""
    torch.manual_seed(0)
    model = torchvision.models.resnet18(weights=None)
    for module in model.modules():
        if isinstance(module, torch.nn.BatchNorm2d):
            module.running_mean.uniform_(-0.5, 0.5)
            module.running_var.uniform_(0.5, 2.0)
    state = {k: v.clone() for k, v in model.state_dict().items()}
    torch.save(state, path)
    return state


def test_first_n_frozen_groups_keep_weights_and_batchnorm_statistics(tmp_path: Path):
    data = make_class_folders(tmp_path / "data", per_class=8, size=32)
    loaded = _pretrained_file(tmp_path / "resnet18.pth")
    cfg = tiny_config(data, epochs=1).replace(
        model=ModelConfig(name="resnet18", weights=str(tmp_path / "resnet18.pth"), image_size=32),
        freeze=FreezeConfig(mode="first-n", groups=2),  # stem and layer1 frozen; layer2 onward trains
    )
    Trainer(cfg, tmp_path / "run").fit()
    trained = load_checkpoint(tmp_path / "run" / "last.pt")["model"]

    def changed(key: str) -> bool:
        return not torch.equal(trained[key].to(loaded[key].dtype), loaded[key])

    frozen = [k for k in loaded if k.startswith(("conv1.", "bn1.", "layer1."))]
    statistics = [k for k in frozen if k.endswith(("running_mean", "running_var"))]
    assert len(statistics) == 2 * 5  # bn1 and the four BatchNorms of layer1
    assert [k for k in frozen if not k.endswith("num_batches_tracked") and changed(k)] == []
    assert all(changed(f"layer2.0.bn1.{name}") for name in ("running_mean", "running_var", "weight"))
