"""Terminal progress for training: a batch bar and an epoch bar (tqdm), fed by engine events."""

from __future__ import annotations

import sys
from typing import Any

from ..engine import events as ev
from .text import terminal_safe


class TerminalProgress:
    """An engine callback drawing tqdm bars on stderr; quiet=True prints one line per epoch only."""

    def __init__(self, quiet: bool = False) -> None:
        self.quiet = quiet
        self.epoch_bar: Any = None
        self.batch_bar: Any = None

    def on_event(self, event: Any) -> None:
        from tqdm import tqdm

        if isinstance(event, ev.FitStart):
            _print(f"training on {event.train_size} images, validating on {event.val_size}, "
                   f"{len(event.classes)} classes ({event.task}), device {event.device}")
            if not self.quiet:
                self.epoch_bar = tqdm(total=event.epochs, initial=event.start_epoch, desc="run", unit="epoch",
                                      position=0, file=sys.stderr, dynamic_ncols=True)
        elif isinstance(event, ev.EpochStart) and not self.quiet:
            self.batch_bar = tqdm(desc=f"epoch {event.epoch + 1}/{event.epochs}", unit="batch", position=1,
                                  leave=False, file=sys.stderr, dynamic_ncols=True)
        elif isinstance(event, ev.BatchEnd) and self.batch_bar is not None:
            self.batch_bar.total = event.batches
            self.batch_bar.n = event.batch + 1
            self.batch_bar.set_postfix(loss=f"{event.loss:.3f}", img_s=f"{event.images_per_s:.1f}", refresh=False)
            self.batch_bar.refresh()
        elif isinstance(event, ev.EpochEnd):
            if self.batch_bar is not None:
                self.batch_bar.close()
                self.batch_bar = None
            if self.epoch_bar is not None:
                self.epoch_bar.update(1)
            _print(_epoch_line(event), bar=self.epoch_bar)
        elif isinstance(event, ev.LogLine) and event.level != "debug":
            _print(event.message, bar=self.epoch_bar)
        elif isinstance(event, ev.FitEnd):
            for bar in (self.batch_bar, self.epoch_bar):
                if bar is not None:
                    bar.close()
            status = "stopped" if event.stopped else "done"
            best = ", ".join(f"{k}={v:.4f}" for k, v in event.final.items() if k in _SHOWN)
            _print(f"{status}: {event.epochs_run} epoch(s), best epoch {event.best_epoch + 1}: {best}")


_SHOWN = ("val_loss", "accuracy", "f1_macro", "map", "roc_auc_macro")


def _epoch_line(event: ev.EpochEnd) -> str:
    m = event.metrics
    parts = [f"epoch {event.epoch + 1}/{event.epochs}", f"train_loss={m.get('train_loss', float('nan')):.4f}"]
    parts += [f"{k}={m[k]:.4f}" for k in _SHOWN if k in m]
    parts.append(f"{m.get('images_per_s', 0):.1f} img/s, {m.get('seconds', 0):.1f}s")
    return "  ".join(parts) + ("  *best*" if event.is_best else "")


def _print(message: str, bar: Any = None) -> None:
    message = terminal_safe(message)  # log lines quote file and class names
    if bar is not None:
        bar.write(message, file=sys.stderr)
    else:
        print(message, file=sys.stderr)
