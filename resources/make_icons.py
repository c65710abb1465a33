"""Draw the imgcls app icon with Pillow and write every size the desktop and installers want.

Run from the repository root: ``.venv/bin/python resources/make_icons.py``. The outputs are
committed (``resources/icons/imgcls-<size>.png``, ``imgcls.ico``, ``imgcls.icns``), so building
or running the app never needs this script. The design: a photo (mountains and sun) on a blue
tile, with a green label tag in the corner, i.e. "photos in, labels out".
"""

from __future__ import annotations

from pathlib import Path

from PIL import Image, ImageDraw

CANVAS = 1024  # drawn once large, then downscaled with a good filter for crisp small sizes
SIZES = (16, 24, 32, 48, 64, 128, 256, 512)
ICO_SIZES = [(s, s) for s in (16, 24, 32, 48, 64, 128, 256)]
OUT = Path(__file__).resolve().parent / "icons"

TILE_TOP, TILE_BOTTOM = (38, 92, 178), (22, 52, 120)
PHOTO, SKY = (250, 250, 252), (196, 226, 250)
MOUNTAIN_BACK, MOUNTAIN_FRONT = (64, 140, 96), (36, 104, 70)
SUN, TAG, TAG_HOLE = (255, 196, 48), (46, 184, 92), (22, 52, 120)


def draw_icon(size: int = CANVAS) -> Image.Image:
    scale = size / CANVAS
    image = Image.new("RGBA", (size, size), (0, 0, 0, 0))
    _tile(image, scale)
    draw = ImageDraw.Draw(image)
    s = lambda *values: [round(v * scale) for v in values]  # noqa: E731 - coordinates on the 1024 grid
    draw.rounded_rectangle(s(150, 210, 874, 770), radius=round(40 * scale), fill=PHOTO)
    draw.rectangle(s(200, 260, 824, 720), fill=SKY)
    draw.ellipse(s(620, 300, 740, 420), fill=SUN)
    draw.polygon(s(200, 720, 430, 420, 640, 720), fill=MOUNTAIN_BACK)
    draw.polygon(s(380, 720, 600, 480, 824, 680, 824, 720), fill=MOUNTAIN_FRONT)
    # A label tag, tilted by drawing a diamond-ended shape, in the bottom-right corner.
    draw.polygon(s(600, 700, 760, 620, 940, 800, 780, 960, 600, 860), fill=TAG)
    draw.ellipse(s(640, 740, 700, 800), fill=TAG_HOLE)
    return image


def _tile(image: Image.Image, scale: float) -> None:
    """A rounded square with a vertical gradient (Pillow has no gradient fill: blend two tiles)."""
    size = image.size[0]
    top = Image.new("RGBA", image.size, TILE_TOP + (255,))
    bottom = Image.new("RGBA", image.size, TILE_BOTTOM + (255,))
    ramp = Image.linear_gradient("L").resize(image.size)
    gradient = Image.composite(bottom, top, ramp)
    mask = Image.new("L", image.size, 0)
    ImageDraw.Draw(mask).rounded_rectangle([round(40 * scale), round(40 * scale), size - round(40 * scale) - 1,
                                            size - round(40 * scale) - 1], radius=round(190 * scale), fill=255)
    image.paste(gradient, (0, 0), mask)


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    master = draw_icon()
    for size in SIZES:
        master.resize((size, size), Image.LANCZOS).save(OUT / f"imgcls-{size}.png", optimize=True)
    master.save(OUT / "imgcls.ico", sizes=ICO_SIZES)
    master.save(OUT / "imgcls.icns")
    print(f"wrote {len(SIZES)} PNGs, imgcls.ico and imgcls.icns to {OUT}")


if __name__ == "__main__":
    main()
