"""On a HiDPI screen (device pixel ratio 2, here QT_SCALE_FACTOR=2 in a fresh interpreter) thumbnails, the
preview, augmentation tiles and toolbar icons carry twice the pixels at the same logical size, so they
are drawn sharp instead of blown up."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

SCRIPT = textwrap.dedent(r"""
    import json, sys
    from pathlib import Path

    import numpy as np
    from PIL import Image
    from PySide6.QtCore import QEventLoop, QRect, QSize, QTimer
    from PySide6.QtGui import QImage, QPainter
    from PySide6.QtWidgets import QApplication

    app = QApplication([])
    from imgcls_gui.gui.common.thumbnails import ThumbnailLoader
    from imgcls_gui.gui.dataset.class_list import ClassListWidget
    from imgcls_gui.gui.dataset.delegate import ThumbnailDelegate
    from imgcls_gui.gui.dataset.preview import PreviewPane
    from imgcls_gui.gui.state import AppState
    from imgcls_gui.gui.training_panel.augment import tile_pixmap

    photo = Path(sys.argv[1])
    rng = np.random.default_rng(0)
    Image.fromarray(rng.integers(0, 255, (300, 400, 3), dtype=np.uint8)).save(photo)

    def wait_for(loader, path):
        loop = QEventLoop()
        loader.thumbnailReady.connect(loop.quit)
        QTimer.singleShot(20000, loop.quit)
        if loader.get(path) is None:
            loop.exec()
        return loader.get(path)

    loader = ThumbnailLoader(size=56)
    thumb = wait_for(loader, photo)
    loader.shutdown()
    # The grid's delegate draws it at its logical size into a ratio-2 canvas: every device pixel is the image's.
    canvas = QImage(200, 200, QImage.Format.Format_RGB32)
    canvas.setDevicePixelRatio(2.0)
    canvas.fill(0)
    painter = QPainter(canvas)
    ThumbnailDelegate(56)._paint_picture(painter, QRect(0, 0, 100, 100), type("I", (), {"data": lambda self, role=0: (
        None if role != 1 else thumb)})())
    painter.end()
    source = thumb.toImage()
    left, top = 2 * ((100 - 56) // 2), 2 * ((100 - source.height() // 2) // 2)  # centred, in device pixels
    same = sum(canvas.pixel(left + x, top + y) == source.pixel(x, y)
               for x in range(source.width()) for y in range(source.height()))
    preview = PreviewPane()
    preview.resize(300, 300)
    preview.show()
    preview.picture.resize(200, 200)
    preview._show_pixmap(wait_for(preview.loader, photo))
    preview.loader.shutdown()
    shown = preview.picture.pixmap()
    tile = tile_pixmap(np.zeros((64, 64, 3), np.uint8), 96, ratio=app.devicePixelRatio())
    classes = ClassListWidget(AppState())
    button = classes.buttons["add"]
    icon = button.icon().pixmap(button.iconSize(), button.devicePixelRatioF())
    json.dump({
        "app": app.devicePixelRatio(),
        "thumb": [thumb.devicePixelRatio(), thumb.width(), thumb.deviceIndependentSize().width()],
        "one_to_one": same / (source.width() * source.height()),
        "preview": [shown.devicePixelRatio(), shown.width(), shown.deviceIndependentSize().width()],
        "tile": [tile.devicePixelRatio(), tile.width(), tile.deviceIndependentSize().width()],
        "icon": [icon.devicePixelRatio(), icon.width(), button.iconSize().width()],
    }, sys.stdout)
""")


def test_thumbnails_preview_tiles_and_icons_are_sharp_at_device_pixel_ratio_2(tmp_path: Path):
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "QT_SCALE_FACTOR": "2"}
    env["PYTHONPATH"] = os.pathsep.join([str(Path(__file__).resolve().parents[2]), env.get("PYTHONPATH", "")])
    done = subprocess.run([sys.executable, "-c", SCRIPT, str(tmp_path / "photo.png")], env=env, cwd=tmp_path,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    seen = json.loads(done.stdout.strip().splitlines()[-1])
    assert seen["app"] == 2.0
    assert seen["thumb"] == [2.0, 112, 56]  # decoded at 112 px for a 56 px cell
    assert seen["one_to_one"] > 0.99  # the grid draws each thumbnail pixel onto one device pixel: no blur
    ratio, pixels, logical = seen["preview"]
    assert ratio == 2.0 and pixels == 2 * logical and logical >= 150  # fills the 200 px label with device pixels
    assert seen["tile"] == [2.0, 192, 96]
    ratio, pixels, logical = seen["icon"]
    assert ratio == 2.0 and pixels == 2 * logical
