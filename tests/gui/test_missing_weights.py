"""Start with ImageNet weights that are not cached (empty TORCH_HOME, offline): a dialog names the missing
file and offers the working choices before any run folder exists (issue 13, offline-aware defaults)."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt

from imgcls_gui.engine.config import ModelConfig
from imgcls_gui.gui import errors as gui_errors
from imgcls_gui.gui.main_window import MainWindow

from .workflow_helpers import WAIT_MS, colour_project, fast_config, wait_workers


def click(qtbot, button) -> None:
    assert button.isVisible() and button.isEnabled(), button.text()
    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)


def _offline_imagenet_project(main_win: MainWindow, qtbot, tmp_path: Path, monkeypatch) -> Path:
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))  # nothing cached
    monkeypatch.setenv("IMGCLS_OFFLINE", "1")
    project = colour_project(qtbot, main_win, tmp_path, per_class=3)
    main_win.state.set_run_config(fast_config().replace(model=ModelConfig(name="mobilenet_v3_small", image_size=32)))
    main_win.show_panel("training")
    return project


def _open_dialog(main_win: MainWindow, qtbot):
    panel = main_win.panel("training")
    click(qtbot, panel.controls.start_button)
    qtbot.waitUntil(lambda: panel.weights_dialog is not None and panel.weights_dialog.isVisible(), timeout=WAIT_MS)
    return panel, panel.weights_dialog


def test_missing_imagenet_weights_ask_first_and_from_scratch_trains(main_win: MainWindow, qtbot, tmp_path, monkeypatch):
    project = _offline_imagenet_project(main_win, qtbot, tmp_path, monkeypatch)
    panel, dialog = _open_dialog(main_win, qtbot)
    intro = dialog.findChild(type(dialog.status), "missing_weights_intro").text()
    assert "mobilenet_v3_small" in intro and "mobilenet_v3_small-" in intro and ".pth" in intro  # the missing file
    assert not dialog.radios["cached"].isEnabled()  # nothing is cached here
    assert not list(project.glob("runs/*"))  # no run folder while the user decides
    click(qtbot, dialog.radios["none"])
    with qtbot.waitSignal(panel.session.finished, timeout=WAIT_MS * 4):
        click(qtbot, dialog.start_button)
    assert main_win.state.run_config.model.weights == "none"  # written into the draft: the Model panel shows it
    model_panel = main_win.panel("model")
    assert model_panel.weights.weights == "none"
    assert [run.status for run in panel.runs.model.runs] == ["finished"]  # no failed run beside it
    assert not gui_errors.open_error_dialogs()
    wait_workers(qtbot)  # the Results view loads the finished run in a worker


def test_cancel_starts_nothing_and_leaves_no_run_folder(main_win: MainWindow, qtbot, tmp_path, monkeypatch):
    project = _offline_imagenet_project(main_win, qtbot, tmp_path, monkeypatch)
    panel, dialog = _open_dialog(main_win, qtbot)
    click(qtbot, dialog.cancel_button)
    qtbot.waitUntil(lambda: panel.weights_dialog is None)
    assert not panel.session.running and panel.controls.start_button.isEnabled()
    assert not list(project.glob("runs/*")) and panel.runs.model.runs == []
    assert main_win.state.run_config.model.weights == "imagenet"  # the choice is left as it was


def test_a_cached_backbone_or_a_local_file_is_written_into_the_draft(main_win: MainWindow, qtbot, tmp_path, monkeypatch):
    _offline_imagenet_project(main_win, qtbot, tmp_path, monkeypatch)
    from imgcls_gui.engine import weights_cache_path

    fake = weights_cache_path("resnet18")  # only its presence is looked at before Start
    fake.parent.mkdir(parents=True, exist_ok=True)
    fake.write_bytes(b"")
    panel, dialog = _open_dialog(main_win, qtbot)
    assert dialog.radios["cached"].isChecked() and dialog.backbone_combo.currentText() == "resnet18"
    model = dialog.chosen_model(main_win.state.run_config.model)
    assert (model.name, model.weights, model.image_size) == ("resnet18", "imagenet", 32)
    dialog.ask_path = lambda parent, kind: str(tmp_path / "mine.pth")
    click(qtbot, dialog.browse_button)
    assert dialog.radios["file"].isChecked()
    model = dialog.chosen_model(main_win.state.run_config.model)
    assert (model.name, model.weights) == ("mobilenet_v3_small", str(tmp_path / "mine.pth"))
    click(qtbot, dialog.cancel_button)
    qtbot.waitUntil(lambda: panel.weights_dialog is None)


def test_download_now_fetches_over_http_into_torch_home_and_the_run_uses_it(main_win: MainWindow, qtbot, tmp_path,
                                                                            monkeypatch):
    """The dialog's "Download them now" through torch.hub's real downloader, from a web server on 127.0.0.1
    (IMGCLS_WEIGHTS_MIRROR points at it), landing in TORCH_HOME's cache; then the run starts with ImageNet weights."""
    import functools
    import threading
    from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

    import torch
    import torchvision

    from imgcls_gui.engine import weights_cache_path

    _offline_imagenet_project(main_win, qtbot, tmp_path, monkeypatch)
    monkeypatch.delenv("IMGCLS_OFFLINE")
    served = tmp_path / "mirror"
    served.mkdir()
    torch.manual_seed(0)
    state = torchvision.models.mobilenet_v3_small(weights=None).state_dict()
    cache_file = weights_cache_path("mobilenet_v3_small")
    torch.save(state, served / cache_file.name)  # the mirror holds torchvision's file under its own name
    handler = functools.partial(SimpleHTTPRequestHandler, directory=str(served))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        monkeypatch.setenv("IMGCLS_WEIGHTS_MIRROR", f"http://127.0.0.1:{server.server_address[1]}/")
        panel, dialog = _open_dialog(main_win, qtbot)
        click(qtbot, dialog.radios["download"])
        assert dialog.start_button.text() == "Download and start"
        with qtbot.waitSignal(panel.session.finished, timeout=WAIT_MS * 4):
            click(qtbot, dialog.start_button)
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)
        wait_workers(qtbot)  # the Results view loads the finished run in a worker
    assert cache_file.is_file() and cache_file.is_relative_to(tmp_path / "torch")
    assert cache_file.read_bytes() == (served / cache_file.name).read_bytes()
    assert main_win.state.run_config.model.weights == "imagenet"  # the choice stays ImageNet
    assert [run.status for run in panel.runs.model.runs] == ["finished"]
    assert [run.config.model.weights for run in panel.runs.model.runs] == ["imagenet"]
    assert not gui_errors.open_error_dialogs()
