"""Hyper-parameter search: 30 head-only trials against ONE plain 20-epoch head-only run of the tutorial loop.

hymenoptera, resnet18 at 224 px, everything but the head frozen. The reference is head_only.py's
plain PyTorch loop (the transfer-learning tutorial's "fixed feature extractor"), 20 epochs. The
search runs ``--trials`` trials of ``--epochs`` epochs each over the head-only space below (fresh
feature cache: the timing includes extracting every feature once), then one run with the default
options. Same init on every side (common.calibrated_init, or --weights imagenet when cached).
Target: the search in at most 2x the plain run's wall time, its best validation accuracy at least
the default options'. Usage: python benchmarks/search.py [--trials 30] [--epochs 20] [--device cpu]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from common import ROOT, SHARED, calibrated_init, machine, stamp, update_results
from head_only import plain_loop

HEAD_ONLY_SPACE = {
    "lr": {"low": 1e-4, "high": 1e-1, "log": True},
    "weight_decay": {"low": 1e-6, "high": 1e-2, "log": True},
    "optimizer": ["adamw", "sgd"],
    "dropout": {"low": 0.0, "high": 0.5},
    "hidden_size": [0, 256, 512],
    "label_smoothing": {"low": 0.0, "high": 0.2},
}


def base_config(weights: str, epochs: int, batch: int, workers: int, device: str, cache_dir: Path):
    from imgcls_gui.engine import DataConfig, FreezeConfig, ModelConfig, RunConfig, TrainConfig

    return RunConfig(
        data=DataConfig(path=str(SHARED / "hymenoptera"), num_workers=workers),
        model=ModelConfig(name="resnet18", weights=weights),
        freeze=FreezeConfig(mode="head"),
        train=TrainConfig(epochs=epochs, batch_size=batch, device=device, feature_cache_dir=str(cache_dir)),
    )


def main() -> None:
    import torch

    from imgcls_gui.engine import Search, SearchSettings, Trainer, parse_space

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--trials", type=int, default=30)
    parser.add_argument("--epochs", type=int, default=20, help="epochs of the plain run and of each trial")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--weights", default="calibrated", help="calibrated (random, BN calibrated) or imagenet")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--record", action="store_true", help="write the figures into benchmarks/RESULTS.md")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        init = calibrated_init("resnet18", tmp / "resnet18-init.pt")
        weights = "imagenet" if args.weights == "imagenet" else str(init)
        header = f"# search.py, {stamp()}, {machine()}, threads {torch.get_num_threads()}, device {args.device}"
        print(header, flush=True)
        plain_s, plain_acc = plain_loop(init, args.epochs, args.batch_size, args.workers, args.device)
        print(f"plain tutorial loop, one {args.epochs}-epoch run: {plain_s:8.1f} s  val accuracy {plain_acc:.3f}", flush=True)

        base = base_config(weights, args.epochs, args.batch_size, args.workers, args.device, tmp / "cache")
        started = time.perf_counter()
        result = Search(tmp / "search").start(base, parse_space(HEAD_ONLY_SPACE),
                                              SearchSettings(trials=args.trials, metric="accuracy"))
        search_s = time.perf_counter() - started
        states = [t.state for t in result.trials]
        best = result.best
        print(f"imgcls tune, {args.trials} trials x {args.epochs} epochs: {search_s:8.1f} s  "
              f"({states.count('complete')} complete, {states.count('pruned')} pruned)  "
              f"best val accuracy {best.value:.3f}  = {search_s / plain_s:.2f}x the plain run", flush=True)
        started = time.perf_counter()
        default = Trainer(base, tmp / "default").fit()
        default_s = time.perf_counter() - started
        default_acc = default.final["accuracy"]
        print(f"imgcls default options, one run: val accuracy {default_acc:.3f} "
              f"(best trial {100 * (best.value - default_acc):+.1f} points)")
        top = ", ".join(f"{k} {v:.2f}" for k, v in list(result.importance.items())[:3])
        print(f"most important: {top}")
        print("best settings: " + ", ".join(f"{k}={v:.3g}" if isinstance(v, float) else f"{k}={v}"
                                              for k, v in best.params.items()))
        if args.record:
            init_words = "ImageNet weights" if args.weights == "imagenet" else \
                "random resnet18 with BatchNorm statistics calibrated on flowers17 (common.calibrated_init)"
            section = (
                "## Hyper-parameter search (benchmarks/search.py)\n\n"
                f"{header[2:]}; a shared machine under load from other jobs. Init for every side: {init_words}.\n"
                f"hymenoptera, resnet18 at 224 px, head only, {args.epochs} epochs per run and per trial.\n\n"
                "| what | wall time | val accuracy |\n|---|---|---|\n"
                f"| plain tutorial loop, one run | {plain_s:.0f} s | {plain_acc:.3f} |\n"
                f"| imgcls tune, {args.trials} trials ({states.count('pruned')} pruned) | {search_s:.0f} s "
                f"({search_s / plain_s:.2f}x the plain run) | best {best.value:.3f} |\n"
                f"| imgcls, default options, one run (features cached) | {default_s:.0f} s | {default_acc:.3f} |\n\n"
                f"Most important parameters (fANOVA): {top}. Target: the search in at most 2x the plain run "
                f"({'met' if search_s <= 2 * plain_s else 'missed'}), its best accuracy at least the default options' "
                f"({'met' if best.value >= default_acc else 'missed'}).\n"
            )
            update_results("## Hyper-parameter search", section, ROOT / "benchmarks" / "RESULTS.md")


if __name__ == "__main__":
    main()
