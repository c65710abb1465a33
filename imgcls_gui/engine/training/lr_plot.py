"""The learning-rate sweep as a PNG, drawn with Pillow (a dependency already; matplotlib is not).

Loss against learning rate on a log axis: raw losses as faint dots, the smoothed loss as a line,
each suggested rate as a coloured vertical line named in the legend, the config's rate dashed.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .lr_find import LrFindResult

RULE_COLOURS = {"valley": (34, 139, 34), "steepest": (230, 120, 0), "minimum/10": (200, 30, 30)}
LINE = (31, 90, 180)
RAW = (160, 185, 225)
AXIS = (60, 60, 60)
GRID = (228, 228, 228)
CURRENT = (120, 120, 120)


def render_lr_plot(result: "LrFindResult", path: Path, size: tuple[int, int] = (820, 500)) -> None:
    """Draw ``result`` into a PNG at ``path`` (written atomically)."""
    import io

    from PIL import Image, ImageDraw

    from ..checkpoint import atomic_write_bytes

    width, height = size
    image = Image.new("RGB", size, "white")
    draw = ImageDraw.Draw(image)
    font, small = _font(15), _font(13)
    left, top, right, bottom = 70, 40, width - 20, height - 55
    draw.text((left, 10), f"Learning-rate sweep: {result.model or 'model'}, freezing {result.freeze or '?'}, "
              f"{result.optimizer or 'optimizer'}", fill=AXIS, font=font)
    lrs, smoothed = result.lrs, result.smoothed
    if len(lrs) < 2:
        draw.text((left, height // 2), "Too few steps ran to draw a curve.", fill=AXIS, font=font)
    else:
        x_low, x_high = math.log10(lrs[0]), math.log10(lrs[-1])
        y_low, y_high = _loss_range(smoothed)

        def x_of(lr: float) -> float:
            return left + (math.log10(lr) - x_low) / max(x_high - x_low, 1e-12) * (right - left)

        def y_of(loss: float) -> float:
            clipped = min(max(loss, y_low), y_high)
            return bottom - (clipped - y_low) / max(y_high - y_low, 1e-12) * (bottom - top)

        _axes(draw, (left, top, right, bottom), (x_low, x_high), (y_low, y_high), x_of, y_of, small)
        for lr, loss in zip(lrs, result.losses):
            x, y = x_of(lr), y_of(loss)
            draw.ellipse((x - 1.5, y - 1.5, x + 1.5, y + 1.5), fill=RAW)
        draw.line([(x_of(lr), y_of(loss)) for lr, loss in zip(lrs, smoothed)], fill=LINE, width=3)
        legend = [("smoothed loss", LINE, False)]
        if lrs[0] <= result.current_lr <= lrs[-1]:
            _dashed(draw, x_of(result.current_lr), top, bottom, CURRENT)
            legend.append((f"current {result.current_lr:.2g}", CURRENT, True))
        for rule, lr in result.suggestions.items():
            colour = RULE_COLOURS.get(rule, AXIS)
            draw.line([(x_of(lr), top), (x_of(lr), bottom)], fill=colour, width=2)
            legend.append((f"{rule} {lr:.2g}", colour, False))
        _legend(draw, legend, right, top, small)
    draw.text(((left + right) // 2 - 45, height - 25), "learning rate (log)", fill=AXIS, font=small)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    atomic_write_bytes(path, buffer.getvalue())


def _loss_range(smoothed: list[float]) -> tuple[float, float]:
    """The smoothed loss's range with a margin (raw losses beyond it are drawn at the edge)."""
    low, high = min(smoothed), max(smoothed)
    margin = (high - low) * 0.08 or max(abs(high), 1.0) * 0.05
    return low - margin, high + margin


def _axes(draw: Any, box: tuple[int, int, int, int], xs: tuple[float, float], ys: tuple[float, float],
          x_of: Any, y_of: Any, font: Any) -> None:
    """The frame, a grid line and label at each power of ten, and five loss ticks."""
    left, top, right, bottom = box
    for decade in range(math.ceil(xs[0] - 1e-9), math.floor(xs[1] + 1e-9) + 1):
        x = x_of(10.0**decade)
        draw.line([(x, top), (x, bottom)], fill=GRID)
        draw.text((x - 14, bottom + 6), f"1e{decade}", fill=AXIS, font=font)
    for i in range(5):
        value = ys[0] + (ys[1] - ys[0]) * i / 4
        y = y_of(value)
        draw.line([(left, y), (right, y)], fill=GRID)
        draw.text((8, y - 8), f"{value:.3g}", fill=AXIS, font=font)
    draw.rectangle(box, outline=AXIS)


def _dashed(draw: Any, x: float, top: int, bottom: int, colour: tuple[int, int, int]) -> None:
    for y in range(top, bottom, 10):
        draw.line([(x, y), (x, min(y + 5, bottom))], fill=colour, width=2)


def _legend(draw: Any, entries: list[tuple[str, tuple[int, int, int], bool]], right: int, top: int, font: Any) -> None:
    """Entries stacked in the top right corner, each with a short sample of its line."""
    width = 190
    x, y = right - width, top + 8
    draw.rectangle((x - 8, y - 4, right - 6, y + 20 * len(entries)), fill="white", outline=GRID)
    for text, colour, dashed in entries:
        if dashed:
            draw.line([(x, y + 8), (x + 8, y + 8)], fill=colour, width=2)
            draw.line([(x + 14, y + 8), (x + 22, y + 8)], fill=colour, width=2)
        else:
            draw.line([(x, y + 8), (x + 22, y + 8)], fill=colour, width=3)
        draw.text((x + 30, y), text, fill=AXIS, font=font)
        y += 20


def _font(size: int) -> Any:
    """Pillow's own scalable font (Pillow >= 10.1 with FreeType), else its small bitmap font."""
    from PIL import ImageFont

    try:
        return ImageFont.load_default(size=size)
    except (TypeError, OSError, ImportError):
        return ImageFont.load_default()
