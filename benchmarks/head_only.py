"""Head-only training: imgcls (feature cache) vs the PyTorch transfer-learning tutorial's loop.

hymenoptera, resnet18 at 224 px, everything but the head frozen, 20 epochs, same init, threads,
batch size and optimizer on both sides. Prints wall times, the speed ratio and both validation
accuracies. ``--whole-process`` (issue 16) also times each side as a user runs it, a fresh Python
process from start to exit: `imgcls train` (fresh feature cache) against the plain loop as a script.
Usage: python benchmarks/head_only.py [--epochs 20] [--views 0 2] [--device cpu] [--whole-process]
"""

from __future__ import annotations

import argparse
import copy
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from common import SHARED, calibrated_init, machine, stamp


def plain_loop(init: Path, epochs: int, batch: int, workers: int, device: str) -> tuple[float, float]:
    """The tutorial's 'ConvNet as fixed feature extractor' loop, unchanged in shape."""
    import torch
    import torchvision
    from torchvision import datasets, transforms

    tf = {
        "train": transforms.Compose([transforms.RandomResizedCrop(224), transforms.RandomHorizontalFlip(),
                                     transforms.ToTensor(), transforms.Normalize([0.485, 0.456, 0.406], [0.229, 0.224, 0.225])]),
        "val": transforms.Compose([transforms.Resize(256), transforms.CenterCrop(224), transforms.ToTensor(),
                                   transforms.Normalize([0.485, 0.456, 0.406], [0.229, 0.224, 0.225])]),
    }
    sets = {x: datasets.ImageFolder(str(SHARED / "hymenoptera" / x), tf[x]) for x in ("train", "val")}
    loaders = {x: torch.utils.data.DataLoader(sets[x], batch_size=batch, shuffle=x == "train", num_workers=workers)
               for x in ("train", "val")}
    torch.manual_seed(0)
    model = torchvision.models.resnet18(weights=None)
    model.load_state_dict(torch.load(init, weights_only=True))
    for p in model.parameters():
        p.requires_grad = False
    model.fc = torch.nn.Linear(model.fc.in_features, 2)
    model = model.to(device)
    criterion = torch.nn.CrossEntropyLoss()
    optimizer = torch.optim.SGD(model.fc.parameters(), lr=0.001, momentum=0.9)
    scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=7, gamma=0.1)
    best_acc, best_state = 0.0, None
    started = time.perf_counter()
    for _epoch in range(epochs):
        for phase in ("train", "val"):
            model.train() if phase == "train" else model.eval()
            correct = 0
            for inputs, labels in loaders[phase]:
                inputs, labels = inputs.to(device), labels.to(device)
                optimizer.zero_grad()
                with torch.set_grad_enabled(phase == "train"):
                    outputs = model(inputs)
                    loss = criterion(outputs, labels)
                    if phase == "train":
                        loss.backward()
                        optimizer.step()
                correct += (outputs.argmax(1) == labels).sum().item()
            if phase == "train":
                scheduler.step()
            else:
                acc = correct / len(sets["val"])
                if acc > best_acc:
                    best_acc, best_state = acc, copy.deepcopy(model.state_dict())
    return time.perf_counter() - started, best_acc


def imgcls_run(init: Path, epochs: int, batch: int, workers: int, device: str, views: int, cache_dir: Path) -> tuple[float, float]:
    from imgcls_gui.engine.config import (AugmentConfig, DataConfig, FreezeConfig, ModelConfig, OptimConfig,
                                          RunConfig, TrainConfig)
    from imgcls_gui.engine.training.trainer import Trainer

    cfg = RunConfig(
        data=DataConfig(path=str(SHARED / "hymenoptera"), num_workers=workers),
        augment=AugmentConfig(),  # random resized crop + horizontal flip, as the tutorial
        model=ModelConfig(name="resnet18", weights=str(init)),
        freeze=FreezeConfig(mode="head"),
        optim=OptimConfig(optimizer="sgd", lr=0.001, momentum=0.9, weight_decay=0.0, scheduler="step", step_size=7, gamma=0.1),
        train=TrainConfig(epochs=epochs, batch_size=batch, device=device, feature_views=views,
                          feature_cache_dir=str(cache_dir)),
    )
    with tempfile.TemporaryDirectory() as run_dir:
        started = time.perf_counter()
        result = Trainer(cfg, Path(run_dir) / "run").fit()
        return time.perf_counter() - started, result.final["accuracy"]


