"""What goes into the PyInstaller bundle and what is cut, as plain data that imgcls.spec and the tests share.

Kept out of the spec so that ``tests/test_packaging.py`` can check the lists without running
PyInstaller. Every cut here is something the app never runs; the smoke test of a built bundle
(``dist/imgcls/imgcls --smoke-test``) is what proves a cut was safe.
"""

from __future__ import annotations

import importlib.util
import re
from fnmatch import fnmatch
from pathlib import Path

APP_NAME = "imgcls"
BUNDLE_IDENTIFIER = "org.imgcls.imgcls"  # macOS CFBundleIdentifier

# torchvision loads its compiled operators (nms, roi_align...) and image codecs with
# torch.ops.load_library() on a path it computes, so PyInstaller's import analysis never sees them.
# Without them a frozen app dies at `import torchvision` with
# "RuntimeError: operator torchvision::nms does not exist". torchvision 0.29 names them *_stable;
# earlier versions used _C / image (those are still named by PyInstaller's own torchvision hooks).
TORCHVISION_EXTENSIONS = ("torchvision._C_stable", "torchvision.image_stable")

# Where the icons go inside the bundle: imgcls_gui.resources.resource_path() looks in
# <sys._MEIPASS>/resources/ when frozen, and in <checkout>/resources/ from source.
ICONS_SOURCE = "resources/icons"
ICONS_DEST = "resources/icons"
# The README goes in beside them: Help ▸ Guide shows its sections offline (imgcls_gui.resources.readme_path()).
README_SOURCE = "README.md"
README_DEST = "resources"

# The demo project is drawn from scikit-learn's own copy of the handwritten digits
# (imgcls_gui/engine/data/demo.py), so these files must be in the bundle: (package, files in it).
DEMO_DATA = ("sklearn.datasets", ("data/digits.csv.gz", "descr/digits.rst"))

# The app loads its panels and CLI commands by name (importlib), which PyInstaller's analysis
# cannot follow, so every module of the package is collected; its export bundle copies files that
# sit beside its code (predict.py and README template), so those are collected as files too.
APP_PACKAGE = "imgcls_gui"
APP_PACKAGE_FILES = ("imgcls_gui.engine.deploy.bundle",)

# Packages whose source files must sit beside their byte code: they read their own source at run time
# (onnxscript turns its Python functions into ONNX by parsing their source when it is imported).
SOURCE_PACKAGES = ("onnxscript", "onnx_ir")

# Python packages the app never uses. Each line saves space or start-up time and was checked by the
# smoke test of a built bundle (see packaging/README.md for the sizes).
EXCLUDED_MODULES = (
    # Training curves, notebooks and the test suites of our dependencies.
    "tensorboard", "torch.utils.tensorboard", "IPython", "matplotlib", "pandas", "tkinter", "_tkinter",
    "pytest", "_pytest", "pytestqt", "pyqtgraph.examples", "sklearn.tests",
    "qtawesome.icon_browser",
    # Other Qt bindings: pyqtgraph and qtpy know them all, the app uses PySide6.
    "PyQt5", "PyQt6", "PySide2",
    # Qt modules the app never imports (QML/Quick, 3D, web, databases, tests, printing). QtMultimedia stays
    # (the Capture view and live prediction; its FFmpeg plugin and libraries are about 24 MB).
    "PySide6.QtQml", "PySide6.QtQuick", "PySide6.QtQuickWidgets", "PySide6.QtQuickControls2",
    "PySide6.QtQuickTest", "PySide6.QtQuick3D", "PySide6.Qt3DCore", "PySide6.Qt3DRender",
    "PySide6.Qt3DInput", "PySide6.Qt3DLogic", "PySide6.Qt3DAnimation", "PySide6.Qt3DExtras",
    "PySide6.QtWebEngineCore", "PySide6.QtWebEngineWidgets", "PySide6.QtWebEngineQuick",
    "PySide6.QtWebChannel", "PySide6.QtWebSockets", "PySide6.QtWebView", "PySide6.QtHttpServer",
    "PySide6.QtMultimediaWidgets", "PySide6.QtSpatialAudio",
    "PySide6.QtTextToSpeech", "PySide6.QtCharts", "PySide6.QtDataVisualization", "PySide6.QtGraphs",
    "PySide6.QtPdf", "PySide6.QtPdfWidgets", "PySide6.QtSql", "PySide6.QtTest", "PySide6.QtDesigner",
    "PySide6.QtUiTools", "PySide6.QtHelp", "PySide6.QtBluetooth", "PySide6.QtNfc",
    "PySide6.QtPositioning", "PySide6.QtLocation", "PySide6.QtSensors", "PySide6.QtSerialPort",
    "PySide6.QtSerialBus", "PySide6.QtRemoteObjects", "PySide6.QtScxml", "PySide6.QtStateMachine",
    "PySide6.QtNetworkAuth", "PySide6.QtPrintSupport", "PySide6.QtConcurrent", "PySide6.QtDBus",
    "PySide6.QtAxContainer",  # not QtOpenGL: pyqtgraph's PlotCurveItem imports it unconditionally
)

