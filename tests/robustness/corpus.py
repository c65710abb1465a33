"""A corpus of hostile and broken input, generated on the fly (no binary fixtures in the repository).

Each kind has a stable name; the tests use it as their parameter id and docs/robustness.md lists it,
so a new kind shows up everywhere at once. Four families:

- ``IMAGE_CASES``: single image files, each either refused with a ``Problem.kind`` or loadable.
- ``CSV_CASES`` and ``VOC_CASES``: label files (bytes), written beside a few good images.
- ``write_model_files``: weights, checkpoints and ONNX files that are wrong or malicious.

Everything is tiny (a few KB, 8-64 px) so the whole corpus is written in well under a second.
"""

from __future__ import annotations

import codecs
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

RED, BLUE = (220, 30, 30), (30, 40, 220)
EXIF_ORIENTATION = 0x0112
LONG_NAME = "a-very-long-file-name-" * 9 + "end.png"  # ~200 characters; the whole path passes 400


def noise(size: tuple[int, int] = (40, 32), seed: int = 0, base: tuple[int, int, int] | None = None) -> Image.Image:
    """Random pixels (or noise around ``base``), so no two generated files are identical by accident."""
    rng = np.random.default_rng(seed)
    width, height = size
    if base is None:
        pixels = rng.integers(0, 256, (height, width, 3), dtype=np.uint8)
    else:
        pixels = np.clip(np.array(base, dtype=float) + rng.normal(0, 30, (height, width, 3)), 0, 255).astype(np.uint8)
    return Image.fromarray(pixels)


def noise_photos(folder: Path, count: int = 3) -> Path:
    """``folder`` with ``count`` small noise PNGs (p0.png, ...): something any model can predict on."""
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(count):
        noise((40, 40), seed=i).save(folder / f"p{i}.png")
    return folder


