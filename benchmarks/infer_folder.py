"""Inference speed on a folder of real photos: `imgcls predict` (ONNX) vs a plain PyTorch loop vs model-only.

    .venv/bin/python benchmarks/infer_folder.py ../shared/datasets/flowers17 --model mobilenet_v3_small

In one run, with the same model (random weights: speed does not depend on them) and threads:
- imgcls predict: the CLI in-process on the ONNX export (walks the folder, decodes on a thread
  pool while onnxruntime runs, writes the CSV);
- eager loop: PIL open, torchvision transforms, batches of 32, PyTorch eager, one thread of control;
- model-only: onnxruntime on tensors decoded beforehand, the ceiling when decoding is fully hidden
  (and, to explain the ratios, PyTorch eager on the same tensors).
- imgcls predict (onnx int8): the same CLI on the INT8 export (`imgcls export --int8`), calibrated
  on the run's training images; its parity report (agreement with fp32, accuracy change) is printed.
Targets (issue 8): imgcls predict >= 2x the eager loop and >= 80% of model-only. Issue 16: INT8
folder inference >= 2.5x the eager loop (resnet18); agreement with fp32 >= 99% and accuracy within
1 point on the validation images of a trained run (--run RUN; without it the weights are random,
the split is made here, and only the speeds mean something).
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

DEFAULT_FOLDER = REPO.parent / "shared" / "datasets" / "flowers17"


def main() -> int:
    args = _parse()
    import torch

    from imgcls_gui.engine.deploy.predict import Predictor, physical_cores
    from imgcls_gui.engine.deploy.predict_io import iter_image_paths

    threads = args.threads or physical_cores()
    torch.set_num_threads(threads)
    paths = iter_image_paths([args.folder])[: args.limit or None]
    if not paths:
        sys.exit(f"no images in {args.folder}")
    with tempfile.TemporaryDirectory() as tmp:
        onnx_path, model, pre = _export(Path(tmp), args.model, args.image_size, args.run, Path(args.folder))
        int8 = _export_int8(Path(args.run) if args.run else Path(tmp), Path(tmp))
        print(f"{len(paths)} images from {args.folder}; {args.model} at {pre.image_size}px; {threads} threads; "
              f"{os.cpu_count()} logical CPUs; {platform.processor() or platform.machine()}")
        decoded = _decode_all(paths, pre)
        predictor = Predictor.load(onnx_path, threads=threads)  # session creation is not model time
        variants = {
            "imgcls predict (onnx)": lambda: _imgcls_predict(onnx_path, paths, threads, Path(tmp) / "out.csv", args.batch_size),
            "imgcls predict (onnx int8)": lambda: _imgcls_predict(int8.path, paths, threads, Path(tmp) / "out8.csv",
                                                                  args.batch_size),
            "eager loop (PIL + torchvision + PyTorch)": lambda: _eager_loop(model, paths, pre, args.batch_size),
            "model only (onnxruntime, pre-decoded)": lambda: _model_only(predictor.probabilities, decoded, args.batch_size),
            "model only (PyTorch eager, pre-decoded)": lambda: _model_only(_eager_runner(model), decoded, args.batch_size),
        }
        results = _best_rates(variants, len(paths), args.rounds)
    width = max(map(len, results))
    for name, rate in results.items():
        print(f"  {name:<{width}}  {rate:8.1f} images/s")
    ours, ours8, eager, ceiling, _ = results.values()
    print(f"  imgcls predict / eager loop = {ours / eager:.2f}x (target >= 2x)")
    print(f"  imgcls predict INT8 / eager loop = {ours8 / eager:.2f}x (target >= 2.5x for resnet18); "
          f"INT8 / fp32 onnx = {ours8 / ours:.2f}x")
    print("  INT8 parity report" + ("" if args.run else " (random weights: agreement means little)") + ":")
    for line in int8.lines():
        print(f"    {line}")
    print(f"  imgcls predict / model only = {ours / ceiling:.0%} (target >= 80%)")
    print(f"  {datetime.date.today().isoformat()}, python {platform.python_version()}, torch {torch.__version__}")
    return 0


def _parse() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", nargs="?", default=str(DEFAULT_FOLDER))
    parser.add_argument("--model", default="mobilenet_v3_small")
    parser.add_argument("--image-size", type=int, default=0, help="0: the backbone's own size")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--threads", type=int, help="default: physical cores")
    parser.add_argument("--limit", type=int, help="use only the first N images")
    parser.add_argument("--rounds", type=int, default=3, help="timed runs per variant; the best counts")
    parser.add_argument("--run", help="a trained run folder to export (default: random weights, split made here)")
    return parser.parse_args()


def _export(tmp: Path, name: str, image_size: int, run: str | None, folder: Path):
    """A run checkpoint (random weights, or ``run``'s), exported to ONNX exactly as users do. The random
    run gets a saved split of ``folder``, so that INT8 export can calibrate and compare on it."""
    from imgcls_gui.engine.checkpoint import load_checkpoint, save_checkpoint
    from imgcls_gui.engine.config import DataConfig, ModelConfig, RunConfig
    from imgcls_gui.engine.data.datasets import load_dataset
    from imgcls_gui.engine.data.split import split_dataset
    from imgcls_gui.engine.deploy.export import export_onnx
    from imgcls_gui.engine.deploy.model_info import ModelInfo
    from imgcls_gui.engine.models.build import build_model, model_from_checkpoint, preprocessing_for

    if run:
        ckpt = load_checkpoint(Path(run))
        return export_onnx(run, tmp / "model.onnx").path, model_from_checkpoint(ckpt).eval(), ModelInfo.from_checkpoint(ckpt).preprocessing
    cfg = ModelConfig(name=name, weights="none", image_size=image_size)
    dataset = load_dataset(folder)
    classes = list(dataset.classes)
    model = build_model(cfg, len(classes)).eval()
    pre = preprocessing_for(cfg)
    config = RunConfig(data=DataConfig(path=str(folder)), model=cfg)
    save_checkpoint({"model": model.state_dict(), "classes": classes, "task": "multiclass", "thresholds": None,
                     "preprocessing": pre.to_dict(), "config": config.to_dict(), "metrics": {}},
                    tmp / "best.pt")
    (tmp / "split.json").write_text(split_dataset(dataset).to_json(dataset), encoding="utf-8")
    report = export_onnx(tmp, tmp / "model.onnx")
    return report.path, model, pre


def _export_int8(run: Path, tmp: Path):
    """``imgcls export --int8`` of the run; random weights are written whatever their agreement."""
    from imgcls_gui.engine.deploy.quantize import DEFAULT_MIN_AGREEMENT, export_onnx_int8

    return export_onnx_int8(run, tmp / "model.int8.onnx", min_agreement=DEFAULT_MIN_AGREEMENT if run != tmp else 0.0)


def _best_rates(variants: dict, count: int, rounds: int) -> dict[str, float]:
    """Images/s of each variant, best of ``rounds`` interleaved runs after one warm-up run each
    (first-call allocations and kernel selection, and other load on the machine, are not what we measure)."""
    best = dict.fromkeys(variants, 0.0)
    for work in variants.values():
        work()
    for _ in range(rounds):
        for name, work in variants.items():
            started = time.perf_counter()
            work()
            best[name] = max(best[name], count / (time.perf_counter() - started))
    return best


def _imgcls_predict(onnx_path: Path, paths: list[Path], threads: int, out: Path, batch_size: int) -> None:
    from imgcls_gui.cli import main as cli

    folder_args = [str(p) for p in paths]
    code = cli(["predict", str(onnx_path), *folder_args, "--out", str(out), "--quiet", "--threads", str(threads),
                "--batch-size", str(batch_size)])
    assert code == 0


def _eager_loop(model, paths: list[Path], pre, batch_size: int) -> None:
    """What a PyTorch user writes first: PIL, torchvision transforms, a batch, the model."""
    import torch
    from PIL import Image
    from torchvision import transforms

    transform = transforms.Compose([transforms.Resize(pre.resize_size), transforms.CenterCrop(pre.image_size),
                                    transforms.ToTensor(), transforms.Normalize(pre.mean, pre.std)])
    with torch.inference_mode():
        for start in range(0, len(paths), batch_size):
            batch = [transform(Image.open(p).convert("RGB")) for p in paths[start : start + batch_size]]
            torch.softmax(model(torch.stack(batch)), dim=1)


def _decode_all(paths: list[Path], pre):
    import torch

    from imgcls_gui.engine.deploy.predict_io import load_model_input

    return torch.stack([load_model_input(p, pre) for p in paths]).numpy()


def _model_only(run_batch, decoded, batch_size: int) -> None:
    import torch

    for start in range(0, len(decoded), batch_size):
        run_batch(torch.from_numpy(decoded[start : start + batch_size]))


def _eager_runner(model):
    import torch

    def run_batch(batch):
        with torch.inference_mode():
            return torch.softmax(model(batch), dim=1)

    return run_batch


if __name__ == "__main__":
    sys.exit(main())