def whole_processes(init: Path, args: argparse.Namespace, tmp: Path) -> None:
    """Wall time of each side as a fresh process (start-up and imports included), `imgcls train` twice:
    with a fresh feature cache, then with the cache the first run filled."""
    def timed(command: list[str], env: dict[str, str] | None = None) -> float:
        started = time.perf_counter()
        subprocess.run(command, check=True, env=env, stdout=subprocess.DEVNULL)
        return time.perf_counter() - started

    here = str(Path(__file__).resolve())
    plain_s = timed([sys.executable, here, "--plain-child", str(init), "--epochs", str(args.epochs),
                     "--batch-size", str(args.batch_size), "--workers", str(args.workers), "--device", args.device])
    print(f"whole process, plain tutorial loop: {plain_s:8.1f} s", flush=True)
    repo_path = os.pathsep.join(filter(None, [str(Path(here).parents[1]), os.environ.get("PYTHONPATH")]))
    env = {**os.environ, "IMGCLS_CACHE_DIR": str(tmp / "process-cache"), "PYTHONPATH": repo_path}
    for index, label in enumerate(("fresh feature cache", "cache from the run before")):
        out = tmp / f"process-run-{index}"
        ours_s = timed([sys.executable, "-m", "imgcls_gui.cli", "train", str(SHARED / "hymenoptera"), "--out", str(out),
                        "--model", "resnet18", "--weights", str(init), "--freeze", "head", "--optimizer", "sgd",
                        "--lr", "0.001", "--momentum", "0.9", "--weight-decay", "0", "--scheduler", "step",
                        "--step-size", "7", "--gamma", "0.1", "--epochs", str(args.epochs), "--batch-size",
                        str(args.batch_size), "--workers", str(args.workers), "--device", args.device, "--quiet"], env)
        print(f"whole process, imgcls train, {label}: {ours_s:8.1f} s  speed-up {plain_s / ours_s:5.1f}x", flush=True)


def main() -> None:
    import torch

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--views", type=int, nargs="+", default=[0, 2, 4])
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--whole-process", action="store_true", help="also time each side as a fresh process")
    parser.add_argument("--plain-child", metavar="INIT", help=argparse.SUPPRESS)  # the plain side's own process
    args = parser.parse_args()
    if args.plain_child:
        plain_loop(Path(args.plain_child), args.epochs, args.batch_size, args.workers, args.device)
        return
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        init = calibrated_init("resnet18", tmp / "resnet18-init.pt")
        print(f"# head_only.py, {stamp()}, {machine()}, threads {torch.get_num_threads()}, device {args.device}")
        plain_s, plain_acc = plain_loop(init, args.epochs, args.batch_size, args.workers, args.device)
        print(f"plain tutorial loop: {plain_s:8.1f} s  val accuracy {plain_acc:.3f}", flush=True)
        for views in args.views:
            # A fresh cache folder per setting: the timing includes extracting every feature.
            ours_s, ours_acc = imgcls_run(init, args.epochs, args.batch_size, args.workers, args.device, views, tmp / f"cache{views}")
            print(f"imgcls, {views} aug views: {ours_s:8.1f} s  val accuracy {ours_acc:.3f}  "
                  f"speed-up {plain_s / ours_s:5.1f}x  accuracy {100 * (ours_acc - plain_acc):+.1f} points")
        if args.whole_process:
            whole_processes(init, args, tmp)


if __name__ == "__main__":
    main()