def upright_red_over_blue(size: tuple[int, int] = (24, 48)) -> Image.Image:
    """Top half red, bottom half blue: which way is up is visible in the pixels."""
    image = Image.new("RGB", size, BLUE)
    image.paste(Image.new("RGB", (size[0], size[1] // 2), RED), (0, 0))
    return image


# -- image files -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class BadImage:
    name: str  # stable id used by tests and docs
    relpath: str  # where the file goes inside the corpus folder
    write: Callable[[Path], None]
    refused_as: str | None  # the Problem.kind it must be reported as; None: it must load as an upright RGB image
    what: str  # one line for the docs table


def _save(image: Image.Image, **kwargs) -> Callable[[Path], None]:
    return lambda path: image.save(path, **kwargs)


def _bytes(data: bytes) -> Callable[[Path], None]:
    return lambda path: path.write_bytes(data)


def _truncated(fmt: str, keep: float) -> Callable[[Path], None]:
    def write(path: Path) -> None:
        noise((64, 64), seed=3).save(path, format=fmt)
        data = path.read_bytes()
        path.write_bytes(data[: int(len(data) * keep)])

    return write


def _mkdir(path: Path) -> None:
    path.mkdir()


def _dangling_symlink(path: Path) -> None:
    os.symlink(path.parent / "was-deleted.jpg", path)


def _symlink_loop(path: Path) -> None:
    os.symlink(path.name, path)  # points at itself


def _unreadable(path: Path) -> None:
    noise(seed=11).save(path)
    path.chmod(0)


def _png_bomb(path: Path) -> None:
    # 12,000 x 12,000 one-bit pixels compress to ~18 KB but would decode to 432 MB of RGB.
    Image.new("1", (12_000, 12_000)).save(path)


def _sixteen_bit(path: Path) -> None:
    ramp = (np.arange(48 * 32, dtype=np.uint32).reshape(32, 48) * 40).astype(np.uint16)
    Image.fromarray(ramp).save(path)


def _palette_transparent(path: Path) -> None:
    image = Image.new("P", (32, 32), 0)
    image.putpalette([0, 0, 0, *RED, *BLUE] + [0] * (253 * 3))
    image.paste(1, (0, 0, 16, 32))
    image.paste(2, (16, 0, 32, 16))
    image.save(path, transparency=0)


def _animated_gif(path: Path) -> None:
    frames = [Image.new("RGB", (32, 32), colour) for colour in (RED, BLUE, RED)]
    frames[0].save(path, save_all=True, append_images=frames[1:], duration=40, loop=0)


def _exif_rotated(path: Path) -> None:
    # Stored sideways (as a camera held upright writes it); orientation 6 says "turn 90° clockwise to view".
    exif = Image.Exif()
    exif[EXIF_ORIENTATION] = 6
    upright_red_over_blue().rotate(90, expand=True).save(path, exif=exif, quality=95)


def _bad_exif(path: Path) -> None:
    exif = Image.Exif()
    exif[EXIF_ORIENTATION] = 77  # no such orientation
    noise(seed=12).save(path, exif=exif)


def _float_tiff(path: Path) -> None:
    Image.fromarray(np.linspace(-3.0, 9.0, 32 * 40, dtype=np.float32).reshape(32, 40)).save(path)


def _duplicate_of(source: str) -> Callable[[Path], None]:
    def write(path: Path) -> None:
        original = path.parent / source
        noise(seed=21).save(original)
        path.write_bytes(original.read_bytes())

    return write


IMAGE_CASES: tuple[BadImage, ...] = (
    BadImage("zero-bytes", "empty.jpg", _bytes(b""), "truncated", "a 0-byte file"),
    BadImage("truncated-jpeg", "cut.jpg", _truncated("JPEG", 0.5), "truncated", "a JPEG cut in half"),
    BadImage("truncated-png", "cut.png", _truncated("PNG", 0.5), "truncated", "a PNG cut in half"),
    BadImage("text-as-jpeg", "notes.jpg", _bytes(b"shopping list: milk, eggs\n"), "not-image", "a text file renamed .jpg"),
    BadImage("html-as-jpeg", "download.jpg", _bytes(b"<!DOCTYPE html><html><body>403 Forbidden</body></html>"),
             "not-image", "an HTML error page saved as .jpg"),
    BadImage("random-bytes-png", "noise.png", _bytes(np.random.default_rng(5).bytes(2048)), "not-image",
             "random bytes named .png"),
    BadImage("folder-named-jpeg", "x.jpg", _mkdir, "not-image", "a folder named x.jpg"),
    BadImage("broken-symlink", "dangling.jpg", _dangling_symlink, "missing", "a symlink to a deleted file"),
    BadImage("symlink-loop", "loop.jpg", _symlink_loop, "unreadable", "a symlink pointing at itself"),
    BadImage("no-read-permission", "locked.png", _unreadable, "unreadable", "a file without read permission"),
    BadImage("decompression-bomb", "bomb.png", _png_bomb, "too-large",
             "18 KB PNG declaring 12,000 x 12,000 pixels"),
    BadImage("one-pixel", "dot.png", _save(Image.new("RGB", (1, 1), RED)), None, "a 1x1 image"),
    BadImage("wide-strip", "wide.png", _save(noise((2000, 2), seed=6)), None, "a 2000x2 image (aspect 1000:1)"),
    BadImage("tall-strip", "tall.png", _save(noise((2, 2000), seed=7)), None, "a 2x2000 image (aspect 1:1000)"),
    BadImage("cmyk-jpeg", "print.jpg", _save(noise(seed=8).convert("CMYK"), quality=90), None, "a CMYK JPEG"),
    BadImage("16-bit-png", "deep.png", _sixteen_bit, None, "a 16-bit grayscale PNG"),
    BadImage("palette-transparency-png", "sprite.png", _palette_transparent, None,
             "a palette PNG with a transparent colour"),
    BadImage("animated-gif", "anim.gif", _animated_gif, None, "an animated GIF (first frame is used)"),
    BadImage("grayscale-jpeg", "gray.jpg", _save(noise(seed=9).convert("L")), None, "a grayscale JPEG"),
    BadImage("exif-rotated-jpeg", "sideways.jpg", _exif_rotated, None,
             "a JPEG stored sideways with EXIF orientation 6"),
    BadImage("broken-exif-jpeg", "badexif.jpg", _bad_exif, None, "a JPEG whose EXIF orientation is invalid"),
    BadImage("float-tiff", "float.tif", _float_tiff, None, "a 32-bit float TIFF"),
    BadImage("png-named-jpeg", "really-png.jpg", _save(noise(seed=10), format="PNG"), None,
             "a PNG file with a .jpg name"),
    BadImage("unicode-name", "ñandú 猫 🐱.png", _save(noise(seed=13)), None, "unicode and emoji in the file name"),
    BadImage("spaces-in-name", "my  photo (1) .jpeg", _save(noise(seed=14)), None, "spaces and brackets in the name"),
    BadImage("very-long-path", "deep/" + "sub-folder-name/" * 12 + LONG_NAME, _save(noise(seed=15)), None,
             "a 400+ character path with a 200-character file name"),
    BadImage("duplicate-file", "copy.png", _duplicate_of("original.png"), None,
             "two files with identical bytes (original.png, copy.png)"),
)


# -- hostile image files (issue 12): external decoders, special files, extreme strips, HEIC/AVIF ------------


def _eps(binary_header: bool) -> Callable[[Path], None]:
    """An EPS file (Pillow's writer is pure Python); decoding one would start Ghostscript."""
    def write(path: Path) -> None:
        import io

        buffer = io.BytesIO()
        noise((16, 16), seed=30).save(buffer, format="EPS")
        body = buffer.getvalue()
        if binary_header:  # the DOS EPS header: magic, offset and length of the PostScript section
            import struct

            body = struct.pack("<4sIIIIIIH", b"\xc5\xd0\xd3\xc6", 30, len(body), 0, 0, 0, 0, 0xFFFF) + body
        path.write_bytes(body)

    return write


def _fifo(path: Path) -> None:
    os.mkfifo(path)  # opening it for reading blocks until a writer appears: forever, here


def _symlink_to(target: str) -> Callable[[Path], None]:
    return lambda path: os.symlink(target, path)


def _strip(size: tuple[int, int], fmt: str = "PNG") -> Callable[[Path], None]:
    # Few hundred bytes; the shorter-side resize would make it gigabytes.
    return lambda path: Image.new("L", size, 128).save(path, format=fmt)


def _heif(fmt: str) -> Callable[[Path], None]:
    def write(path: Path) -> None:
        from imgcls_gui.engine.data.images import decoder_formats

        decoder_formats()  # registers the HEIF plugin, whose encoder writes the file
        noise((40, 32), seed=31).save(path, format=fmt)

    return write


HOSTILE_IMAGE_CASES: tuple[BadImage, ...] = (
    BadImage("eps-named-jpeg", "photo.jpg", _eps(False), "not-image",
             "an EPS (PostScript) file named .jpg; Pillow would run Ghostscript to decode it"),
    BadImage("binary-eps-named-png", "scan.png", _eps(True), "not-image", "a DOS-binary EPS file named .png"),
    BadImage("tga-named-jpeg", "old.jpg", _save(noise(seed=32), format="TGA"), "not-image",
             "a TGA file named .jpg (a Pillow format outside the allow-list)"),
    BadImage("pcx-named-png", "paint.png", _save(noise(seed=33), format="PCX"), "not-image",
             "a PCX file named .png (outside the allow-list)"),
    BadImage("fifo-named-jpeg", "pipe.jpg", _fifo, "not-image", "a named pipe (FIFO) called pipe.jpg"),
    BadImage("dev-zero-symlink", "zero.png", _symlink_to("/dev/zero"), "not-image",
             "a symlink to /dev/zero (endless bytes)"),
    BadImage("dev-null-symlink", "null.jpg", _symlink_to("/dev/null"), "not-image", "a symlink to /dev/null"),
    BadImage("strip-100000x1", "line.png", _strip((100_000, 1)), "too-large",
             "a PNG of 100,000 x 1 pixels (a few hundred bytes)"),
    BadImage("strip-1x100000", "column.png", _strip((1, 100_000)), "too-large", "a PNG of 1 x 100,000 pixels"),
    BadImage("strip-65000x2-jpeg", "line.jpg", _strip((65_000, 2), "JPEG"), "too-large",
             "a JPEG of 65,000 x 2 pixels (the fast JPEG path checks too)"),
    BadImage("strip-3000x2", "just-over.png", _strip((3000, 2)), "too-large",
             "a 3000x2 PNG (1500:1, just beyond the 1000:1 limit)"),
    BadImage("heic-photo", "phone.heic", _heif("HEIF"), None, "an iPhone-style HEIC photo"),
    BadImage("avif-photo", "web.avif", _heif("AVIF"), None, "an AVIF photo"),
    BadImage("garbage-named-heic", "fake.heic", _bytes(np.random.default_rng(34).bytes(600)), "not-image",
             "random bytes named .heic"),
)
IMAGE_CASES = IMAGE_CASES + HOSTILE_IMAGE_CASES


def write_images(folder: Path, cases: tuple[BadImage, ...] = IMAGE_CASES) -> dict[str, Path]:
    """Write every case under ``folder``; returns name → path."""
    written: dict[str, Path] = {}
    for case in cases:
        path = folder / case.relpath
        path.parent.mkdir(parents=True, exist_ok=True)
        case.write(path)
        written[case.name] = path
    return written


# -- label files ---------------------------------------------------------------------------------------

GOOD_ROWS = (("images/r0.png", "red"), ("images/r1.png", "red"), ("images/r2.png", "red"),
             ("images/b0.png", "blue"), ("images/b1.png", "blue"), ("images/b2.png", "blue"))


def write_label_images(folder: Path) -> None:
    """The six images GOOD_ROWS name, under ``folder/images``."""
    (folder / "images").mkdir(parents=True, exist_ok=True)
    for i, (relpath, label) in enumerate(GOOD_ROWS):
        noise((32, 32), seed=100 + i, base=RED if label == "red" else BLUE).save(folder / relpath)


def _csv(rows: list[str], newline: str = "\n", encoding: str = "utf-8") -> bytes:
    return (newline.join(rows) + newline).encode(encoding)


_GOOD = [f"{path},{label}" for path, label in GOOD_ROWS]

CSV_CASES: dict[str, bytes] = {
    "csv-only-path-column": _csv(["path"] + [path for path, _ in GOOD_ROWS]),
    "csv-only-label-column": _csv(["label"] + [label for _, label in GOOD_ROWS]),
    "csv-empty-labels": _csv(["path,label"] + _GOOD[:4] + ["images/b1.png,", "images/b2.png,  "]),
    "csv-unknown-paths": _csv(["path,label"] + _GOOD + ["images/gone.png,red", "elsewhere/x.png,blue"]),
    "csv-utf8-bom": codecs.BOM_UTF8 + _csv(["path,label"] + _GOOD),
    "csv-quoted-separators": _csv(["path,label"] + [f'"{p}","{lab}, shiny"' for p, lab in GOOD_ROWS]),
    "csv-windows-line-ends": _csv(["path,label"] + _GOOD, newline="\r\n"),
    "csv-cp1252": _csv(["path,label"] + [f"{p},{'rouge é' if lab == 'red' else 'bleu'}" for p, lab in GOOD_ROWS],
                       encoding="cp1252"),
    "csv-utf16-excel": codecs.BOM_UTF16_LE + _csv(["path\tlabel"] + [f"{p}\t{lab}" for p, lab in GOOD_ROWS],
                                                 newline="\r\n", encoding="utf-16-le"),
    "csv-ragged-rows": _csv(["path,label"] + _GOOD + ["images/r0.png,red,extra,cells", "images/b0.png"]),
    "csv-duplicate-rows": _csv(["path,label"] + _GOOD + ["images/r0.png,blue"]),
    "csv-binary": np.random.default_rng(9).bytes(512) + b"\x00",
    "csv-empty": b"",
    "csv-header-only": _csv(["path,label"]),
}

_ENTITY_HEADER = '<?xml version="1.0"?>\n<!DOCTYPE annotation [{}]>\n'


def voc_cases(secret: Path, url: str) -> dict[str, bytes]:
    """Annotation files; ``secret`` is a local file and ``url`` a listening socket: neither may be read."""
    laughs = '<!ENTITY lol "lol">' + "".join(
        f'<!ENTITY lol{i} "{("&lol;" if i == 1 else f"&lol{i - 1};") * 10}">' for i in range(1, 10)
    )
    obj = "<annotation><object><name>{}</name></object></annotation>"
    return {
        "voc-malformed": b"<annotation><object><name>cat</name></object>",
        "voc-no-objects": b"<annotation><filename>x.jpg</filename><size><width>8</width></size></annotation>",
        "voc-binary": np.random.default_rng(4).bytes(300),
        "voc-external-entity-file": (_ENTITY_HEADER.format(f'<!ENTITY x SYSTEM "file://{secret}">') + obj.format("&x;")).encode(),
        "voc-external-entity-url": (_ENTITY_HEADER.format(f'<!ENTITY x SYSTEM "{url}/x">') + obj.format("&x;")).encode(),
        "voc-external-parameter-entity": (_ENTITY_HEADER.format(f'<!ENTITY % p SYSTEM "{url}/p.dtd"> %p;') + obj.format("cat")).encode(),
        "voc-external-dtd": (f'<?xml version="1.0"?>\n<!DOCTYPE annotation SYSTEM "{url}/a.dtd">\n' + obj.format("cat")).encode(),
        "voc-billion-laughs": (_ENTITY_HEADER.format(laughs) + obj.format("&lol9;")).encode(),
    }


# -- model files ---------------------------------------------------------------------------------------


class CodeRunner:
    """Unpickling this object runs code that writes ``marker``: what a malicious model file does."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (exec, (f"import pathlib; pathlib.Path({str(self.marker)!r}).write_text('code ran')",))


def write_code_running_files(folder: Path, marker: Path) -> dict[str, Path]:
    """The same payload packed as each kind of file imgcls reads: torch zip, legacy pickle, .npy, YAML."""
    import pickle
    import zipfile

    import torch

    folder.mkdir(parents=True, exist_ok=True)
    evil = CodeRunner(marker)
    files = {
        "pickle-checkpoint": folder / "evil-checkpoint.pt",
        "pickle-legacy": folder / "evil-legacy.pt",
        "pickle-torchscript": folder / "evil-torchscript.pt",
        "pickle-npy": folder / "evil-features.npy",
        "yaml-python-tag": folder / "evil-config.yaml",
    }
    torch.save({"format": "imgcls-checkpoint", "version": 1, "model": {"weight": evil}}, files["pickle-checkpoint"])
    files["pickle-legacy"].write_bytes(pickle.dumps({"format": "imgcls-checkpoint", "model": evil}, protocol=2))
    with zipfile.ZipFile(files["pickle-checkpoint"]) as src, zipfile.ZipFile(files["pickle-torchscript"], "w") as dst:
        prefix = src.namelist()[0].split("/")[0]
        for name in src.namelist():
            dst.writestr(name, src.read(name))
        dst.writestr(f"{prefix}/extra/imgcls.json", '{"classes": ["a", "b"]}')  # looks like an imgcls TorchScript export
        dst.writestr(f"{prefix}/constants.pkl", pickle.dumps(evil, protocol=2))
    np.save(files["pickle-npy"], np.array([evil], dtype=object), allow_pickle=True)
    files["yaml-python-tag"].write_text(
        f"model: !!python/object/apply:os.system ['touch {marker}']\n", encoding="utf-8"
    )
    return files


# -- TorchScript that runs code (no pickle involved) ---------------------------------------------------


def _scripted_code_runner():
    """A TorchScript classifier whose own code writes files at load (``__setstate__``) and in ``forward``.

    ``torch.from_file(..., shared=True)`` maps a file read-write, creating it: plain TorchScript, no
    pickle, yet it creates or overwrites any file the user may write. Defined lazily (torch.jit.script
    needs torch imported) and cached, since scripting the class twice would clash."""
    import torch

    global _CODE_RUNNER_CLASS
    if "_CODE_RUNNER_CLASS" in globals():
        return _CODE_RUNNER_CLASS

    class ScriptedCodeRunner(torch.nn.Module):
        def __init__(self, target: str, weight: torch.Tensor) -> None:
            super().__init__()
            self.target = target
            self.weight = weight
            self.scratch = torch.zeros(4, dtype=torch.uint8)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            written = torch.from_file(self.target + ".forward", shared=True, size=4, dtype=torch.uint8)
            written.fill_(70)  # "FFFF"; used in the output so TorchScript cannot drop it as dead code
            return torch.softmax(x.mean(dim=(2, 3)) @ self.weight, dim=1) + written.float().sum() * 0.0

        @torch.jit.export
        def __getstate__(self) -> tuple[str, torch.Tensor, bool, torch.Tensor]:
            return (self.target, self.weight, self.training, self.scratch)

        @torch.jit.export
        def __setstate__(self, state: tuple[str, torch.Tensor, bool, torch.Tensor]) -> None:
            self.target = state[0]
            self.weight = state[1]
            self.training = state[2]
            written = torch.from_file(self.target + ".load", shared=True, size=4, dtype=torch.uint8)
            written.fill_(76)  # "LLLL", written by torch.jit.load itself
            self.scratch = written

    _CODE_RUNNER_CLASS = ScriptedCodeRunner
    return ScriptedCodeRunner


def write_code_running_torchscript(path: Path, marker: Path, metadata_json: str, classes: int = 2) -> tuple[Path, Path]:
    """A TorchScript file dressed as an imgcls export (valid ``extra/imgcls.json``) that writes
    ``marker.load`` when loaded and ``marker.forward`` when run; returns those two paths."""
    import warnings

    import torch

    cls = _scripted_code_runner()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        module = torch.jit.script(cls(str(marker), torch.linspace(-1, 1, 3 * classes).reshape(3, classes)))
        path.parent.mkdir(parents=True, exist_ok=True)
        torch.jit.save(module, str(path), _extra_files={"imgcls.json": metadata_json})
    return Path(f"{marker}.load"), Path(f"{marker}.forward")


# -- model files that declare far more than they hold (zip bombs) ----------------------------------------

BOMB_BYTES = 3 * 10**9  # what each bomb declares; a file holds at most ~3 MB of it


def deflated_zeros(total: int, chunk: int = 1 << 24) -> tuple[bytes, int]:
    """A raw deflate stream of about ``total`` zero bytes, made in a second: after a sync flush the
    compressor's window is all zeros, so one chunk's output can be repeated verbatim. Returns
    (stream, exact length it inflates to)."""
    import zlib

    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    zeros = bytes(chunk)
    first = compressor.compress(zeros) + compressor.flush(zlib.Z_SYNC_FLUSH)
    unit = compressor.compress(zeros) + compressor.flush(zlib.Z_SYNC_FLUSH)
    repeats = max(1, total // chunk - 1)
    return first + unit * repeats + compressor.flush(zlib.Z_FINISH), chunk * (repeats + 1)


def write_raw_zip(path: Path, members: list[tuple[str, bytes, int, int]]) -> None:
    """A zip written by hand, so a member can declare any size: (name, payload, method 0|8, declared size).
    The CRC is that of the payload for stored members and 0 otherwise (nothing should get far enough to check)."""
    import struct
    import zlib

    local, central = bytearray(), bytearray()
    for name, payload, method, declared in members:
        encoded = name.encode()
        crc = zlib.crc32(payload) if method == 0 else 0
        offset = len(local)
        local += struct.pack("<IHHHHHIIIHH", 0x04034B50, 20, 0, method, 0, 0x21, crc, len(payload), declared,
                             len(encoded), 0) + encoded + payload
        central += struct.pack("<IHHHHHHIIIHHHHHII", 0x02014B50, 20, 20, 0, method, 0, 0x21, crc, len(payload),
                               declared, len(encoded), 0, 0, 0, 0, 0, offset) + encoded
    end = struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, len(members), len(members), len(central), len(local), 0)
    path.write_bytes(bytes(local + central + end))


def write_zip_bombs(folder: Path, checkpoint: Path) -> dict[str, Path]:
    """Copies of a real checkpoint's zip that declare GBs four ways; name → path."""
    import zipfile

    folder.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(checkpoint) as archive:
        real = [(info.filename, archive.read(info)) for info in archive.infolist()]
    prefix = real[0][0].split("/")[0]
    tensor = f"{prefix}/data/0"  # the first tensor's record: torch.load reads (inflates) it
    stored = [(name, data, 0, len(data)) for name, data in real if name != tensor]
    stream, inflated = deflated_zeros(BOMB_BYTES)
    small_stream, small_inflated = deflated_zeros(BOMB_BYTES // 400, chunk=1 << 20)
    bombs = {
        # the tensor's record as deflated zeros: what a 2 MB file inflating to GBs looks like
        "checkpoint-deflate-bomb": stored + [(tensor, stream, 8, inflated)],
        # the same spread over 400 members, none large by itself
        "checkpoint-many-small-bombs": stored + [(tensor if i == 0 else f"{prefix}/data/9{i:03d}", small_stream, 8,
                                                  small_inflated) for i in range(400)],
        # a stored record whose directory entry lies about its size
        "checkpoint-size-lie": stored + [(tensor, b"\x00" * 4096, 0, BOMB_BYTES)],
    }
    written = {}
    for name, members in bombs.items():
        written[name] = folder / f"{name}.pt"
        write_raw_zip(written[name], members)
    written["checkpoint-storage-lie"] = folder / "checkpoint-storage-lie.pt"
    write_raw_zip(written["checkpoint-storage-lie"], [(n, _inflate_first_storage(d) if n.endswith("data.pkl") else d, 0,
                                                        len(_inflate_first_storage(d)) if n.endswith("data.pkl") else len(d))
                                                       for n, d in real])
    return written


def _inflate_first_storage(index: bytes) -> bytes:
    """data.pkl with its first storage's element count raised to 2**31 (a BININT1/BININT2 rewritten as BININT)."""
    import pickletools
    import struct

    for opcode, arg, position in pickletools.genops(index):
        if opcode.name == "BINPERSID":
            break
        if opcode.name in ("BININT1", "BININT2", "BININT"):
            count = (position, {"BININT1": 2, "BININT2": 3, "BININT": 5}[opcode.name])
    start, length = count
    return index[:start] + b"J" + struct.pack("<i", 2**31 - 1) + index[start + length:]
