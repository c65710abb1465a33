"""Reading one image file safely: any mode Pillow knows becomes an upright RGB image, or a typed error.

Every consumer (importers' health check, training dataset, thumbnails, prediction) goes through
``load_image`` so a broken file is reported the same way everywhere and no Pillow exception leaks.
Pillow only; torch is never imported here.
"""

from __future__ import annotations

import hashlib
import os
import warnings
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from ..errors import ImageReadError
from .samples import Problem

IMAGE_EXTENSIONS: frozenset[str] = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".gif", ".webp", ".tif", ".tiff"})

# Read at call time (not bound as a default) so tests and callers can lower it.
MAX_IMAGE_PIXELS: int = 100_000_000

# We refuse oversized images ourselves, before decoding, against MAX_IMAGE_PIXELS; Pillow's softer
# warning at its own 89 MP threshold would only be noise on top of that decision.
warnings.filterwarnings("ignore", category=Image.DecompressionBombWarning)

_WHITE = (255, 255, 255)
_ALPHA_MODES = frozenset({"RGBA", "RGBa", "LA", "La", "PA"})
_HASH_CHUNK = 1 << 20


class _ImageFault(ImageReadError):
    """An ImageReadError that also knows which ``Problem.kind`` it is, so ``check_image`` can say."""

    def __init__(self, path: object, reason: str, kind: str) -> None:
        super().__init__(path, reason)
        self.kind = kind


def is_image_path(path: str | os.PathLike[str]) -> bool:
    """True when the file name ends in an image extension, in any letter case."""
    return Path(path).suffix.lower() in IMAGE_EXTENSIONS


def load_image(path: str | os.PathLike[str], *, draft_size: int | None = None) -> Image.Image:
    """Decode ``path`` into an upright RGB image, or raise ``ImageReadError`` saying why not.

    ``draft_size`` lets JPEGs decode at a reduced DCT scale whose shorter side stays >= draft_size,
    which is several times faster when the image is about to be shrunk anyway.
    """
    path = Path(path)
    _check_file(path)
    try:
        with open(path, "rb") as handle:
            image = _decode(path, handle, draft_size)
    except ImageReadError:
        raise
    except PermissionError as exc:
        raise _ImageFault(path, "permission denied; check the file's permissions", "unreadable") from exc
    except UnidentifiedImageError as exc:
        raise _ImageFault(path, "not an image Pillow can read (wrong extension or another file type)", "not-image") from exc
    except Image.DecompressionBombError as exc:
        raise _too_large(path) from exc
    except (OSError, EOFError) as exc:
        # Pillow reports a stream that ends early as "image file is truncated", "Truncated File Read",
        # "broken data stream" or a bare EOFError, depending on the format and where it ends.
        message = str(exc).lower()
        if isinstance(exc, EOFError) or "truncated" in message or "broken data stream" in message:
            raise _ImageFault(path, "image data is truncated (incomplete download or copy)", "truncated") from exc
        raise _ImageFault(path, f"cannot be decoded ({exc})", "unreadable") from exc
    except Exception as exc:  # Pillow's decoders raise SyntaxError, ValueError, struct.error...; none may escape
        raise _ImageFault(path, f"cannot be decoded ({type(exc).__name__}: {exc})", "unreadable") from exc
    return image


def check_image(path: str | os.PathLike[str]) -> Problem | None:
    """Fully decode ``path`` (JPEGs at a reduced scale, which still reads every byte); a Problem or None."""
    try:
        load_image(path, draft_size=64)
    except ImageReadError as exc:
        return Problem(path=str(path), reason=exc.reason, kind=getattr(exc, "kind", "unreadable"))
    return None


def file_sha1(path: str | os.PathLike[str]) -> str:
    """SHA-1 of the file's bytes, read in chunks so large files do not fill memory."""
    digest = hashlib.sha1(usedforsecurity=False)
    with open(path, "rb") as handle:
        while chunk := handle.read(_HASH_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _check_file(path: Path) -> None:
    """The failures that need no decoder: reported with a message that says what is wrong."""
    try:
        info = path.stat()
    except FileNotFoundError as exc:
        raise _ImageFault(path, "file not found (moved or deleted?)", "missing") from exc
    except OSError as exc:
        raise _ImageFault(path, f"cannot be read ({exc.strerror or exc})", "unreadable") from exc
    if path.is_dir():
        raise _ImageFault(path, "is a folder, not an image file", "not-image")
    if info.st_size == 0:
        raise _ImageFault(path, "empty file (0 bytes); copy the image again", "truncated")


def _too_large(path: Path) -> ImageReadError:
    return _ImageFault(
        path, f"image declares more than {MAX_IMAGE_PIXELS:,} pixels; refused without decoding (shrink it first)", "too-large"
    )


def _decode(path: Path, handle, draft_size: int | None) -> Image.Image:
    image = Image.open(handle)  # reads the header only
    width, height = image.size
    if width * height > MAX_IMAGE_PIXELS:
        raise _too_large(path)
    if draft_size and image.format == "JPEG":
        image.draft(None, (draft_size, draft_size))
    image.load()  # first frame of an animated file; the rest is never decoded
    try:
        image = ImageOps.exif_transpose(image) or image
    except Exception:  # a corrupt EXIF block should not cost the user the picture itself
        pass
    return to_rgb(image)


def to_rgb(image: Image.Image) -> Image.Image:
    """Any Pillow mode → RGB: transparency composited on white, 16-bit and float data scaled to 8 bits."""
    mode = image.mode
    if mode == "RGB":
        return image
    if (mode == "P" and "transparency" in image.info) or mode == "PA":
        image, mode = image.convert("RGBA"), "RGBA"
    if mode in _ALPHA_MODES:
        rgba = image.convert("RGBA")
        background = Image.new("RGB", rgba.size, _WHITE)
        background.paste(rgba, mask=rgba.getchannel("A"))
        return background
    if mode.startswith("I") or mode == "F":
        return _high_depth_to_rgb(image)
    return image.convert("RGB")


def _high_depth_to_rgb(image: Image.Image) -> Image.Image:
    """Scale 16/32-bit integer and float images into 0..255 instead of letting Pillow clip them to white."""
    data = np.asarray(image).astype(np.float64)
    if image.mode.startswith("I;16"):
        scaled = data / 257.0
    elif image.mode == "I":
        # 16-bit PNG/TIFF data often arrives as mode "I"; values above 255 can only mean 16-bit range.
        scaled = np.clip(data, 0, 65535) / 257.0 if data.max(initial=0) > 255 else data
    else:  # "F": 0..1 floats are the common convention; otherwise stretch the actual range
        low, high = float(data.min(initial=0.0)), float(data.max(initial=0.0))
        if low >= 0.0 and high <= 1.0:
            scaled = data * 255.0
        else:
            scaled = (data - low) * (255.0 / (high - low)) if high > low else np.zeros_like(data)
    gray = Image.fromarray(np.clip(np.rint(scaled), 0, 255).astype(np.uint8))  # 2-D uint8 -> mode "L"
    return gray.convert("RGB")
