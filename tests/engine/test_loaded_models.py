"""The child's kept models: loaded once per file identity, again when the file changes, the oldest dropped."""

from __future__ import annotations

import os

from imgcls_gui.engine.deploy.loaded_models import RecentlyLoaded


def test_a_file_is_loaded_once_until_it_changes_and_the_oldest_goes_first(tmp_path):
    loads: list[str] = []

    def loader(name: str):
        return lambda: loads.append(name) or f"model {name} #{len(loads)}"

    kept = RecentlyLoaded(keep=2)
    a, b, c = (tmp_path / n for n in ("a.pt", "b.pt", "c.pt"))
    for path in (a, b, c):
        path.write_bytes(b"1")
    first = kept.get(a, loader("a"), "cpu")
    assert kept.get(a, loader("a"), "cpu") is first and loads == ["a"]
    assert kept.get(a, loader("a"), "cuda") != first  # another option is another model
    a.write_bytes(b"22")  # a new run rewrote the file
    os.utime(a, ns=(1, 1))
    assert kept.get(a, loader("a"), "cpu") != first and loads == ["a", "a", "a"]
    kept.get(b, loader("b"))
    kept.get(c, loader("c"))  # keeps two: the oldest (a) went
    kept.get(a, loader("a"), "cpu")
    assert loads == ["a", "a", "a", "b", "c", "a"]
