"""Data-parallel scaling on CPUs: imgcls training in 1 process (1 and 2 threads) and in 2 Gloo processes.

    python benchmarks/distributed.py [--images 96] [--size 64] [--epochs 3] [--batch 8]

imgcls side: ``imgcls train`` on generated images (decoded once, cached in memory); the figure is the
last epoch's images/s from metrics.json (process start-up and the first, warming epoch left out).
Reference: a plain PyTorch loop on random tensors, the same model and batch, in the same three set-ups
(1 thread, 2 threads, 2 DistributedDataParallel processes over Gloo with 1 thread each), so the
ratios show what imgcls's data path and bookkeeping cost, and scaling efficiency = 2-process images/s
/ (2 x 1-process images/s). On a CUDA machine it also reports single-GPU AMP images/s on random tensors
and the cost of DDP with one process (world size 1) against the bare model; multi-GPU scaling needs
more than one GPU.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from common import ROOT, machine, stamp

MODEL = "mobilenet_v3_small"


def imgcls_rate(data: Path, out: Path, args: argparse.Namespace, *, threads: int, nproc: int | None) -> float:
    """Last-epoch images/s of an imgcls run with ``threads`` per process (``nproc`` processes, or plain)."""
    env = {**os.environ, "OMP_NUM_THREADS": str(threads), "PYTHONPATH": str(ROOT)}
    cmd = [sys.executable, "-m", "imgcls_gui.cli", "train", str(data), "--out", str(out), "--model", MODEL,
           "--weights", "none", "--image-size", str(args.size), "--epochs", str(args.epochs), "--batch-size",
           str(args.batch), "--device", "cpu", "--workers", "0", "--freeze", "none", "--cache-images",
           "--val-fraction", "0.2", "--quiet"]
    if nproc:
        cmd += ["--nproc-per-node", str(nproc)]
    subprocess.run(cmd, check=True, env=env, stdout=subprocess.DEVNULL)
    return float(json.loads((out / "metrics.json").read_text())["history"][-1]["images_per_s"])


def plain_loop(steps: int, batch: int, size: int, device: str = "cpu", amp: bool = False, ddp: bool = False) -> float:
    """images/s of a bare PyTorch training loop on random tensors (this process; DDP if a group is up)."""
    import torch
    import torchvision

    torch.manual_seed(0)
    model = getattr(torchvision.models, MODEL)(num_classes=2).to(device)
    module = torch.nn.parallel.DistributedDataParallel(model, device_ids=[0] if device == "cuda" else None) \
        if ddp else model
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
    images = torch.randn(batch, 3, size, size, device=device)
    targets = torch.randint(0, 2, (batch,), device=device)
    loss_fn = torch.nn.CrossEntropyLoss()

    def step() -> None:
        with torch.autocast(device, dtype=torch.float16, enabled=amp):
            loss = loss_fn(module(images), targets)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()

    for _ in range(3):
        step()
    if device == "cuda":
        torch.cuda.synchronize()
    started = time.perf_counter()
    for _ in range(steps):
        step()
    if device == "cuda":
        torch.cuda.synchronize()
    return steps * batch / (time.perf_counter() - started)


def _plain_rank(rank: int, world: int, port: int, steps: int, batch: int, size: int, out: str) -> None:
    import torch
    import torch.distributed as dist

    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank, world_size=world)
    rate = plain_loop(steps, batch, size, ddp=True)
    total = torch.tensor([rate])
    dist.all_reduce(total)
    if rank == 0:
        Path(out).write_text(str(float(total)))
    dist.destroy_process_group()


def plain_ddp_rate(world: int, steps: int, batch: int, size: int) -> float:
    """Images/s of ``world`` plain DDP processes over Gloo (1 thread each), summed."""
    import torch.multiprocessing as mp

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with tempfile.NamedTemporaryFile(suffix=".txt", delete=False) as handle:
        out = handle.name
    mp.spawn(_plain_rank, args=(world, port, steps, batch, size, out), nprocs=world)
    return float(Path(out).read_text())


def gpu_section(steps: int) -> list[str]:
    """Single-GPU AMP images/s and the overhead of DDP with one process (CUDA only)."""
    import torch
    import torch.distributed as dist

    if not torch.cuda.is_available():
        return ["GPU: none here, section skipped (single-GPU AMP images/s and the DDP world-size-1 overhead)."]
    bare = plain_loop(steps, 64, 224, "cuda", amp=True)
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    dist.init_process_group("nccl", init_method=f"tcp://127.0.0.1:{port}", rank=0, world_size=1)
    wrapped = plain_loop(steps, 64, 224, "cuda", amp=True, ddp=True)
    dist.destroy_process_group()
    return [f"GPU {torch.cuda.get_device_name(0)}, {MODEL} 224 px, batch 64, AMP fp16, random tensors:",
            f"  bare model {bare:.0f} images/s; inside DDP (world size 1, NCCL) {wrapped:.0f} images/s "
            f"(DDP overhead {100 * (1 - wrapped / bare):.1f}%)"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=96)
    parser.add_argument("--size", type=int, default=64)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--steps", type=int, default=30, help="steps of the plain PyTorch reference")
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT / "tests" / "engine"))
    from tiny_data import make_class_folders

    import torch

    print(f"{stamp()}, {machine()}, load average before the run {os.getloadavg()[0]:.1f}")
    with tempfile.TemporaryDirectory() as tmp:
        data = make_class_folders(Path(tmp) / "data", per_class=args.images // 2, size=args.size)
        rows = []
        for label, threads, nproc, world in (("1 process, 1 thread", 1, None, 1),
                                             ("1 process, 2 threads", 2, None, 1),
                                             ("2 processes (Gloo), 1 thread each", 1, 2, 2)):
            ours = imgcls_rate(data, Path(tmp) / f"run-{threads}-{nproc}", args, threads=threads, nproc=nproc)
            if world == 1:
                torch.set_num_threads(threads)
                plain = plain_loop(args.steps, args.batch, args.size)
            else:
                plain = plain_ddp_rate(world, args.steps, args.batch, args.size)
            rows.append((label, ours, plain))
    print(f"{MODEL} {args.size} px, batch {args.batch} per process, {args.images} images, last of {args.epochs} epochs")
    print("| set-up | imgcls images/s | plain PyTorch images/s | imgcls / plain |")
    print("|---|---:|---:|---:|")
    for label, ours, plain in rows:
        print(f"| {label} | {ours:.1f} | {plain:.1f} | {ours / plain:.2f} |")
    base_ours, base_plain = rows[0][1], rows[0][2]
    print(f"scaling efficiency, 2 processes: imgcls {rows[2][1] / (2 * base_ours):.2f}, "
          f"plain {rows[2][2] / (2 * base_plain):.2f}; 2 threads: imgcls {rows[1][1] / (2 * base_ours):.2f}, "
          f"plain {rows[1][2] / (2 * base_plain):.2f}")
    for line in gpu_section(args.steps):
        print(line)


if __name__ == "__main__":
    main()
