"""Learning-rate finder: training at the suggested rate vs at the default rate (issue 15).

Two settings on hymenoptera, each trained twice from the same init, seed and split, once at the
default learning rate (1e-3, AdamW, cosine) and once at the rate ``find_lr`` recommends (valley);
prints both validation accuracies (best epoch) and the sweep's time:
  - head only: resnet18 at 224 px, backbone frozen (sweep and training on cached features);
    also trained at the other two rules' rates, which costs seconds here;
  - full fine-tune: mobilenet_v3_small, every layer training (``--size`` px, smaller than 224 to fit
    a loaded 2-core CPU).
The backbones start from ``benchmarks/common.py``'s init (random weights, BatchNorm statistics
measured on flowers17): ImageNet weights cannot be downloaded on our machines.
Usage: python benchmarks/lr_find.py [--head-epochs 10] [--full-epochs 5] [--size 128] [--skip-full]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from common import SHARED, calibrated_init, machine, stamp


def config(name: str, init: Path, freeze: str, epochs: int, size: int, cache: Path, device: str):
    from imgcls_gui.engine.config import DataConfig, FreezeConfig, ModelConfig, RunConfig, TrainConfig

    return RunConfig(
        data=DataConfig(path=str(SHARED / "hymenoptera"), num_workers=1),
        model=ModelConfig(name=name, weights=str(init), image_size=size),
        freeze=FreezeConfig(mode=freeze),
        train=TrainConfig(epochs=epochs, batch_size=32, device=device, feature_cache_dir=str(cache)),
    )  # optimizer and schedule: RunConfig's defaults (AdamW, lr 1e-3, cosine, weight decay 1e-4)


def train_at(cfg, lr: float, out: Path) -> float:
    import dataclasses

    from imgcls_gui.engine.training.trainer import Trainer

    result = Trainer(cfg.replace(optim=dataclasses.replace(cfg.optim, lr=lr)), out).fit()
    return result.final["accuracy"]


def compare(title: str, cfg, tmp: Path, steps: int, every_rule: bool) -> list[str]:
    from imgcls_gui.engine.training.lr_find import find_lr

    started = time.perf_counter()
    sweep = find_lr(cfg, tmp / f"{title}-sweep", steps=steps)
    sweep_s = time.perf_counter() - started
    default = cfg.optim.lr
    rates = {"default": default, "valley (recommended)": sweep.recommended}
    if every_rule:
        rates.update({rule: lr for rule, lr in sweep.suggestions.items() if rule != "valley"})
    lines = [f"{title}: sweep {len(sweep.lrs)} steps in {sweep_s:.1f} s (on features: {sweep.on_features}); "
             f"suggestions {', '.join(f'{k} {v:.2g}' for k, v in sweep.suggestions.items())}"]
    accuracy = {}
    for label, lr in rates.items():
        started = time.perf_counter()
        accuracy[label] = train_at(cfg, lr, tmp / f"{title}-{label.split()[0]}")
        lines.append(f"  {label:<22} lr {lr:.2g}: val accuracy {accuracy[label]:.3f}  "
                     f"({time.perf_counter() - started:.0f} s)")
        print(lines[-1], flush=True)
    gain = accuracy["valley (recommended)"] - accuracy["default"]
    lines.append(f"  suggested - default: {100 * gain:+.1f} points")
    print(lines[0], lines[-1], sep="\n", flush=True)
    return lines


def main() -> None:
    import torch

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--head-epochs", type=int, default=10)
    parser.add_argument("--full-epochs", type=int, default=5)
    parser.add_argument("--size", type=int, default=128, help="image size of the full fine-tune")
    parser.add_argument("--steps", type=int, default=200, help="sweep steps (head only)")
    parser.add_argument("--full-steps", type=int, default=100, help="sweep steps (full fine-tune)")
    parser.add_argument("--skip-full", action="store_true")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    args = parser.parse_args()
    print(f"# lr_find.py, {stamp()}, {machine()}, threads {torch.get_num_threads()}, device {args.device}")
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        resnet = calibrated_init("resnet18", tmp / "resnet18-init.pt")
        head = config("resnet18", resnet, "head", args.head_epochs, 224, tmp / "cache", args.device)
        compare("head-only resnet18", head, tmp, args.steps, every_rule=True)
        if not args.skip_full:
            mobilenet = calibrated_init("mobilenet_v3_small", tmp / "mobilenet-init.pt")
            full = config("mobilenet_v3_small", mobilenet, "none", args.full_epochs, args.size, tmp / "cache",
                          args.device)
            compare("full mobilenet_v3_small", full, tmp, args.full_steps, every_rule=False)


if __name__ == "__main__":
    main()
