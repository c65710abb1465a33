"""Work the app hands to its child process (gui/common/child_jobs.py) keeps torch out of the window's process: a
fresh app that finds issues in a project, shows a row's Grad-CAM, computes the embedding map and explains an image
in the Grad-CAM pane has still not imported torch, torchvision, pytorch-grad-cam or umap itself."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

from imgcls_gui.gui.main_window import MainWindow

from ...engine.tiny_data import make_class_folders
from ..workflow_helpers import WAIT_MS, fast_config, project_with_images, save_listed_run

APP_SCRIPT = textwrap.dedent("""
    import json, os, sys, time
    from pathlib import Path
    os.environ["QT_QPA_PLATFORM"] = "offscreen"
    from PySide6.QtWidgets import QApplication
    app = QApplication([])
    from imgcls_gui.engine import RunConfig
    from imgcls_gui.gui.common.explanation import ExplanationPane
    from imgcls_gui.gui.main_window import MainWindow

    def wait(done, what, timeout=float(sys.argv[3])):
        deadline = time.monotonic() + timeout
        while not done():
            if time.monotonic() > deadline:
                raise SystemExit(f"timed out waiting for {what}")
            app.processEvents()
            time.sleep(0.02)

    window = MainWindow(probe_device=False)
    window.show()
    assert window.projects.open_project(Path(sys.argv[1]))
    window.state.set_run_config(RunConfig.from_dict(json.loads(sys.argv[2])))
    review = window.panel("dataset").review
    review.start()
    wait(lambda: not review.running, "the diagnosis")
    assert review.model.rows, review.summary.text()
    review.table.selectRow(0)
    wait(lambda: review.caption.text() not in ("", "…") and not review.image_task.busy, "the row's Grad-CAM")
    assert review.caption.text().startswith("Grad-CAM of"), review.caption.text()
    embedding = window.panel("dataset").embedding
    embedding.method.setCurrentText("pca")
    embedding.compute()
    wait(lambda: embedding.data is not None, "the embedding map")
    pane = ExplanationPane(window.state)
    pane.set_model(review.run, ("red", "blue"))
    pane.show_image(review.model.rows[0].issue.path)
    wait(lambda: pane.result is not None, "the pane's Grad-CAM")
    assert pane.result.overlays, pane.result.error
    heavy = ("torch", "torchvision", "pytorch_grad_cam", "umap", "cleanlab")
    print(json.dumps({"imported": [m for m in heavy if m in sys.modules], "pid": os.getpid(),
                      "child_pids": [embedding.data.pid, pane.result.pid]}))
    window.close()
""")


def test_review_gradcam_and_the_embedding_map_leave_torch_out_of_the_apps_process(main_win: MainWindow, qtbot,
                                                                                    tmp_path: Path):
    data = make_class_folders(tmp_path / "data", classes=("red", "blue"), per_class=6, size=32)
    (data / "blue" / "003.png").rename(data / "red" / "003-was-blue.png")
    folder = project_with_images(qtbot, main_win, tmp_path, data)
    save_listed_run(folder / "runs" / "r1", fast_config(), [{"epoch": 0, "accuracy": 0.9}], classes=("red", "blue"))
    main_win.state.close_project()  # the app below opens it

    env = {**os.environ, "IMGCLS_CACHE_DIR": str(tmp_path / "cache")}
    out = subprocess.run([sys.executable, "-c", APP_SCRIPT, str(folder), json.dumps(fast_config().to_dict()),
                          str(WAIT_MS / 1000)], capture_output=True, text=True, timeout=3 * WAIT_MS / 1000, env=env)
    assert out.returncode == 0, out.stdout + out.stderr
    report = json.loads(out.stdout.strip().splitlines()[-1])
    assert report["imported"] == []  # the work happened, and none of it in this process
    assert all(pid not in (0, report["pid"]) for pid in report["child_pids"])
