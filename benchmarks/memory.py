"""Peak resident memory while training resnet18 on 2,000 images at 224 px on the CPU (target < 3 GB).

Trains on miml (2,000 photos, multi-label) with everything trainable, batch 32, one loader
worker, and stops after --batches batches (memory peaks within the first few: model, optimizer
state, activations and loader buffers are all live by then). Reports the peak RSS of this process
and of the loader worker processes. Usage: python benchmarks/memory.py [--batches 15]
"""

from __future__ import annotations

import argparse
import resource
import tempfile
from pathlib import Path

from common import SHARED, machine, stamp


def main() -> None:
    from imgcls_gui.engine import events as ev
    from imgcls_gui.engine.config import DataConfig, FreezeConfig, ModelConfig, RunConfig, TrainConfig
    from imgcls_gui.engine.training.trainer import Trainer

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--batches", type=int, default=15)
    parser.add_argument("--cache-images", action="store_true", help="also keep decoded images in memory")
    args = parser.parse_args()

    class StopAfter:
        def __init__(self, trainer: Trainer) -> None:
            self.trainer, self.seen = trainer, 0

        def on_event(self, event: object) -> None:
            if isinstance(event, ev.BatchEnd) and event.batch + 1 >= args.batches:
                self.trainer.request_stop()

    cfg = RunConfig(
        data=DataConfig(path=str(SHARED / "miml" / "miml_labels_1.csv"), num_workers=1, cache_images=args.cache_images),
        model=ModelConfig(name="resnet18", weights="none"),
        freeze=FreezeConfig(mode="none"),
        train=TrainConfig(epochs=1, batch_size=32, device="cpu"),
    )
    with tempfile.TemporaryDirectory() as run_dir:
        trainer = Trainer(cfg, Path(run_dir) / "run")
        trainer.callbacks.append(StopAfter(trainer))
        trainer.fit()
    main_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    child_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    print(f"# memory.py, {stamp()}, {machine()}, cache_images={args.cache_images}")
    print(f"peak RSS: trainer process {main_mb:.0f} MB, largest loader worker {child_mb:.0f} MB, "
          f"sum {main_mb + child_mb:.0f} MB (target < 3072 MB)")


if __name__ == "__main__":
    main()
