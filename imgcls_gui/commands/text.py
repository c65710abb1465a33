"""Text that came from files (names, class names, messages quoting them) made safe to print on a terminal.

A file or class name may hold escape sequences: ESC ] 52 writes the clipboard, others retitle the window,
hide text or fake hyperlinks, and bidi overrides make a name read backwards. Printed raw they act on the
user's terminal, so every line the CLI prints goes through ``terminal_safe`` (data files such as the
predictions CSV keep names as they are). Messages are also cut to a sane length: a YAML alias bomb once
made a 351 MB error line.
"""

from __future__ import annotations

import re

# C0 controls except tab and newline, DEL, C1 controls, and the Unicode bidi embedding/override/isolate marks.
_UNSAFE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")
_UNSAFE_OR_LINE_BREAK = re.compile("[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069\u2028\u2029]")

MAX_MESSAGE_CHARS = 2000


def _escape(match: re.Match[str]) -> str:
    return match.group().encode("unicode_escape").decode("ascii")  # ESC -> \x1b, RLO -> \u202e


def terminal_safe(text: str, *, one_line: bool = False, limit: int | None = None) -> str:
    """``text`` with control characters shown as escapes (``\\x1b``); ``one_line`` escapes line breaks too.

    ``limit`` cuts the text to that many characters and says how many were left out.
    """
    text = str(text)
    if limit is not None and len(text) > limit:
        text = f"{text[:limit]}… ({len(text) - limit:,} more characters not shown)"
    return (_UNSAFE_OR_LINE_BREAK if one_line else _UNSAFE).sub(_escape, text)


def error_line(message: object) -> str:
    """An error message as the CLI prints it: escaped and at most MAX_MESSAGE_CHARS long."""
    return terminal_safe(str(message), limit=MAX_MESSAGE_CHARS)
