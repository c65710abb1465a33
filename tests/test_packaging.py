"""The PyInstaller bundle (packaging/) and the ``--smoke-test`` it runs.

Always on: the spec's lists (torchvision extensions, icons, demo data, freeze_support first), the
smoke routine's error paths, and the smoke test itself from source with every module the spec
excludes made unimportable (so an exclusion the app needs fails here, without a 20-minute build).
With ``IMGCLS_TEST_PACKAGING=1``: build ``dist/imgcls/`` and run the frozen app's smoke test from a
path with spaces and non-ASCII letters and another working directory.
"""

from __future__ import annotations

import ast
import importlib.util
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGING = ROOT / "packaging"
SMOKE_TIMEOUT_S = 900
BUILD_TIMEOUT_S = 3600


def _load_bundle_contents():
    spec = importlib.util.spec_from_file_location("bundle_contents", PACKAGING / "bundle_contents.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


contents = _load_bundle_contents()


# -- what the spec collects --------------------------------------------------------------------

def test_every_torchvision_extension_is_a_hidden_import():
    """The 'operator torchvision::nms does not exist' trap: each compiled file torchvision ships is collected."""
    import torchvision

    folder = Path(torchvision.__file__).parent
    shipped = {f"torchvision.{p.name.split('.')[0]}" for p in (*folder.glob("*.so"), *folder.glob("*.pyd"))}
    assert shipped, f"no compiled extension found in {folder}"
    collected = set(contents.torchvision_extension_modules())
    assert shipped <= collected
    assert {"torchvision._C_stable", "torchvision.image_stable"} <= collected  # torchvision 0.29's names


def test_spec_uses_the_shared_lists():
    """The spec must pass the lists the tests check, not copies that could drift."""
    spec = (PACKAGING / "imgcls.spec").read_text(encoding="utf-8")
    for used in ("contents.torchvision_extension_modules()", "contents.EXCLUDED_MODULES", "contents.EXCLUDED_FOR_SIZE",
                 "contents.is_excluded_file", "contents.ICONS_DEST", "contents.README_DEST",
                 "contents.DEMO_DATA", "contents.SOURCE_PACKAGES", "collect_submodules(contents.APP_PACKAGE)",
                 "contents.APP_PACKAGE_FILES", "imgcls_entry.py"):
        assert used in spec, used


def test_entry_point_calls_freeze_support_before_importing_the_app():
    tree = ast.parse((PACKAGING / "imgcls_entry.py").read_text(encoding="utf-8"))
    main_guard = next(node for node in tree.body if isinstance(node, ast.If))
    first = main_guard.body[0]
    assert isinstance(first, ast.Expr) and ast.unparse(first.value) == "multiprocessing.freeze_support()"
    imports = [node for node in ast.walk(tree) if isinstance(node, (ast.Import, ast.ImportFrom))]
    assert all(getattr(node, "module", None) != "imgcls_gui.gui.app" or node.lineno > first.lineno for node in imports)


def test_the_entry_point_runs_a_rank_of_an_all_gpus_run_not_a_second_window(tmp_path):
    """The frozen app is its own Python: a rank started as ``EXECUTABLE -m ...launch_job FOLDER`` must become
    the rank (here it fails on a folder without a job, and names it) instead of opening the app."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "QT_QPA_PLATFORM": "offscreen"}
    done = subprocess.run([sys.executable, str(PACKAGING / "imgcls_entry.py"), "-m",
                           "imgcls_gui.engine.training.launch_job", str(tmp_path)],
                          capture_output=True, text=True, timeout=SMOKE_TIMEOUT_S, env=env, cwd=tmp_path)
    assert done.returncode != 0 and "job.json" in done.stderr


def test_resource_path_finds_the_icons_from_source():
    from imgcls_gui.resources import APP_ICON_SIZES, app_icon_paths, resource_path

    assert [p.name for p in app_icon_paths()] == [f"imgcls-{size}.png" for size in APP_ICON_SIZES]
    for name in ("imgcls.ico", "imgcls.icns"):
        assert resource_path(f"icons/{name}").is_file(), name
    assert resource_path("icons") == ROOT / contents.ICONS_SOURCE


def test_resource_path_when_frozen_points_where_the_spec_puts_the_icons(tmp_path, monkeypatch):
    from imgcls_gui.resources import app_icon_paths, resource_path

    shutil.copytree(ROOT / contents.ICONS_SOURCE, tmp_path / contents.ICONS_DEST)
    monkeypatch.setattr(sys, "_MEIPASS", str(tmp_path), raising=False)
    assert resource_path("icons/imgcls.ico") == tmp_path / contents.ICONS_DEST / "imgcls.ico"
    assert app_icon_paths() and all(p.is_relative_to(tmp_path) for p in app_icon_paths())


def test_the_readme_is_in_the_bundle_where_the_guide_finds_it(tmp_path, monkeypatch):
    from imgcls_gui.resources import readme_path

    assert readme_path() == ROOT / contents.README_SOURCE  # from source: the checkout's README
    assert f"(str(ROOT / contents.README_SOURCE), contents.README_DEST)" in (PACKAGING / "imgcls.spec").read_text()
    bundled = tmp_path / contents.README_DEST / Path(contents.README_SOURCE).name  # where PyInstaller puts it
    bundled.parent.mkdir(parents=True)
    shutil.copyfile(ROOT / contents.README_SOURCE, bundled)
    monkeypatch.setattr(sys, "_MEIPASS", str(tmp_path), raising=False)
    assert readme_path() == bundled


def test_demo_data_named_in_the_spec_is_what_the_demo_reads(tmp_path):
    """The demo dataset comes from sklearn's digits files; the spec names them, so they must exist."""
    package, files = contents.DEMO_DATA
    folder = Path(importlib.util.find_spec(package).origin).parent
    for name in files:
        assert (folder / name).is_file(), folder / name
    from imgcls_gui.engine.data.demo import demo_dataset_dir

    demo = demo_dataset_dir(tmp_path / "demo", per_class=2, image_size=16)
    assert sorted(p.name for p in demo.iterdir() if p.is_dir()) == [str(d) for d in range(10)]


def test_size_cuts_spare_what_the_app_loads():
    assert contents.is_excluded_module("triton.runtime") and contents.is_excluded_module("PySide6.QtQml")
    assert not contents.is_excluded_module("PySide6.QtWidgets") and not contents.is_excluded_module("tritonclient")
    assert not contents.is_excluded_module("PySide6.QtMultimedia")  # the Capture view and live prediction
    for needed in ("PySide6/Qt/lib/libQt6Multimedia.so.6", "PySide6/Qt/plugins/multimedia/libffmpegmediaplugin.so",
                   "PySide6/Qt/lib/libQt6Quick.so.6", "PySide6/Qt/lib/libQt6Qml.so.6",
                   "PySide6/Qt/lib/libavcodec.so.63", "torch/lib/libtorch_cuda.so", "nvidia/cudnn/lib/libcudnn.so.9", "nvidia/cu13/lib/libnvrtc.so.13",
                   "PySide6/Qt/lib/libQt6Widgets.so.6", "torch/bin/torch_shm_manager", "PySide6/Qt/plugins/platforms/"
                   "libqoffscreen.so", "sklearn/datasets/data/digits.csv.gz", "qtawesome/fonts/codicon-0.0.36.ttf"):
        assert not contents.is_excluded_file(needed), needed
    for unused in ("torch/include/ATen/Tensor.h", "torch/bin/protoc-3.21.12.0", "PySide6/Qt/qml/QtQuick/qmldir",
                   "PySide6/Qt/translations/qt_de.qm", "PySide6/Qt/lib/libQt6MultimediaWidgets.so.6"):
        assert contents.is_excluded_file(unused), unused


def test_version_resource_numbers():
    assert contents.version_tuple(contents.app_version(ROOT / "imgcls_gui" / "__init__.py"))[0] >= 0
    assert contents.version_tuple("1.2") == (1, 2, 0, 0)
    assert contents.version_tuple("0.1.0rc1") == (0, 1, 0, 1)


# -- the smoke routine -------------------------------------------------------------------------

def test_step_names_the_step_in_the_failure():
    from imgcls_gui.smoke import SmokeTestFailed, step

    with pytest.raises(SmokeTestFailed, match=r"^exporting ONNX: ValueError: bad model$"):
        with step("exporting ONNX"):
            raise ValueError("bad model")


def test_the_apps_child_checks_itself_and_a_failing_run_there_reports_the_engines_error(tmp_path):
    """The smoke test's own checks of the app's child: another process, torchvision's operators run there, no Qt
    GUI module loaded; a run that cannot start comes back as the engine's error, as it does in the app."""
    from imgcls_gui.engine import ImgclsError, TrainingChild
    from imgcls_gui.smoke_child import check_child, smoke_config, train_in_child

    child = TrainingChild()
    try:
        check = check_child(child)
        assert check.pid == child.pid != os.getpid()
        assert check.torchvision_ops == "nms+image ok" and check.qt_gui_modules == ()
        with pytest.raises(ImgclsError, match="no such"):
            train_in_child(child, smoke_config(tmp_path / "no such folder"), tmp_path / "run", None)
    finally:
        child.close()


def test_smoke_config_uses_loader_workers_and_no_download(tmp_path):
    from imgcls_gui.smoke_child import LOADER_WORKERS, smoke_config

    config = smoke_config(tmp_path)
    assert config.data.num_workers == LOADER_WORKERS >= 1
    assert config.model.weights == "none" and config.freeze.mode == "none" and not config.train.feature_cache
    assert config.train.epochs == 1 and config.data.path == str(tmp_path)


_BLOCKER = '''
"""Test-only sitecustomize: modules the PyInstaller spec excludes cannot be imported, as in the bundle."""
import sys

_EXCLUDED = {excluded!r}


class _WithoutExcluded:
    def __init__(self, finder):
        self._finder = finder

    def find_spec(self, name, path=None, target=None):
        if any(name == e or name.startswith(e + ".") for e in _EXCLUDED):
            return None
        return self._finder.find_spec(name, path, target)

    def __getattr__(self, attribute):
        return getattr(self._finder, attribute)


sys.meta_path[:] = [_WithoutExcluded(f) if hasattr(f, "find_spec") else f for f in sys.meta_path]
'''


def _smoke_env(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM")}
    env["TMPDIR"] = str(tmp_path)  # the smoke test's own temp folder lands under pytest's
    return env


@pytest.mark.slow
def test_smoke_test_from_source_without_the_excluded_modules(tmp_path):
    """``imgcls-gui --smoke-test`` from source passes even when nothing the spec excludes can be imported
    (in every process it starts, via sitecustomize), and from another working directory."""
    blocker = tmp_path / "blocker"
    blocker.mkdir()
    excluded = (*contents.EXCLUDED_MODULES, *contents.EXCLUDED_FOR_SIZE)
    (blocker / "sitecustomize.py").write_text(_BLOCKER.format(excluded=excluded), encoding="utf-8")
    env = _smoke_env(tmp_path)
    env["PYTHONPATH"] = os.pathsep.join([str(blocker), str(ROOT)])
    proc = subprocess.run([sys.executable, "-m", "imgcls_gui.gui.app", "--smoke-test"], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=SMOKE_TIMEOUT_S)
    lines = proc.stdout.strip().splitlines()
    assert proc.returncode == 0 and lines, proc.stdout + proc.stderr
    assert lines[-1].startswith("imgcls smoke test passed (from source"), proc.stdout + proc.stderr
    assert "1 DataLoader worker process" in lines[-1] and "torchvision ops nms+image ok" in lines[-1]
    assert "in the app's child process (pid " in lines[-1], lines[-1]
    leftovers = [p.name for p in tmp_path.iterdir() if p.name.startswith("imgcls smoke")]
    assert not leftovers, "the smoke test left its temporary folder behind"


# -- the real bundle (IMGCLS_TEST_PACKAGING=1) ------------------------------------------------------

packaging_only = pytest.mark.skipif(os.environ.get("IMGCLS_TEST_PACKAGING") != "1",
                                    reason="builds the PyInstaller bundle (minutes, GBs): set IMGCLS_TEST_PACKAGING=1")


@pytest.fixture(scope="module")
def built_app() -> Path:
    """``python packaging/build.py`` into dist/ (PyInstaller reuses build/ between runs)."""
    pytest.importorskip("PyInstaller", reason="needs the packaging extra: pip install -e '.[packaging]'")
    proc = subprocess.run([sys.executable, str(PACKAGING / "build.py")], cwd=ROOT, capture_output=True, text=True,
                          timeout=BUILD_TIMEOUT_S)
    assert proc.returncode == 0, proc.stdout[-5000:] + proc.stderr[-20000:]
    print(proc.stdout.strip().splitlines()[-1])  # build time and size, for the record (pytest -s)
    return ROOT / "dist" / "imgcls"


@packaging_only
@pytest.mark.slow
@pytest.mark.timeout(BUILD_TIMEOUT_S + SMOKE_TIMEOUT_S)
def test_bundle_holds_what_the_spec_promises(built_app):
    internal = built_app / "_internal"
    assert (built_app / "imgcls").is_file() and os.access(built_app / "imgcls", os.X_OK)
    for name in contents.torchvision_extension_modules():
        package, module = name.split(".")
        assert list((internal / package).glob(f"{module}.*")), f"{name} is not in the bundle"
    assert (internal / contents.ICONS_DEST / "imgcls-256.png").is_file()
    assert (internal / contents.README_DEST / Path(contents.README_SOURCE).name).is_file()
    package, files = contents.DEMO_DATA
    for name in files:
        assert (internal / package.replace(".", "/") / name).is_file(), name
    assert not (internal / "triton").exists()
    assert (built_app / "imgcls.desktop").is_file()
    qt = internal / "PySide6" / "Qt"  # camera support: Qt Multimedia and its FFmpeg backend
    assert list((qt / "lib").glob("libQt6Multimedia.so*")) and (qt / "plugins" / "multimedia").is_dir()


@packaging_only
@pytest.mark.slow
@pytest.mark.timeout(BUILD_TIMEOUT_S + SMOKE_TIMEOUT_S)
def test_frozen_smoke_test_from_a_path_with_spaces_and_accents(built_app, tmp_path):
    """The bundle, hard-linked (no 5 GB copy) to a folder with a space and non-ASCII letters, run from
    another working directory with no display: the user's double-click, minus the double-click."""
    odd = (tmp_path if tmp_path.stat().st_dev == built_app.stat().st_dev else ROOT / "build") / "Mes Applis ü é"
    shutil.rmtree(odd, ignore_errors=True)
    shutil.copytree(built_app, odd / "imgcls", symlinks=True, copy_function=os.link)
    elsewhere = tmp_path / "somewhere else"
    elsewhere.mkdir()
    try:
        proc = subprocess.run([str(odd / "imgcls" / "imgcls"), "--smoke-test"], cwd=elsewhere, env=_smoke_env(tmp_path),
                              capture_output=True, text=True, timeout=SMOKE_TIMEOUT_S)
    finally:
        shutil.rmtree(odd, ignore_errors=True)
    lines = proc.stdout.strip().splitlines()
    assert proc.returncode == 0 and lines, proc.stdout + proc.stderr[-20000:]
    assert lines[-1].startswith("imgcls smoke test passed (frozen app"), proc.stdout + proc.stderr[-20000:]
    assert "in the app's child process (pid " in lines[-1] and "1 DataLoader worker process" in lines[-1], lines[-1]
    from imgcls_gui.gui.common.frames import multimedia_problem

    if not multimedia_problem():  # Qt Multimedia works here from source: the bundle must not lose it
        assert lines[-1].endswith("camera support yes"), lines[-1]
    print(lines[-1])
