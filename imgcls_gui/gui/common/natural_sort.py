"""Natural order for names people number: c2 before c10, "Class 9" before "class 10"."""

from __future__ import annotations

import re
from collections.abc import Iterable

_DIGITS = re.compile(r"(\d+)")


def natural_key(name: str) -> tuple[tuple[int, int | str], ...]:
    """Sort key: digit runs compare as numbers, the rest case-insensitively (each part tagged so that a
    number and a word never compare with each other)."""
    return tuple((0, int(part)) if part.isdigit() else (1, part.casefold())
                 for part in _DIGITS.split(name) if part)


def natural_sorted(names: Iterable[str]) -> list[str]:
    """Names in the order the class list shows them, which is also the order of keys 1-9."""
    return sorted(names, key=natural_key)
