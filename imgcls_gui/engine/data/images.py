"""Reading one image file safely: any mode Pillow knows becomes an upright RGB image, or a typed error.

Every consumer (importers' health check, training dataset, thumbnails, prediction) goes through
``load_image`` so a broken file is reported the same way everywhere and no Pillow exception leaks.
Pillow only; torch is never imported here.
"""

from __future__ import annotations

import functools
import hashlib
import os
import stat
import warnings
from pathlib import Path
from typing import BinaryIO

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from ..errors import ImageReadError
from .samples import Problem

# .heic/.heif/.avif are listed even where no decoder is installed, so a folder walk names such photos with
# the reason they cannot be read instead of leaving them out silently.
IMAGE_EXTENSIONS: frozenset[str] = frozenset(
    {".jpg", ".jpeg", ".png", ".bmp", ".gif", ".webp", ".tif", ".tiff", ".avif", ".heic", ".heif"}
)

# The only Pillow decoders untrusted files reach (Image.open's ``formats=``), whatever a file is named: each
# is in-process code for a format people keep photos in. Everything else Pillow knows stays unreachable,
# above all EPS, whose decoder runs Ghostscript (a whole PostScript interpreter) as another program.
# AVIF is Pillow's own (11.2+, where built with libavif); HEIF comes from the pillow-heif plugin.
TRUSTED_FORMATS: tuple[str, ...] = ("JPEG", "PNG", "GIF", "BMP", "TIFF", "WEBP", "PPM", "AVIF", "HEIF")

# Read at call time (not bound as a default) so tests and callers can lower it.
MAX_IMAGE_PIXELS: int = 100_000_000
# A 100,000 x 1 PNG is a few hundred bytes and passes the pixel limit, but resizing its shorter side to
# 256 makes 25,600,000 x 256 pixels (gigabytes). Strips beyond this ratio are refused from the header.
MAX_ASPECT_RATIO: int = 1000

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


class NotRegularFileError(OSError):
    """A FIFO, device or socket where a file was expected: reading it would block or never end."""

    def __init__(self, path: object, mode: int) -> None:
        super().__init__(f"{path}: {describe_special_file(mode)}, not a regular file")
        self.path, self.what = path, describe_special_file(mode)


def is_image_path(path: str | os.PathLike[str]) -> bool:
    """True when the file name ends in an image extension, in any letter case."""
    return Path(path).suffix.lower() in IMAGE_EXTENSIONS


@functools.cache
def decoder_formats() -> tuple[str, ...]:
    """The trusted formats this installation can decode (registers the HEIF plugin on first use)."""
    try:
        from pillow_heif import register_heif_opener
    except ImportError:  # HEIC photos are then refused with a reason that names the missing package
        pass
    else:
        register_heif_opener()
    Image.init()
    return tuple(name for name in TRUSTED_FORMATS if name in Image.OPEN)


def open_image_header(handle: BinaryIO) -> Image.Image:
    """``Image.open`` restricted to the trusted decoders: reads the header only."""
    return Image.open(handle, formats=decoder_formats())


def describe_special_file(mode: int) -> str:
    if stat.S_ISFIFO(mode):
        return "a named pipe (FIFO)"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device file"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "a folder" if stat.S_ISDIR(mode) else "a special file"


