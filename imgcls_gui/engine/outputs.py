"""Outputs never replace a user's files silently: a command that would overwrite an existing file,
or write into a folder holding other files, refuses and names the file, unless the user passed
``--force``. Checked before any work starts, so a refusal costs nothing."""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

from .errors import ImgclsError


class OutputExistsError(ImgclsError):
    """An output would replace a file (or fill a folder) the user has not agreed to lose."""


def refuse_to_replace(paths: Iterable[str | os.PathLike[str]], *, force: bool, fix: str) -> None:
    """Refuse when any of ``paths`` exists (a symlink counts: writing would replace it)."""
    if force:
        return
    for path in paths:
        if os.path.lexists(path):
            raise OutputExistsError(f"{path} already exists and would be replaced; {fix}, or add --force to replace it.")


def refuse_to_replace_source(out: str | os.PathLike[str], sources: Iterable[str | os.PathLike[str]], *, force: bool) -> None:
    """Refuse an output that is one of the files being read (e.g. an export over the run's best.pt)."""
    if force or not os.path.lexists(out):
        return
    for source in sources:
        try:
            same = os.path.samefile(out, source)
        except OSError:
            continue
        if same:
            raise OutputExistsError(
                f"{out} is the checkpoint this export reads; writing the export there would replace the trained "
                "model. Choose another --out, or add --force to replace it."
            )


def refuse_busy_folder(folder: str | os.PathLike[str], *, force: bool, what: str) -> None:
    """Refuse to write ``what`` into an existing folder that already holds files (hidden ones count)."""
    folder = Path(folder)
    if force or not folder.is_dir():
        return
    try:
        entries = sorted(os.listdir(folder))
    except OSError:
        return  # unreadable: the write itself will say why
    if entries:
        shown = ", ".join(entries[:3]) + (f" and {len(entries) - 3} more" if len(entries) > 3 else "")
        raise OutputExistsError(
            f"{folder} already holds other files ({shown}); {what} would be written among them. Choose a new or "
            "empty folder, or add --force to write there anyway."
        )
