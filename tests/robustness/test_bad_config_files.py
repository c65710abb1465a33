"""Hostile or damaged config files are one short ``ConfigError`` line, in bounded time and memory (issue 12).

Each case is generated; a "billion laughs" file is also read in a child process capped by RLIMIT_AS, so a
regression that expands aliases again fails there instead of taking the machine's memory.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from imgcls_gui import cli
from imgcls_gui.engine.config import RunConfig
from imgcls_gui.engine.config_file import MAX_CONFIG_BYTES, MAX_DEPTH
from imgcls_gui.engine.errors import ConfigError

from .helpers import child_env

pytestmark = pytest.mark.timeout(120)

_LAUGHS = "a0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n" + "".join(
    f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 9)}]\n" for i in range(1, 10)
) + "model: {name: *a9}\n"


def _text(text: str, encoding: str = "utf-8") -> Callable[[Path], None]:
    return lambda path: path.write_bytes(text.encode(encoding))


def _nested_block(depth: int) -> str:
    return "".join(f"{'  ' * i}k{i}:\n" for i in range(depth)) + f"{'  ' * depth}leaf: 1\n"


# name -> (file name, writer, words the message must hold)
CONFIG_CASES: dict[str, tuple[str, Callable[[Path], None], str]] = {
    "yaml-billion-laughs": ("laughs.yaml", _text(_LAUGHS), "aliases are not allowed"),
    "yaml-one-alias": ("alias.yaml", _text("data: {path: &p /data}\nmodel: {name: *p}\n"), "alias *p"),
    "yaml-merge-key": ("merge.yaml", _text("base: &b {epochs: 3}\ntrain:\n  <<: *b\n"), "aliases are not allowed"),
    "yaml-deep-block": ("deep.yaml", _text(_nested_block(MAX_DEPTH + 5)), f"deeper than {MAX_DEPTH} levels"),
    "yaml-deep-flow": ("flow.yaml", _text("train: " + "[" * 50_000 + "]" * 50_000 + "\n"), f"deeper than {MAX_DEPTH}"),
    "json-deep": ("deep.json", _text("[" * 100_000 + "]" * 100_000), f"deeper than {MAX_DEPTH}"),
    "json-moderately-deep": ("nest.json", _text('{"train": ' + "[" * 40 + "]" * 40 + "}"), f"deeper than {MAX_DEPTH}"),
    "yaml-huge-integer": ("big.yaml", _text("train:\n  epochs: " + "9" * 5000 + "\n"), "cannot read"),
    "json-huge-integer": ("big.json", _text('{"train": {"epochs": ' + "9" * 5000 + "}}"), "cannot read"),
    "cp1252-file": ("latin.yaml", _text("data:\n  path: /donn\u00e9es\n", "cp1252"), "not UTF-8 text (byte 0xe9"),
    "utf16-file": ("wide.yaml", _text("\ufeffdata:\n  path: /x\n", "utf-16-le"), "not UTF-8 text"),
    "binary-garbage": ("noise.yaml", lambda p: p.write_bytes(np.random.default_rng(3).bytes(4096)), "not UTF-8 text"),
    "huge-file": ("huge.yaml", _text("# padding\n" * (MAX_CONFIG_BYTES // 10 + 10)), "far too large"),
    "fifo-config": ("pipe.yaml", lambda p: os.mkfifo(p), "not a regular file"),
    "empty-config": ("empty.yaml", _text(""), "expected a mapping"),
    "list-config": ("list.yaml", _text("- data\n- model\n"), "expected a mapping"),
}


@pytest.fixture(scope="module")
def configs(tmp_path_factory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("bad-configs")
    paths = {}
    for name, (file_name, write, _) in CONFIG_CASES.items():
        paths[name] = folder / file_name
        write(paths[name])
    return paths


@pytest.mark.parametrize("name", CONFIG_CASES)
def test_each_bad_config_is_one_short_error_naming_the_file(configs, name):
    with pytest.raises(ConfigError) as info:
        RunConfig.from_file(configs[name])
    message = str(info.value)
    assert message.startswith(str(configs[name])) and CONFIG_CASES[name][2] in message, message
    assert "\n" not in message and len(message) < 500


@pytest.mark.parametrize("name", ["yaml-billion-laughs", "fifo-config", "yaml-deep-flow"])
def test_the_cli_prints_one_line_and_exits_2(configs, name, capsys):
    assert cli.main(["train", "data", "--out", "run", "--config", str(configs[name])]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("imgcls: error: ") and len(err) < 600


def test_a_billion_laughs_file_is_refused_within_a_small_memory_cap(configs):
    code = ("import resource, sys\n"
            "resource.setrlimit(resource.RLIMIT_AS, (768 << 20, 768 << 20))\n"
            "from imgcls_gui.engine.config import RunConfig\n"
            "from imgcls_gui.engine.errors import ConfigError\n"
            "try:\n    RunConfig.from_file(sys.argv[1])\nexcept ConfigError as exc:\n    print(exc)\n")
    result = subprocess.run([sys.executable, "-c", code, str(configs["yaml-billion-laughs"])], capture_output=True,
                            text=True, env=child_env(), timeout=60)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "aliases are not allowed" in result.stdout and len(result.stdout) < 500


def test_anchors_without_aliases_and_ordinary_configs_still_load(tmp_path):
    saved = tmp_path / "config.yaml"
    saved.write_text(RunConfig().to_yaml(), encoding="utf-8")
    assert RunConfig.from_file(saved) == RunConfig()
    bom = tmp_path / "bom.yaml"
    bom.write_bytes(b"\xef\xbb\xbf" + "train: &t {epochs: 3}\n".encode())  # an anchor alone expands nothing
    assert RunConfig.from_file(bom).train.epochs == 3


@pytest.mark.parametrize("body, words", [
    ("optim: {lr: .nan}", "config.optim.lr: nan is not allowed"),
    ("optim: {lr: -.inf}", "config.optim.lr: -inf is not allowed"),
    ("train: {epochs: 99999999999999999999}", "config.train.epochs"),
    ("model: {image_size: 1000000}", "config.model.image_size: 1000000 is out of range"),
])
def test_bad_values_name_the_file_and_the_key(tmp_path, body, words):
    path = tmp_path / "config.yaml"
    path.write_text(body + "\n", encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        RunConfig.from_file(path)
    assert str(info.value).startswith(f"{path}: ") and words in str(info.value)
