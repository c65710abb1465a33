"""A tiny Motion-JPEG AVI written with Pillow and the standard library, for tests that need a camera.

Qt Multimedia's FFmpeg (in the PySide6-Addons wheel) decodes MJPEG in AVI; no video encoder package
is needed. The layout is the classic RIFF AVI: hdrl (avih, strl: strh + strf), movi (one 00dc chunk
per JPEG frame), idx1.
"""

from __future__ import annotations

import io
import struct
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from PIL import Image


def _chunk(fourcc: bytes, data: bytes) -> bytes:
    return fourcc + struct.pack("<I", len(data)) + data + (b"\0" if len(data) % 2 else b"")


def _list(kind: bytes, body: bytes) -> bytes:
    return b"LIST" + struct.pack("<I", len(body) + 4) + kind + body


def write_mjpeg_avi(path: Path, frames: Sequence[np.ndarray], fps: int = 10, quality: int = 95) -> Path:
    """``frames``: H x W x 3 uint8 arrays of one size."""
    height, width = frames[0].shape[:2]
    jpegs = []
    for frame in frames:
        buffer = io.BytesIO()
        Image.fromarray(frame).save(buffer, format="JPEG", quality=quality)
        jpegs.append(buffer.getvalue())
    largest = max(len(j) for j in jpegs)
    avih = struct.pack("<14I", 1_000_000 // fps, largest * fps, 0, 0x10, len(frames), 0, 1, largest, width, height,
                       0, 0, 0, 0)
    strh = struct.pack("<4s4sIHHIIIIIIiI4h", b"vids", b"MJPG", 0, 0, 0, 0, 1, fps, 0, len(frames), largest, -1, 0,
                       0, 0, width, height)
    strf = struct.pack("<IiiHH4sIiiII", 40, width, height, 1, 24, b"MJPG", width * height * 3, 0, 0, 0, 0)
    header = _list(b"hdrl", _chunk(b"avih", avih) + _list(b"strl", _chunk(b"strh", strh) + _chunk(b"strf", strf)))
    movi_body, index, offset = b"", b"", 4
    for jpeg in jpegs:
        chunk = _chunk(b"00dc", jpeg)
        index += struct.pack("<4sIII", b"00dc", 0x10, offset, len(jpeg))
        movi_body += chunk
        offset += len(chunk)
    body = b"AVI " + header + _list(b"movi", movi_body) + _chunk(b"idx1", index)
    path.write_bytes(b"RIFF" + struct.pack("<I", len(body)) + body)
    return path


def colour_frames(colours: Sequence[tuple[int, int, int]], size: tuple[int, int] = (64, 48), seed: int = 0) -> list[np.ndarray]:
    """One noisy frame per colour (so frames differ and a model tells them apart)."""
    rng = np.random.default_rng(seed)
    width, height = size
    return [np.clip(np.array(c, float) + rng.normal(0, 25, (height, width, 3)), 0, 255).astype(np.uint8)
            for c in colours]