# Only torch.compile (which the app never calls) uses triton: ~0.9 GB.
EXCLUDED_FOR_SIZE = ("triton",)

# Files the hooks collect that nothing opens at run time, matched against their path in the bundle
# (fnmatch: "*" also crosses "/"): protobuf's compiler that torch ships, static archives, headers,
# CMake files, type stubs, test folders, Qt's translations (the app's texts are English only), and
# the Qt libraries of the modules excluded above in case a full PySide6 (with Addons) is installed.
# Qt Multimedia's own library and plugins/multimedia/libffmpegmediaplugin (with libav*/libsw*) stay, and so do
# libQt6Quick/libQt6Qml (and QmlModels, QmlMeta, QmlWorkerScript): the FFmpeg plugin links them.
# The CUDA libraries all stay: libtorch_cuda.so links to every one the hooks collect.
EXCLUDED_FILE_PATTERNS = (
    "torch/bin/protoc*", "*.a", "*/include/*", "*.h", "*.hpp", "*.cuh", "*.cmake", "*.pyi",
    "*/tests/*", "*/test/*", "sklearn/datasets/images/*", "PySide6/Qt/translations/*",
    "PySide6/Qt/qml/*", "*libQt6QuickControls2*", "*libQt6QuickTemplates2*", "*libQt6Quick3D*", "*libQt6Pdf*",
    "*libQt6WebEngine*",
    "*libQt6Designer*", "*libQt6Test*", "*libQt6Sql*", "*libQt6MultimediaQuick*",
    "*libQt6MultimediaWidgets*", "*libQt63D*",
    "*libQt6VirtualKeyboard*",
)


def torchvision_extension_modules() -> list[str]:
    """The compiled extension modules the installed torchvision ships (``torchvision/*.so|*.pyd``),
    always including the ones known for 0.29: a new torchvision that renames them is collected too."""
    spec = importlib.util.find_spec("torchvision")
    names = set(TORCHVISION_EXTENSIONS)
    if spec is not None and spec.origin:
        folder = Path(spec.origin).parent
        for path in (*folder.glob("*.so"), *folder.glob("*.pyd")):
            names.add("torchvision." + path.name.split(".")[0])
    return sorted(names)


def is_excluded_module(name: str) -> bool:
    """True for a module the spec leaves out (an excluded package or anything inside one)."""
    excluded = (*EXCLUDED_MODULES, *EXCLUDED_FOR_SIZE)
    return any(name == package or name.startswith(package + ".") for package in excluded)


def is_excluded_file(dest_name: str) -> bool:
    """True for a collected file (its destination path inside the bundle) that nothing opens at run time."""
    path = dest_name.replace("\\", "/")
    return any(fnmatch(path, pattern) for pattern in EXCLUDED_FILE_PATTERNS)


def app_version(package_init: Path) -> str:
    """``__version__`` from ``imgcls_gui/__init__.py`` without importing the package."""
    match = re.search(r'^__version__\s*=\s*"([^"]+)"', package_init.read_text(encoding="utf-8"), re.M)
    if match is None:
        raise ValueError(f"{package_init}: no __version__ = \"...\" line")
    return match.group(1)


def version_tuple(version: str) -> tuple[int, int, int, int]:
    """"0.1.0" -> (0, 1, 0, 0): the four numbers a Windows version resource holds."""
    numbers = [int(part) for part in re.findall(r"\d+", version)[:4]]
    return tuple((numbers + [0, 0, 0, 0])[:4])  # type: ignore[return-value]
