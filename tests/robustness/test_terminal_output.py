"""File and class names holding terminal escape sequences are printed escaped; error lines stay short."""

from __future__ import annotations

import pytest

from imgcls_gui import cli
from imgcls_gui.commands.text import MAX_MESSAGE_CHARS, error_line, terminal_safe
from imgcls_gui.engine.errors import ImgclsError

from ..engine.tiny_data import make_class_folders
from .corpus import noise

pytestmark = pytest.mark.timeout(120)

# What a hostile name can do to a terminal when printed raw.
ESCAPES = {
    "osc52-clipboard": "\x1b]52;c;ZWNobyBwd25lZA==\x07",  # writes the user's clipboard
    "set-title": "\x1b]0;owned\x07",
    "clear-screen": "\x1b[2J\x1b[H",
    "hidden-text": "\x1b[8mhidden\x1b[0m",
    "c1-csi": "\x9b31m",  # the one-byte CSI some terminals honour
    "bidi-override": "\u202egnp.exe",  # reads as exe.png
    "carriage-return": "\rfake line",
    "backspaces": "\b\b\bx",
}
RAW = ("\x1b", "\x07", "\x9b", "\u202e", "\r", "\b")


@pytest.mark.parametrize("name", ESCAPES)
def test_terminal_safe_escapes_each_control_sequence(name):
    text = f"cat{ESCAPES[name]}.jpg"
    safe = terminal_safe(text)
    assert not any(ch in safe for ch in RAW)
    assert safe.startswith("cat\\") and safe.endswith(".jpg")
    assert terminal_safe("ñandú 猫 🐱\tok\nnext") == "ñandú 猫 🐱\tok\nnext"  # ordinary text is untouched
    assert "\n" not in terminal_safe("a\nb", one_line=True)


@pytest.mark.parametrize("size", [MAX_MESSAGE_CHARS + 1, 100_000, 5_000_000])
def test_error_lines_are_cut_to_a_sane_length(size):
    line = error_line("x" * size)
    assert len(line) < MAX_MESSAGE_CHARS + 60 and f"{size - MAX_MESSAGE_CHARS:,} more characters" in line


def test_inspect_prints_hostile_file_and_class_names_escaped(tmp_path, capsys):
    root = tmp_path / "data"
    make_class_folders(root, classes=("red", "blue"), per_class=5, size=16)
    for i, (name, sequence) in enumerate(ESCAPES.items()):
        if "\x00" in sequence or "/" in sequence:
            continue
        (root / "red" / f"{i}{sequence}.jpg").write_bytes(b"not an image")  # listed as a problem, by name
        (root / f"c{i}{sequence}").mkdir()
        noise((16, 16), seed=i).save(root / f"c{i}{sequence}" / f"{i}.png")
    assert cli.main(["inspect", str(root)]) == 0
    out = capsys.readouterr().out
    assert "\\x1b]52;c;" in out and "\\u202e" in out  # the names are shown, escaped
    assert not any(ch in out for ch in RAW)


def test_cli_error_line_escapes_and_bounds_the_message(monkeypatch, capsys):
    from imgcls_gui.commands import inspect

    def fail(args):
        raise ImgclsError(f"/data/evil{ESCAPES['osc52-clipboard']}.yaml: bad " + "y" * 1_000_000)

    monkeypatch.setattr(inspect, "run", fail)
    assert cli.main(["inspect", "x"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("imgcls: error: /data/evil\\x1b]52") and len(err) < MAX_MESSAGE_CHARS + 100
    assert not any(ch in err for ch in RAW)
