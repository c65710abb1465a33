from __future__ import annotations

import hashlib
import os
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from imgcls_gui.engine.data import images
from imgcls_gui.engine.errors import ImageReadError, ImgclsError
from imgcls_gui.engine.data.images import check_image, file_sha1, is_image_path, load_image, to_rgb


def _pixel(image: Image.Image, xy=(0, 0)) -> tuple[int, int, int]:
    return image.getpixel(xy)


def _close(actual, expected, tol=12) -> bool:
    return all(abs(a - e) <= tol for a, e in zip(actual, expected))


def _png_header_only(path: Path, width: int, height: int) -> Path:
    """A PNG whose IHDR declares width x height but holds no pixel data at all."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IEND", b""))
    return path


def _failure_kind(path) -> str:
    with pytest.raises(ImageReadError) as info:
        load_image(path)
    assert isinstance(info.value, ImgclsError)
    assert str(path) in str(info.value)
    problem = check_image(path)
    assert problem is not None and problem.path == str(path)
    assert problem.kind == info.value.kind
    return info.value.kind


@pytest.mark.parametrize("name", ["a.jpg", "B.JPEG", "c.Png", "d.bmp", "e.GIF", "f.webp", "g.TIF", "h.tiff"])
def test_is_image_path_accepts_every_extension_in_any_case(name):
    assert is_image_path(name)
    assert is_image_path(Path("/some/dir") / name)


@pytest.mark.parametrize("name", ["notes.txt", "jpg", "archive.jpg.zip", "labels.csv", "x.svg"])
def test_is_image_path_rejects_other_files(name):
    assert not is_image_path(name)


def test_cmyk_jpeg_becomes_rgb_with_the_right_colour(tmp_path):
    path = tmp_path / "cmyk.jpg"
    Image.new("RGB", (16, 16), (200, 40, 40)).convert("CMYK").save(path, quality=95)
    assert Image.open(path).mode == "CMYK"
    image = load_image(path)
    assert image.mode == "RGB"
    assert _close(_pixel(image, (8, 8)), (200, 40, 40), tol=20)


def test_16bit_png_is_scaled_not_clipped_to_white(tmp_path):
    path = tmp_path / "deep.png"
    values = np.full((8, 8), 128 * 257, dtype=np.uint16)
    values[0, 0] = 65535
    values[0, 1] = 0
    Image.fromarray(values).save(path)
    assert Image.open(path).mode.startswith("I")
    image = load_image(path)
    assert image.mode == "RGB"
    assert _pixel(image, (4, 4)) == (128, 128, 128)
    assert _pixel(image, (0, 0)) == (255, 255, 255)
    assert _pixel(image, (1, 0)) == (0, 0, 0)


def test_palette_with_transparency_composites_on_white(tmp_path):
    path = tmp_path / "pal.png"
    image = Image.new("P", (4, 4), 0)
    image.putpalette([0, 0, 0, 255, 0, 0] + [0] * (256 * 3 - 6))
    image.putpixel((1, 1), 1)
    image.save(path, transparency=0)
    loaded = load_image(path)
    assert loaded.mode == "RGB"
    assert _pixel(loaded, (0, 0)) == (255, 255, 255)  # transparent black → white, not black
    assert _pixel(loaded, (1, 1)) == (255, 0, 0)


def test_la_and_rgba_alpha_composites_on_white(tmp_path):
    la_path = tmp_path / "la.png"
    la = Image.new("LA", (2, 1))
    la.putpixel((0, 0), (50, 0))
    la.putpixel((1, 0), (50, 255))
    la.save(la_path)
    loaded = load_image(la_path)
    assert _pixel(loaded, (0, 0)) == (255, 255, 255)
    assert _pixel(loaded, (1, 0)) == (50, 50, 50)

    rgba_path = tmp_path / "rgba.png"
    Image.new("RGBA", (2, 2), (255, 0, 0, 128)).save(rgba_path)
    assert _close(_pixel(load_image(rgba_path)), (255, 127, 127), tol=2)


def test_grayscale_becomes_three_equal_channels(tmp_path, make_image):
    path = make_image(tmp_path / "gray.png", color=(90, 90, 90), mode="L")
    image = load_image(path)
    assert image.mode == "RGB"
    red, green, blue = _pixel(image)
    assert red == green == blue == 90


def test_animated_gif_gives_its_first_frame(tmp_path):
    path = tmp_path / "anim.gif"
    frames = [Image.new("RGB", (8, 8), (255, 0, 0)), Image.new("RGB", (8, 8), (0, 0, 255))]
    frames[0].save(path, save_all=True, append_images=frames[1:], duration=50, loop=0)
    assert Image.open(path).n_frames == 2
    image = load_image(path)
    assert image.mode == "RGB"
    assert _close(_pixel(image), (255, 0, 0), tol=2)


def test_exif_orientation_is_applied_so_the_image_is_upright(tmp_path):
    path = tmp_path / "rotated.jpg"
    exif = Image.Exif()
    exif[0x0112] = 6  # camera held sideways: stored landscape, displayed portrait
    Image.new("RGB", (40, 20), (10, 200, 10)).save(path, exif=exif)
    assert Image.open(path).size == (40, 20)
    assert load_image(path).size == (20, 40)


def test_jpeg_draft_decodes_smaller_but_not_below_the_requested_size(tmp_path, make_image):
    path = make_image(tmp_path / "big.jpg", size=(800, 600), seed=3)
    full = load_image(path)
    drafted = load_image(path, draft_size=100)
    assert full.size == (800, 600)
    assert drafted.size < full.size
    assert min(drafted.size) >= 100
    # a PNG has no draft mode: the size is unchanged
    png = make_image(tmp_path / "big.png", size=(300, 200), seed=4)
    assert load_image(png, draft_size=50).size == (300, 200)


def test_to_rgb_scales_32bit_int_and_float_images():
    as_int = Image.fromarray(np.array([[0, 65535]], dtype=np.int32))
    assert as_int.mode == "I"
    assert [_pixel(to_rgb(as_int), (x, 0)) for x in range(2)] == [(0, 0, 0), (255, 255, 255)]
    as_float = Image.fromarray(np.array([[0.0, 0.5, 1.0]], dtype=np.float32))
    assert as_float.mode == "F"
    assert [_pixel(to_rgb(as_float), (x, 0))[0] for x in range(3)] == [0, 128, 255]


def test_missing_file(tmp_path):
    assert _failure_kind(tmp_path / "nope.jpg") == "missing"


def test_zero_byte_file(tmp_path):
    path = tmp_path / "empty.jpg"
    path.touch()
    assert _failure_kind(path) == "truncated"


@pytest.mark.parametrize("name, keep", [("cut.jpg", 0.5), ("early.jpg", 0.1), ("cut.png", 0.5)])
def test_truncated_files(tmp_path, make_image, name, keep):
    path = make_image(tmp_path / name, size=(64, 64), seed=5)
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * keep)])
    assert _failure_kind(path) == "truncated"


def test_text_file_renamed_jpg(tmp_path):
    path = tmp_path / "fake.jpg"
    path.write_text("this is not a picture\n")
    assert _failure_kind(path) == "not-image"


def test_directory_named_like_an_image(tmp_path):
    path = tmp_path / "x.jpg"
    path.mkdir()
    assert _failure_kind(path) == "not-image"


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() == 0, reason="root can read anything")
def test_permission_denied(tmp_path, make_image):
    path = make_image(tmp_path / "locked.png")
    path.chmod(0)
    try:
        assert _failure_kind(path) == "unreadable"
    finally:
        path.chmod(0o644)


def test_permission_error_while_opening_is_reported(tmp_path, make_image, monkeypatch):
    path = make_image(tmp_path / "locked.png")

    def refuse(*args, **kwargs):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(images, "open_regular_file", refuse)  # the one place images.py opens a file
    assert _failure_kind(path) == "unreadable"
    assert "permission" in check_image(path).reason


def test_decompression_bomb_header_is_refused(tmp_path):
    path = _png_header_only(tmp_path / "bomb.png", 100_000, 100_000)
    assert _failure_kind(path) == "too-large"


def test_max_image_pixels_is_checked_before_decoding(tmp_path, monkeypatch):
    # No pixel data: decoding fails, so "too-large" proves we stopped at the header.
    path = _png_header_only(tmp_path / "declared.png", 200, 200)
    assert _failure_kind(path) == "unreadable"
    monkeypatch.setattr(images, "MAX_IMAGE_PIXELS", 100 * 100)
    assert _failure_kind(path) == "too-large"


def test_check_image_accepts_a_good_image(tmp_path, make_image):
    assert check_image(make_image(tmp_path / "ok.jpg", seed=1)) is None


def test_file_sha1_streams_the_content_hash(tmp_path, monkeypatch):
    path = tmp_path / "blob.bin"
    data = os.urandom(3000)
    path.write_bytes(data)
    monkeypatch.setattr(images, "_HASH_CHUNK", 1024)  # several chunks
    assert file_sha1(path) == hashlib.sha1(data).hexdigest()
    other = tmp_path / "other.bin"
    other.write_bytes(data[:-1] + bytes([data[-1] ^ 1]))
    assert file_sha1(other) != file_sha1(path)


def test_real_hymenoptera_odd_files_load(shared_datasets):
    ants = shared_datasets / "hymenoptera" / "train" / "ants"
    placeholder = load_image(ants / "imageNotFound.gif")  # a palette GIF: still a valid image
    assert placeholder.mode == "RGB" and placeholder.size == (300, 300)
    assert load_image(ants / "formica.jpeg").mode == "RGB"
