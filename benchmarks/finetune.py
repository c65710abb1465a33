"""Full fine-tuning throughput: imgcls's trainer vs a plain torchvision loop, images/s.

Same model, init, image size, batch size, threads, optimizer, augmentation and workers; both
train one epoch over hymenoptera/train and validate on hymenoptera/val, measured twice after a
warm-up. Prints images/s of each and the ratio (target >= 1.0: no overhead from our events,
metrics or checkpoints). With CUDA present, also ResNet-50 AMP training images/s and the share of
synthetic-data throughput that the real pipeline reaches.
On the CPU, imgcls runs once per ``--cpu-speed`` choice (train.cpu_speed; issue 16: channels-last and
bf16 autocast), each against the same plain fp32 loop, with each run's validation accuracy.
Usage: python benchmarks/finetune.py [--models resnet18 mobilenet_v3_small] [--epochs 2]
       [--cpu-speed off auto channels-last] [--image-size 224]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from common import SHARED, calibrated_init, machine, stamp


def plain_epochs(name: str, init: Path, epochs: int, batch: int, workers: int, device: str, size: int = 224) -> float:
    """Seconds per epoch (train + val) of the tutorial-shaped loop, after a warm-up epoch."""
    import torch
    import torchvision
    from torchvision import datasets, transforms

    norm = transforms.Normalize([0.485, 0.456, 0.406], [0.229, 0.224, 0.225])
    train = datasets.ImageFolder(str(SHARED / "hymenoptera" / "train"), transforms.Compose(
        [transforms.RandomResizedCrop(size), transforms.RandomHorizontalFlip(), transforms.ToTensor(), norm]))
    val = datasets.ImageFolder(str(SHARED / "hymenoptera" / "val"), transforms.Compose(
        [transforms.Resize(size * 256 // 224), transforms.CenterCrop(size), transforms.ToTensor(), norm]))
    loaders = {
        "train": torch.utils.data.DataLoader(train, batch_size=batch, shuffle=True, num_workers=workers, persistent_workers=workers > 0),
        "val": torch.utils.data.DataLoader(val, batch_size=batch, num_workers=workers, persistent_workers=workers > 0),
    }
    torch.manual_seed(0)
    model = getattr(torchvision.models, name)(weights=None)
    model.load_state_dict(torch.load(init, weights_only=True))
    _replace_head(model, name)
    model = model.to(device)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4, weight_decay=1e-4)
    criterion = torch.nn.CrossEntropyLoss()
    times = []
    for _ in range(epochs + 1):
        started = time.perf_counter()
        model.train()
        for x, y in loaders["train"]:
            x, y = x.to(device), y.to(device)
            optimizer.zero_grad()
            criterion(model(x), y).backward()
            optimizer.step()
        model.eval()
        with torch.no_grad():
            for x, y in loaders["val"]:
                model(x.to(device))
        times.append(time.perf_counter() - started)
    return min(times[1:])


def imgcls_epochs(name: str, init: Path, epochs: int, batch: int, workers: int, device: str, size: int = 224,
                  cpu_speed: str = "auto") -> tuple[float, float]:
    """(seconds of the fastest epoch after the first, the run's best validation accuracy)."""
    from imgcls_gui.engine import events as ev
    from imgcls_gui.engine.config import DataConfig, FreezeConfig, ModelConfig, OptimConfig, RunConfig, TrainConfig
    from imgcls_gui.engine.training.trainer import Trainer

    class EpochClock:
        def __init__(self) -> None:
            self.marks: list[float] = []

        def on_event(self, event: object) -> None:
            if isinstance(event, (ev.EpochStart, ev.FitEnd)):
                self.marks.append(time.perf_counter())

    cfg = RunConfig(
        data=DataConfig(path=str(SHARED / "hymenoptera"), num_workers=workers),
        model=ModelConfig(name=name, weights=str(init), image_size=0 if size == 224 else size),
        freeze=FreezeConfig(mode="none"),
        optim=OptimConfig(optimizer="adamw", lr=1e-4, scheduler="constant"),
        train=TrainConfig(epochs=epochs + 1, batch_size=batch, device=device, cpu_speed=cpu_speed),
    )
    clock = EpochClock()
    with tempfile.TemporaryDirectory() as run_dir:
        result = Trainer(cfg, Path(run_dir) / "run", callbacks=[clock]).fit()
    per_epoch = [b - a for a, b in zip(clock.marks, clock.marks[1:])]
    return min(per_epoch[1:]), result.final.get("accuracy", float("nan"))  # epochs include validation, checkpoints


def _replace_head(model, name: str) -> None:
    import torch

    if name.startswith("resnet"):
        model.fc = torch.nn.Linear(model.fc.in_features, 2)
    else:
        model.classifier[-1] = torch.nn.Linear(model.classifier[-1].in_features, 2)


def gpu_section(batch: int) -> None:
    """ResNet-50 AMP training on CUDA: real pipeline images/s vs synthetic tensors already on the GPU."""
    import torch
    import torchvision

    model = torchvision.models.resnet50(weights=None).cuda().to(memory_format=torch.channels_last)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    x = torch.randn(batch, 3, 224, 224, device="cuda").contiguous(memory_format=torch.channels_last)
    y = torch.randint(0, 1000, (batch,), device="cuda")
    for _ in range(5):
        with torch.autocast("cuda", dtype=torch.bfloat16):
            loss = torch.nn.functional.cross_entropy(model(x), y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    torch.cuda.synchronize()
    started, steps = time.perf_counter(), 30
    for _ in range(steps):
        with torch.autocast("cuda", dtype=torch.bfloat16):
            loss = torch.nn.functional.cross_entropy(model(x), y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    torch.cuda.synchronize()
    synthetic = steps * batch / (time.perf_counter() - started)
    print(f"GPU resnet50 AMP synthetic: {synthetic:.0f} img/s (batch {batch})")
    from imgcls_gui.engine.config import DataConfig, FreezeConfig, ModelConfig, RunConfig, TrainConfig
    from imgcls_gui.engine.training.trainer import Trainer

    cfg = RunConfig(data=DataConfig(path=str(SHARED / "flowers17")), model=ModelConfig(name="resnet50", weights="none"),
                    freeze=FreezeConfig(mode="none"), train=TrainConfig(epochs=3, batch_size=batch, device="cuda"))
    with tempfile.TemporaryDirectory() as run_dir:
        result = Trainer(cfg, Path(run_dir) / "run").fit()
    real = max(h["images_per_s"] for h in result.history)
    print(f"GPU resnet50 AMP real pipeline (flowers17): {real:.0f} img/s = {100 * real / synthetic:.0f}% of synthetic")


def main() -> None:
    import torch

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--models", nargs="+", default=["resnet18", "mobilenet_v3_small"])
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--cpu-speed", nargs="+", default=["off", "auto"], help="train.cpu_speed choices to run")
    parser.add_argument("--image-size", type=int, default=224)
    args = parser.parse_args()
    print(f"# finetune.py, {stamp()}, {machine()}, threads {torch.get_num_threads()}, device {args.device}, "
          f"{args.image_size} px")
    speeds = args.cpu_speed if args.device == "cpu" else ["auto"]
    if args.device == "cpu":
        from imgcls_gui.engine.device import cpu_capabilities, resolve_cpu_speed

        caps = cpu_capabilities()
        flags = [k for k in ("avx2", "avx512", "avx512_vnni", "avx512_bf16", "amx_bf16", "bf16") if caps.get(k)]
        print(f"# CPU flags: {', '.join(flags) or 'none listed'}; cpu_speed auto = "
              f"{resolve_cpu_speed('auto', caps).describe()}")
    images = sum(1 for _ in (SHARED / "hymenoptera").rglob("*.*"))
    common = (args.epochs, args.batch_size, args.workers, args.device, args.image_size)
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.models:
            init = calibrated_init(name, Path(tmp) / f"{name}.pt")
            # Alternate the sides so a change in machine load hits all; keep each side's best epoch.
            plain = float("inf")
            ours = {speed: (float("inf"), float("nan")) for speed in speeds}
            for _round in range(args.rounds):
                plain = min(plain, plain_epochs(name, init, *common))
                for speed in speeds:
                    seconds, accuracy = imgcls_epochs(name, init, *common, cpu_speed=speed)
                    ours[speed] = min(ours[speed], (seconds, accuracy))
            for speed, (seconds, accuracy) in ours.items():
                print(f"{name:<20} plain {images / plain:6.1f} img/s   imgcls cpu_speed={speed:<18} "
                      f"{images / seconds:6.1f} img/s   ratio {plain / seconds:4.2f}x  val acc {accuracy:.3f}  "
                      f"(train+val epoch: {plain:.1f}s vs {seconds:.1f}s)")
    if torch.cuda.is_available():
        gpu_section(128)
    else:
        print("GPU section: not measured (no CUDA device)")


if __name__ == "__main__":
    main()
