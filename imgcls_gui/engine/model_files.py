"""Screening a model file before torch opens it: TorchScript (a program) and zips that would balloon.

Every ``torch.load`` in the package runs ``screen_before_torch_load`` first (a test scans for it):

- A TorchScript archive is code (its ``code/`` members run at load and in ``forward``), and
  ``torch.load`` hands such zips to ``torch.jit.load``; readers of weights never want one, so it is
  recognised here from the zip directory alone and refused (``trusted_code`` decides the rest).
- torch inflates zip members in memory: a 2 MB file whose members are compressed can declare GBs.
  The declared sizes (zip directory and the tensor storages named in ``data.pkl``) are checked
  before anything is inflated. torch itself never compresses, so an honest file declares about
  what it holds.

No torch and no unpickling here: ``pickletools.genops`` only lists opcodes, it runs nothing.
"""

from __future__ import annotations

import pickletools
import zipfile
from pathlib import Path

from .errors import CheckpointError

# A file may declare this many bytes more than it holds (headers, tiny members), ...
DECLARED_SLACK_BYTES = 64 * 2**20
# ... or this many times its size: honest torch.save files are stored, not compressed (ratio ~1).
DECLARED_EXPANSION_LIMIT = 4
_PICKLE_READ_LIMIT = 64 * 2**20  # a data.pkl larger than this is not a model's index of tensors
_ITEM_SIZES = {"Double": 8, "Float": 4, "Half": 2, "BFloat16": 2, "Long": 8, "Int": 4, "Short": 2, "Char": 1,
               "Byte": 1, "Bool": 1, "ComplexFloat": 8, "ComplexDouble": 16, "QInt32": 4, "Untyped": 1}


class TorchScriptFileError(CheckpointError):
    """A TorchScript archive given where plain weights or a checkpoint are read."""


def archive_members(path: Path) -> list[zipfile.ZipInfo] | None:
    """The zip directory of ``path``, or None when it is not a zip (legacy pickle, damaged, missing)."""
    try:
        with zipfile.ZipFile(path) as archive:
            return archive.infolist()
    except (zipfile.BadZipFile, OSError, ValueError, EOFError, RuntimeError, NotImplementedError):
        return None


def is_torchscript_archive(path: str | Path) -> bool:
    """True for a TorchScript zip: torch's own test is a ``constants.pkl`` record; ``code/`` holds its program."""
    members = archive_members(Path(path))
    return members is not None and any(_is_code_record(info.filename) for info in members)


def _is_code_record(name: str) -> bool:
    record = name.split("/", 1)[1] if "/" in name else name  # records sit under one top folder
    return record == "constants.pkl" or record.startswith("code/")


def screen_before_torch_load(path: str | Path, what: str = "weights or an imgcls checkpoint") -> None:
    """Refuse TorchScript and archives that declare far more than they hold; call before every torch.load."""
    path = Path(path)
    members = archive_members(path)
    if members is None:
        return  # not a zip: torch reads it as a legacy pickle (weights_only) or reports it damaged
    if any(_is_code_record(info.filename) for info in members):
        raise TorchScriptFileError(
            f"{path}: this is a TorchScript file, which is a program, not {what}; it was not opened, because "
            "opening it would run the code inside. Use the run folder or its best.pt (a model to share: its ONNX export)."
        )
    check_declared_sizes(path, members)


def check_declared_sizes(path: Path, members: list[zipfile.ZipInfo] | None = None) -> None:
    """Refuse a zip whose members (or tensor storages) declare far more bytes than the file holds."""
    members = archive_members(path) if members is None else members
    if members is None:
        return
    on_disk = path.stat().st_size
    allowed = DECLARED_SLACK_BYTES + DECLARED_EXPANSION_LIMIT * on_disk
    declared = sum(info.file_size for info in members)
    if declared > allowed:
        raise CheckpointError(
            f"{path}: its zip members declare {_size(declared)} in a {_size(on_disk)} file; refused before "
            "reading, because inflating it could exhaust this computer's memory. The file is damaged or hostile: "
            "use the file torch.save or imgcls wrote (those are never compressed)."
        )
    records = {info.filename.split("/", 1)[-1]: info for info in members}
    index = records.get("data.pkl")
    if index is None:
        return
    if index.file_size > _PICKLE_READ_LIMIT:
        raise CheckpointError(f"{path}: its tensor index (data.pkl) declares {_size(index.file_size)}; "
                              "refused as damaged or hostile.")
    with zipfile.ZipFile(path) as archive:
        storages = _declared_storages(archive.read(index))
    for key, nbytes in storages:
        record = records.get(f"data/{key}")
        held = record.file_size if record is not None else 0
        if nbytes > held:
            raise CheckpointError(
                f"{path}: a tensor declares {_size(nbytes)} but its record holds {_size(held)}; "
                "refused before reading, as the file is damaged or hostile."
            )


def _declared_storages(index: bytes) -> list[tuple[str, int]]:
    """(record key, bytes) of every storage the pickle names: torch writes each as the persistent id
    ``('storage', torch.<Type>Storage, key, location, numel)``, a MARK ... TUPLE frame of plain values."""
    found: list[tuple[str, int]] = []
    memo: dict[int, object] = {}
    frames: list[list[object]] = []
    top: object = None  # the value a memo opcode stores
    last_tuple: tuple[object, ...] | None = None
    try:
        for opcode, arg, _ in pickletools.genops(index):
            name = opcode.name
            if name == "MARK":
                frames.append([])
                continue
            if name == "TUPLE" and frames:
                last_tuple = tuple(frames.pop())
                top = last_tuple
                continue
            if name in ("BINPUT", "LONG_BINPUT", "PUT"):
                memo[int(arg)] = top
                continue
            if name == "MEMOIZE":
                memo[len(memo)] = top
                continue
            if name in ("BINGET", "LONG_BINGET", "GET"):
                top = memo.get(int(arg))
            elif name == "BINPERSID":
                if last_tuple is not None:
                    found.extend(_storage_bytes(last_tuple))
                last_tuple, top = None, None
                continue
            elif isinstance(arg, (str, int)) and not isinstance(arg, bool):
                top = arg  # strings, ints and GLOBAL's "module name"
            else:
                top = None
            if frames:
                frames[-1].append(top)
    except (ValueError, EOFError, KeyError):
        return found  # a damaged pickle: torch's own reader will say so
    return found


def _storage_bytes(pid: tuple[object, ...]) -> list[tuple[str, int]]:
    if len(pid) != 5 or pid[0] != "storage" or not isinstance(pid[1], str) or not isinstance(pid[4], int):
        return []
    kind = pid[1].rsplit(" ", 1)[-1].removesuffix("Storage")
    return [(str(pid[2]), pid[4] * _ITEM_SIZES.get(kind, 1))]


def _size(nbytes: int) -> str:
    for unit, scale in (("GB", 1e9), ("MB", 1e6), ("KB", 1e3)):
        if nbytes >= scale:
            return f"{nbytes / scale:.1f} {unit}"
    return f"{nbytes} bytes"
