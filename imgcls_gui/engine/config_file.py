"""Reading a config file someone handed us (YAML or JSON) into plain data, with bounded time and memory.

A config may come from another person (``imgcls train --config their.yaml``) or be damaged. PyYAML's safe
loader runs no code, but it still expands aliases (a "billion laughs" file of a few hundred bytes once made
a 351 MB error message), recurses once per nesting level (a deep file ends in ``RecursionError``) and
builds integers of any length. So: regular files only, at most ``MAX_CONFIG_BYTES``, UTF-8 only, no
aliases, at most ``MAX_DEPTH`` levels. Values (ranges, NaN) are checked by ``config.py``, not here.
"""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path
from typing import Any

import yaml

from .errors import ConfigError

MAX_CONFIG_BYTES = 1 << 20  # a real config is about 1 KB
MAX_DEPTH = 16  # a RunConfig nests 3 levels (section, field, list)
_FIX = "fix the file, or start again from the config.yaml an earlier run saved"


class _BoundedSafeLoader(yaml.SafeLoader):
    """SafeLoader that refuses aliases and nesting deeper than MAX_DEPTH while composing, before any expansion."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._depth = 0

    def compose_node(self, parent: Any, index: Any) -> Any:
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()
            raise yaml.YAMLError(f"uses the YAML alias *{event.anchor} (line {event.start_mark.line + 1}); "
                                 "aliases are not allowed in imgcls config files, write the value out")
        self._depth += 1
        if self._depth > MAX_DEPTH:
            mark = self.peek_event().start_mark
            raise yaml.YAMLError(f"nests deeper than {MAX_DEPTH} levels (line {mark.line + 1})")
        try:
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1


def read_config_yaml(path: str | os.PathLike[str]) -> dict[str, Any]:
    """The mapping in a YAML (or, by extension, JSON) config file, or a one-line ``ConfigError`` saying why not."""
    path = Path(path)
    text = _read_text(path)
    try:
        if path.suffix.lower() == ".json":
            data = json.loads(text)
            _check_depth(data)
        else:
            data = _load_bounded(text)
    except (yaml.YAMLError, json.JSONDecodeError) as exc:
        raise ConfigError(f"{path}: not valid YAML/JSON ({' '.join(str(exc).split())[:300]}).") from exc
    except RecursionError as exc:
        raise ConfigError(f"{path}: not valid YAML/JSON (nests deeper than {MAX_DEPTH} levels).") from exc
    except ValueError as exc:  # Python refuses to convert integers of more than 4,300 digits
        what = "a number thousands of digits long" if "digits" in str(exc) else str(exc)[:200]
        raise ConfigError(f"{path}: holds a value imgcls cannot read ({what}); {_FIX}.") from exc
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping of sections (data, model, train...).")
    return data


def _load_bounded(text: str) -> Any:
    """What ``yaml.safe_load`` does, with the bounded SafeLoader subclass (it constructs only plain types)."""
    loader = _BoundedSafeLoader(text)
    try:
        return loader.get_single_data()
    finally:
        loader.dispose()


def _read_text(path: Path) -> str:
    try:
        info = path.stat()
        if not stat.S_ISREG(info.st_mode):  # a FIFO would block the read forever, a device never end
            raise ConfigError(f"{path}: not a regular file; give the path of a config.yaml.")
        if info.st_size > MAX_CONFIG_BYTES:
            raise ConfigError(f"{path}: {info.st_size:,} bytes is far too large for a config file "
                              f"(limit {MAX_CONFIG_BYTES:,}); is this the right file?")
        with path.open("rb") as handle:
            raw = handle.read(MAX_CONFIG_BYTES + 1)  # the file may have grown since the stat
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read config file ({exc.strerror or exc}).") from exc
    if len(raw) > MAX_CONFIG_BYTES:
        raise ConfigError(f"{path}: larger than {MAX_CONFIG_BYTES:,} bytes, far too large for a config file.")
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: not UTF-8 text (byte 0x{raw[exc.start]:02x} at position {exc.start}); "
                          "save it as UTF-8.") from exc


def _check_depth(data: Any, depth: int = 1) -> None:
    if depth > MAX_DEPTH:
        raise RecursionError
    children = data.values() if isinstance(data, dict) else data if isinstance(data, list) else ()
    for child in children:
        _check_depth(child, depth + 1)


def read_json_file(path: str | os.PathLike[str], max_bytes: int = 64 << 20) -> Any:
    """Parsed JSON of a small state file (metrics.json, run notes): ``ValueError`` saying why it is unusable.

    Regular files only (a FIFO would block the run list forever), at most ``max_bytes``, UTF-8, and nesting
    Python can parse; ``OSError`` passes through. Callers already treat both as "this file is damaged".
    """
    info = os.stat(path)
    if not stat.S_ISREG(info.st_mode):
        raise ValueError("not a regular file")
    if info.st_size > max_bytes:
        raise ValueError(f"{info.st_size:,} bytes, far too large")
    with open(path, "rb") as handle:
        raw = handle.read(max_bytes + 1)
    try:
        return json.loads(raw.decode("utf-8"))  # UnicodeDecodeError and JSONDecodeError are ValueErrors
    except RecursionError as exc:
        raise ValueError("nests too deeply") from exc
