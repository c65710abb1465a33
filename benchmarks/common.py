"""Shared bits of the benchmark scripts: data location, machine description, a BN-calibrated init.

Pretrained weights cannot be downloaded on our build machines, so both sides of every comparison
start from the same randomly initialised backbone whose BatchNorm statistics were calibrated on
real photos (flowers17): features are then informative enough for accuracies to be comparable.
With torchvision's ImageNet weights cached, pass --weights imagenet to use them instead.
"""

from __future__ import annotations

import datetime
import os
import platform
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "datasets"
sys.path.insert(0, str(ROOT))


def machine() -> str:
    import torch

    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "no GPU"
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return f"{platform.system()} {platform.machine()}, {cores} cores, {gpu}, torch {torch.__version__}"


def stamp() -> str:
    return datetime.date.today().isoformat()


def calibrated_init(name: str, out: Path, *, images: int = 256, seed: int = 0) -> Path:
    """A state dict of torchvision ``name`` (random weights, BN stats measured on flowers17 photos)."""
    import torch
    import torchvision
    from torchvision import datasets
    from torchvision.transforms import v2

    if out.is_file():
        return out
    torch.manual_seed(seed)
    model = getattr(torchvision.models, name)(weights=None)
    tf = v2.Compose([v2.ToImage(), v2.Resize(256), v2.CenterCrop(224), v2.ToDtype(torch.float32, scale=True),
                     v2.Normalize([0.485, 0.456, 0.406], [0.229, 0.224, 0.225])])
    folder = datasets.ImageFolder(str(SHARED / "flowers17"), transform=tf)
    subset = torch.utils.data.Subset(folder, torch.randperm(len(folder))[:images].tolist())
    for module in model.modules():
        if isinstance(module, torch.nn.modules.batchnorm._BatchNorm):
            module.reset_running_stats()
            module.momentum = None  # cumulative average over the calibration images
    model.train()
    with torch.no_grad():
        for x, _ in torch.utils.data.DataLoader(subset, batch_size=32, num_workers=1):
            model(x)
    out.parent.mkdir(parents=True, exist_ok=True)
    torch.save(model.state_dict(), out)
    return out


def update_results(title: str, section: str, path: Path) -> None:
    """Replace the section headed ``title`` in RESULTS.md (other sections belong to other benchmarks)."""
    text = path.read_text(encoding="utf-8") if path.is_file() else "# Benchmark results\n"
    if title in text:
        start = text.index(title)
        following = text.find("\n## ", start + len(title))
        text = text[:start] + section + (text[following + 1:] if following >= 0 else "")
    else:
        text = text.rstrip("\n") + "\n\n" + section
    from imgcls_gui.engine.checkpoint import atomic_write_text

    atomic_write_text(path, text.rstrip("\n") + "\n")