def open_regular_file(path: str | os.PathLike[str]) -> BinaryIO:
    """Open ``path`` (symlinks followed) for reading only if it is a regular file, else NotRegularFileError.

    Opening a FIFO blocks until a writer appears and a device such as /dev/zero never ends, so either
    would hang its reader. The stat first keeps devices from being opened at all; O_NONBLOCK makes the
    open return at once should the path be swapped meanwhile, and fstat of the open descriptor decides.
    """
    mode = os.stat(path).st_mode
    if not stat.S_ISREG(mode):
        raise NotRegularFileError(path, mode)
    nonblocking = getattr(os, "O_NONBLOCK", 0)
    fd = os.open(path, os.O_RDONLY | nonblocking | getattr(os, "O_BINARY", 0) | getattr(os, "O_CLOEXEC", 0))
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            raise NotRegularFileError(path, mode)
        if nonblocking:
            os.set_blocking(fd, True)
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def load_image(path: str | os.PathLike[str], *, draft_size: int | None = None) -> Image.Image:
    """Decode ``path`` into an upright RGB image, or raise ``ImageReadError`` saying why not.

    ``draft_size`` lets JPEGs decode at a reduced DCT scale whose shorter side stays >= draft_size,
    which is several times faster when the image is about to be shrunk anyway.
    """
    path = Path(path)
    _check_file(path)
    try:
        with open_regular_file(path) as handle:
            image = _decode(path, handle, draft_size)
    except ImageReadError:
        raise
    except NotRegularFileError as exc:
        raise _not_regular(path, exc.what) from exc
    except PermissionError as exc:
        raise _ImageFault(path, "permission denied; check the file's permissions", "unreadable") from exc
    except UnidentifiedImageError as exc:
        raise _unsupported(path) from exc
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
    with open_regular_file(path) as handle:  # a FIFO or /dev/zero would never end
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
    if stat.S_ISDIR(info.st_mode):
        raise _ImageFault(path, "is a folder, not an image file", "not-image")
    if not stat.S_ISREG(info.st_mode):
        raise _not_regular(path, describe_special_file(info.st_mode))
    if info.st_size == 0:
        raise _ImageFault(path, "empty file (0 bytes); copy the image again", "truncated")


def _too_large(path: Path) -> ImageReadError:
    return _ImageFault(
        path, f"image declares more than {MAX_IMAGE_PIXELS:,} pixels; refused without decoding (shrink it first)", "too-large"
    )


def _not_regular(path: Path, what: str) -> ImageReadError:
    return _ImageFault(path, f"is {what}, not a regular file; only image files are read", "not-image")


def _unsupported(path: Path) -> ImageReadError:
    if path.suffix.lower() in (".heic", ".heif") and "HEIF" not in decoder_formats():
        return _ImageFault(path, "HEIC/HEIF photos need the pillow-heif package (pip install pillow-heif)", "not-image")
    if path.suffix.lower() == ".avif" and "AVIF" not in decoder_formats():
        return _ImageFault(path, "AVIF photos need Pillow 11.2 or newer built with AVIF support", "not-image")
    readable = ", ".join(name.replace("HEIF", "HEIC") for name in decoder_formats())
    return _ImageFault(
        path, f"not a supported image (wrong extension or another file type; imgcls reads {readable})", "not-image"
    )


def check_dimensions(path: str | os.PathLike[str], width: int, height: int, draft_size: int | None = None) -> None:
    """Refuse, from the header, images whose decoding or shorter-side resize would take unbounded memory."""
    if width * height > MAX_IMAGE_PIXELS:
        raise _too_large(Path(path))
    short, long = sorted((max(width, 1), max(height, 1)))
    if long > MAX_ASPECT_RATIO * short:
        raise _ImageFault(
            Path(path), f"image is {width:,} x {height:,} pixels, an aspect ratio beyond {MAX_ASPECT_RATIO}:1; "
            "refused without decoding, since resizing its shorter side would take gigabytes (crop it first)", "too-large"
        )
    if draft_size and draft_size * draft_size * long / short > MAX_IMAGE_PIXELS:
        resized = int(draft_size * long / short)
        raise _ImageFault(
            Path(path), f"image is {width:,} x {height:,} pixels; resized to {draft_size} on its shorter side it would be "
            f"{resized:,} x {draft_size} (more than {MAX_IMAGE_PIXELS:,} pixels); crop it or use a smaller image size",
            "too-large",
        )


def _decode(path: Path, handle, draft_size: int | None) -> Image.Image:
    image = open_image_header(handle)
    width, height = image.size
    check_dimensions(path, width, height, draft_size)
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
