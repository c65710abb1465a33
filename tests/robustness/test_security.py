"""No code runs from data files, nothing is downloaded but torchvision's weights, exports name no machine or user."""

from __future__ import annotations

import ast
import getpass
import os
import pickle
import shutil
import socket
import textwrap
from pathlib import Path

import numpy as np
import pytest
import torch

from imgcls_gui import cli
from imgcls_gui.engine.models import build as models
from imgcls_gui.engine.checkpoint import load_checkpoint
from imgcls_gui.engine.config import ModelConfig
from imgcls_gui.engine.errors import ImgclsError, ModelError
from imgcls_gui.engine.deploy.predict import Predictor
from imgcls_gui.engine.training.trainer import Trainer

from ..engine.tiny_data import make_class_folders
from .corpus import write_code_running_files
from .helpers import REPO, TINY_TRAIN_FLAGS, tiny_config

PACKAGE = REPO / "imgcls_gui"

# -- what the source may not contain -------------------------------------------------------------------

_UNSAFE_CALLS = {
    ("", "eval"): "eval runs text as code",
    ("", "exec"): "exec runs text as code",
    ("", "__import__"): "imports chosen at run time",
    ("pickle", "load"): "unpickling runs code", ("pickle", "loads"): "unpickling runs code",
    ("pickle", "Unpickler"): "unpickling runs code", ("marshal", "loads"): "marshal loads code objects",
    ("dill", "load"): "unpickling runs code", ("joblib", "load"): "unpickling runs code",
    ("yaml", "load"): "use yaml.safe_load", ("yaml", "unsafe_load"): "use yaml.safe_load",
    ("yaml", "full_load"): "use yaml.safe_load", ("os", "system"): "a shell", ("os", "popen"): "a shell",
}
_PICKLERS = ("pickle", "cPickle", "dill", "cloudpickle", "marshal", "shelve", "joblib")
_NETWORK_MODULES = ("urllib.request", "http.client", "requests", "httpx", "urllib3", "aiohttp", "ftplib", "smtplib",
                    "webbrowser", "PySide6.QtNetwork", "xmlrpc", "telnetlib")
_NETWORK_ALLOWED = {"engine/models/build.py": "downloads torchvision's ImageNet weights when the user picks them"}


def unsafe_code(source: str) -> list[str]:
    """Every call in ``source`` that could run code or a shell from data, as 'line: why'."""
    problems: list[str] = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            modules = [alias.name for alias in node.names] if isinstance(node, ast.Import) else [node.module or ""]
            problems += [f"{node.lineno}: import {m} (unpickling runs code)" for m in modules
                         if m.split(".")[0] in _PICKLERS]
        if not isinstance(node, ast.Call):
            continue
        owner, name = _callee(node.func)
        keywords = {k.arg: k.value for k in node.keywords}
        why = _UNSAFE_CALLS.get((owner, name))
        if why:
            problems.append(f"{node.lineno}: {ast.unparse(node.func)} ({why})")
        if name == "load" and owner == "torch" and not _is_true(keywords.get("weights_only")):
            problems.append(f"{node.lineno}: torch.load without weights_only=True")
        if name == "load" and owner == "np" and _is_true(keywords.get("allow_pickle")):
            problems.append(f"{node.lineno}: np.load with allow_pickle=True")
        if _is_true(keywords.get("shell")):
            problems.append(f"{node.lineno}: shell=True")
    return problems


def _callee(func: ast.expr) -> tuple[str | None, str]:
    """("", "eval") for eval(...), ("pickle", "load") for pickle.load(...), (None, "eval") for model.x().eval()."""
    if isinstance(func, ast.Name):
        return "", func.id
    if isinstance(func, ast.Attribute):
        return (func.value.id if isinstance(func.value, ast.Name) else None), func.attr
    return None, ""


def _is_true(node: ast.AST | None) -> bool:
    return isinstance(node, ast.Constant) and node.value is True


# A load must be preceded, in the same function, by the check that makes it safe.
_GUARDS = {"torch.jit.load": "require_code_consent", "torch.load": "screen_before_torch_load"}
# Loads of bytes the function itself just made (never a file a user gave), with the reason.
_GUARD_EXEMPT = {("engine/deploy/export.py", "_torchscript_runner"): "runs the TorchScript this export just traced"}


