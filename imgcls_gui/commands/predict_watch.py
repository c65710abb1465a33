"""``imgcls predict --watch``: classify a folder, then each image that arrives in it, until Ctrl+C.

Rows go into the --out CSV batch by batch (on disk before the next batch starts), so a restart
with the same --out skips what was done. Ctrl+C asks the watch to stop between batches: the file
being written is never cut short; a second Ctrl+C stops at once.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from collections import Counter
from collections.abc import Sequence
from typing import Any

from .text import terminal_safe


class _Reporter:
    """Writes each batch to the CSV, sorts it, and says what happened on stderr."""

    def __init__(self, args: argparse.Namespace, classes: Sequence[str], top_k: int) -> None:
        self.args, self.classes, self.top_k = args, classes, top_k
        self.done = self.unreadable = 0
        self.sorted: Counter[str] = Counter()
        self.sort_failed = 0

    def __call__(self, batch: Sequence[Any]) -> None:
        from ..engine import append_csv, sort_into

        append_csv(batch, self.args.out, self.top_k)
        self.done += len(batch)
        self.unreadable += sum(1 for p in batch if p.error)
        if self.args.sort_into:
            report = sort_into(batch, self.args.sort_into, move=self.args.move,
                               min_confidence=self.args.min_confidence, classes=self.classes)
            self.sorted.update(report.actions)
            self.sort_failed += len(report.failed)
            for path, reason in report.failed:
                self._say(f"imgcls: could not sort {path}: {reason}")
        for prediction in batch:
            what = f"error: {prediction.error}" if prediction.error else f"{prediction.label} {prediction.score:.3f}"
            self._say(f"{prediction.path.name}: {what}", quiet_ok=True)

    def _say(self, line: str, quiet_ok: bool = False) -> None:
        if not (quiet_ok and self.args.quiet):
            print(terminal_safe(line), file=sys.stderr, flush=True)

    def summary(self) -> str:
        text = f"{self.done - self.unreadable} images classified"
        if self.unreadable:
            text += f", {self.unreadable} unreadable (see the error column)"
        text += f"; results in {self.args.out}"
        if self.sorted:
            text += "; " + ", ".join(f"{verb} {n}" for verb, n in sorted(self.sorted.items())) + f" into {self.args.sort_into}"
        return text


def run_watch(args: argparse.Namespace) -> int:
    from ..engine import Predictor, WatchControl, predicted_paths, watch_and_predict

    folder = args.inputs[0]
    known = predicted_paths(args.out)  # a CSV that is not ours fails here, before the model loads
    predictor = Predictor.load(args.model, device=args.device, threads=args.threads, trust_code=args.trust_code)
    top_k = min(args.top_k, len(predictor.classes))
    reporter = _Reporter(args, predictor.classes, top_k)
    control = WatchControl()

    def started(watcher: Any) -> None:
        how = "file-system events" if watcher.mode == "events" else f"a scan every {watcher.rescan_s:g} s"
        if watcher.fallback_reason and args.poll is None:
            how += f" ({watcher.fallback_reason})"
        skipped = f"; {len(known)} files already in {args.out} are skipped" if known else ""
        print(terminal_safe(f"imgcls: watching {folder} through {how}{skipped}. Ctrl+C stops."), file=sys.stderr,
              flush=True)

    previous = _stop_on_interrupt(control)
    try:
        watch_and_predict(predictor, folder, reporter, control, known=known, batch_size=args.batch_size, top_k=top_k,
                          threshold=args.threshold, recursive=args.recursive,
                          skip=[args.sort_into] if args.sort_into else (), settle_s=args.settle,
                          poll_s=args.poll or 0.25, use_events=args.poll is None, on_start=started)
    finally:
        if previous is not None:
            signal.signal(signal.SIGINT, previous)
    print(terminal_safe(f"imgcls: stopped watching; {reporter.summary()}"), file=sys.stderr)
    return 1 if reporter.sort_failed and not reporter.sorted else 0


def _stop_on_interrupt(control: Any) -> Any:
    """First Ctrl+C: stop between batches. Second: the usual KeyboardInterrupt. None off the main thread."""
    if threading.current_thread() is not threading.main_thread():
        return None

    def handler(signum: int, frame: Any) -> None:
        if control.stopped:
            raise KeyboardInterrupt
        print("imgcls: stopping after the current batch (Ctrl+C again to stop at once)", file=sys.stderr, flush=True)
        control.stop()

    return signal.signal(signal.SIGINT, handler)