def unguarded_model_loads(source: str, filename: str = "") -> list[str]:
    """Every ``torch.jit.load`` not preceded by ``require_code_consent`` (TorchScript is code) and every
    ``torch.load`` not preceded by ``screen_before_torch_load`` (it forwards TorchScript, inflates bombs),
    within the same function, as 'line: call in function'."""
    problems: list[str] = []
    for function in ast.walk(ast.parse(source)):
        if not isinstance(function, (ast.FunctionDef, ast.AsyncFunctionDef)):
            continue
        calls = sorted((node for node in ast.walk(function) if isinstance(node, ast.Call)), key=lambda c: c.lineno)
        guarded_at = {guard: min((c.lineno for c in calls if _callee(c.func)[1] == guard), default=None)
                      for guard in _GUARDS.values()}
        for call in calls:
            name = ast.unparse(call.func)
            guard = _GUARDS.get(name)
            if guard is None or (filename, function.name) in _GUARD_EXEMPT:
                continue
            if guarded_at[guard] is None or guarded_at[guard] > call.lineno:
                problems.append(f"{call.lineno}: {name} in {function.name} without {guard} before it")
    for node in ast.walk(ast.parse(source)):  # a load at module level has no function to hold its guard
        if isinstance(node, ast.Module):
            for statement in node.body:
                if not isinstance(statement, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                    problems += [f"{c.lineno}: {ast.unparse(c.func)} at module level" for c in ast.walk(statement)
                                 if isinstance(c, ast.Call) and ast.unparse(c.func) in _GUARDS]
    return problems


def network_use(source: str) -> list[str]:
    """Imports of network modules and socket calls other than gethostname, as 'line: what'."""
    found: list[str] = []
    for node in ast.walk(ast.parse(source)):
        names = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            names = [node.module] + [f"{node.module}.{alias.name}" for alias in node.names]
        found += [f"{node.lineno}: import {n}" for n in names if n.startswith(_NETWORK_MODULES)]
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == "socket" \
                and node.attr != "gethostname":
            found.append(f"{node.lineno}: socket.{node.attr}")
        if isinstance(node, ast.Attribute) and node.attr in ("download_url_to_file", "load_state_dict_from_url", "urlopen"):
            found.append(f"{node.lineno}: {node.attr}")
    return found


def _package_sources() -> dict[str, str]:
    return {p.relative_to(PACKAGE).as_posix(): p.read_text(encoding="utf-8") for p in sorted(PACKAGE.rglob("*.py"))}


def test_the_package_has_no_eval_pickle_unsafe_load_or_shell():
    found = {name: problems for name, source in _package_sources().items() if (problems := unsafe_code(source))}
    assert found == {}


def test_every_model_load_in_the_package_is_behind_its_safety_check():
    found = {name: problems for name, source in _package_sources().items()
             if (problems := unguarded_model_loads(source, name))}
    assert found == {}
    sources = _package_sources()
    assert sum(source.count("torch.jit.load(") for source in sources.values()) >= 2  # the scan has work to do
    assert sum(source.count("torch.load(") for source in sources.values()) >= 3


def test_the_load_scanner_finds_unguarded_loads():
    bad = textwrap.dedent("""
        import torch
        top = torch.jit.load("m.pt")
        def no_guard(path):
            return torch.jit.load(path)
        def guard_after(path, data):
            module = torch.jit.load(path)
            require_code_consent(path, data, False)
        def wrong_guard(path):
            screen_before_torch_load(path)
            return torch.jit.load(path)
        def unscreened(path):
            return torch.load(path, weights_only=True)
        def fine(path, data):
            screen_before_torch_load(path)
            require_code_consent(path, data, False)
            return torch.jit.load(path), torch.load(path, weights_only=True)
    """)
    assert [p.split(": ", 1)[1] for p in unguarded_model_loads(bad)] == [
        "torch.jit.load in no_guard without require_code_consent before it",
        "torch.jit.load in guard_after without require_code_consent before it",
        "torch.jit.load in wrong_guard without require_code_consent before it",
        "torch.load in unscreened without screen_before_torch_load before it",
        "torch.jit.load at module level",
    ]


def test_only_the_weights_download_touches_the_network():
    found = {name: uses for name, source in _package_sources().items() if (uses := network_use(source))}
    assert set(found) <= set(_NETWORK_ALLOWED), found
    assert any("download_url_to_file" in use for use in found.get("engine/models/build.py", []))  # the scan sees it


def test_the_scanners_find_what_they_look_for():
    bad = textwrap.dedent("""
        import pickle, yaml, torch, subprocess, socket
        import urllib.request
        from requests import get
        eval(text); pickle.loads(blob); yaml.load(text, Loader=None)
        torch.load(path); torch.load(path, weights_only=False); np.load(path, allow_pickle=True)
        subprocess.run(cmd, shell=True); socket.create_connection(("example.com", 80))
        torch.load(path, weights_only=True); yaml.safe_load(text); socket.gethostname()
    """)
    assert len(unsafe_code(bad)) == 8  # import pickle, eval, pickle.loads, yaml.load, 2 torch.load, np.load, shell
    assert len(network_use(bad)) == 4


# -- files that would run code when loaded -----------------------------------------------------------


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("security")
    data = make_class_folders(root / "data", per_class=6, size=32)
    return Trainer(tiny_config(data), root / "run").fit().run_dir


@pytest.fixture
def planted(tmp_path) -> tuple[dict[str, Path], Path]:
    marker = tmp_path / "CODE-RAN"
    return write_code_running_files(tmp_path / "evil", marker), marker


def test_the_planted_files_really_would_run_code(planted):
    files, marker = planted
    pickle.loads(files["pickle-legacy"].read_bytes())  # what a careless loader would do
    assert marker.read_text() == "code ran"


@pytest.mark.parametrize("name", ["pickle-checkpoint", "pickle-legacy", "pickle-torchscript"])
@pytest.mark.parametrize("command", ["predict", "evaluate", "export", "weights"])
def test_a_model_file_that_would_run_code_is_refused_everywhere(run_dir, planted, tmp_path, capsys, name, command):
    files, marker = planted
    evil = str(files[name])
    data = load_checkpoint(run_dir)["config"]["data"]["path"]
    argv = {
        "predict": ["predict", evil, data, "--out", str(tmp_path / "p.csv"), "--quiet"],
        "evaluate": ["evaluate", evil, "--data", data, "--device", "cpu"],
        "export": ["export", evil, "--out", str(tmp_path / "m.onnx")],
        "weights": ["train", data, "--out", str(tmp_path / "run"), "--weights", evil, "--epochs", "1",
                    "--model", "mobilenet_v3_small", "--device", "cpu", "--quiet"],
    }[command]
    assert cli.main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert err.startswith("imgcls: error: ") and evil in err
    assert not marker.exists()


def test_resume_from_a_planted_last_checkpoint_runs_nothing(run_dir, planted, tmp_path, capsys):
    files, marker = planted
    run = Path(shutil.copytree(run_dir, tmp_path / "run"))
    shutil.copy(files["pickle-checkpoint"], run / "last.pt")
    assert cli.main(["train", "--resume", str(run), "--quiet"]) == 2
    assert f"{run / 'last.pt'}: not a readable imgcls checkpoint" in capsys.readouterr().err
    assert not marker.exists()


def test_the_refusal_says_why_without_advising_an_unsafe_load(planted):
    files, _ = planted
    for name in ("pickle-checkpoint", "pickle-legacy"):
        with pytest.raises(ImgclsError) as info:
            Predictor.load(files[name])
        message = str(info.value)
        assert "refused for safety" in message and "\x1b" not in message
        assert "weights_only" not in message and "add_safe_globals" not in message


def test_a_planted_feature_cache_is_ignored_and_rebuilt(tmp_path, planted):
    files, marker = planted
    data = make_class_folders(tmp_path / "data", per_class=6, size=32)
    config = tiny_config(data)
    config = config.replace(freeze=config.freeze.__class__(mode="head"),
                            train=config.train.__class__(**{**config.train.__dict__, "feature_cache_dir": str(tmp_path / "cache"),
                                                            "feature_views": 0}))
    first = Trainer(config, tmp_path / "first").fit()
    arrays = sorted((tmp_path / "cache").rglob("*.npy"))
    assert arrays
    for array in arrays:
        shutil.copy(files["pickle-npy"], array)
    second = Trainer(config, tmp_path / "second").fit()
    assert not marker.exists()
    assert second.final["val_loss"] == pytest.approx(first.final["val_loss"], rel=1e-4)  # rebuilt, not read
    assert all(np.load(a, allow_pickle=False).dtype != object for a in arrays)  # the planted files were replaced


def test_a_config_with_python_tags_runs_nothing(planted, capsys):
    files, marker = planted
    assert cli.main(["train", "--config", str(files["yaml-python-tag"]), "--out", "unused"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"imgcls: error: {files['yaml-python-tag']}: not valid YAML/JSON") and "\n" not in err
    assert not marker.exists()


# -- the network -----------------------------------------------------------------------------------------


@pytest.fixture
def network_log(monkeypatch) -> list[str]:
    """Records (and refuses) every internet connection and download attempt."""
    attempts: list[str] = []
    real_connect = socket.socket.connect

    def connect(self, address):
        if self.family in (socket.AF_INET, socket.AF_INET6):
            attempts.append(f"connect {address}")
            raise OSError("network disabled in this test")
        return real_connect(self, address)

    def getaddrinfo(host, *args, **kwargs):
        attempts.append(f"resolve {host}")
        raise socket.gaierror("network disabled in this test")

    def download(url, dst, *args, **kwargs):
        attempts.append(f"download {url}")
        raise OSError("network disabled in this test")

    monkeypatch.setattr(socket.socket, "connect", connect)
    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    monkeypatch.setattr(torch.hub, "download_url_to_file", download)
    monkeypatch.delenv("IMGCLS_OFFLINE", raising=False)
    return attempts


def test_train_export_predict_without_pretrained_weights_use_no_network(network_log, tmp_path, capsys):
    data = make_class_folders(tmp_path / "data", per_class=6, size=32)
    assert cli.main(["train", str(data), "--out", str(tmp_path / "run"), "--epochs", "1", *TINY_TRAIN_FLAGS]) == 0
    assert cli.main(["export", str(tmp_path / "run"), "--out", str(tmp_path / "m.onnx")]) == 0
    assert cli.main(["predict", str(tmp_path / "m.onnx"), str(data), "--out", str(tmp_path / "p.csv"), "--quiet"]) == 0
    assert cli.main(["inspect", str(data)]) == 0
    assert network_log == []


def test_imagenet_weights_come_only_from_torchvisions_own_url(network_log, tmp_path, monkeypatch):
    monkeypatch.setattr(torch.hub, "_hub_dir", torch.hub._hub_dir)  # restores set_dir's value afterwards
    torch.hub.set_dir(str(tmp_path / "empty-torch-cache"))
    with pytest.raises(ModelError, match="cannot be downloaded"):
        models.build_model(ModelConfig(name="mobilenet_v3_small", weights="imagenet"), 2)
    from torchvision.models import MobileNet_V3_Small_Weights

    assert network_log == [f"download {MobileNet_V3_Small_Weights.IMAGENET1K_V1.url}"]
    assert network_log[0].startswith("download https://download.pytorch.org/models/")


# -- exports name nothing of the training machine ---------------------------------------------------------


def test_exports_and_bundles_carry_no_path_user_or_host_of_the_training_machine(tmp_path):
    home = tmp_path / "home" / "alice-imgcls-user"  # a user name we can look for
    data = make_class_folders(home / "Pictures" / "holiday", per_class=6, size=32)
    run = home / "runs" / "first"
    assert cli.main(["train", str(data), "--out", str(run), "--epochs", "1", *TINY_TRAIN_FLAGS]) == 0
    out = home / "exports"
    assert cli.main(["export", str(run), "--out", str(out / "model.onnx"), "--bundle", str(out / "bundle")]) == 0
    assert cli.main(["export", str(run), "--format", "torchscript", "--out", str(out / "model.pt")]) == 0
    secrets = {"alice-imgcls-user", str(tmp_path), str(Path.home()) + os.sep, os.getcwd(), f"/{getpass.getuser()}/"}
    if len(socket.gethostname()) >= 6:  # a name like "vm" occurs in any binary by chance
        secrets.add(socket.gethostname())
    files = sorted(p for p in out.rglob("*") if p.is_file())
    assert {p.name for p in files} >= {"model.onnx", "model.pt", "labels.json", "README.md", "predict.py"}
    for path in files:
        content = path.read_bytes()
        for secret in secrets:
            assert secret.encode() not in content, (path.name, secret)
