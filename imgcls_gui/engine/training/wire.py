"""The format in which a job and its events cross between the app and its child process.

Every message is one JSON object (``encode``/``decode``): the job (its kind and payload: a
``RunConfig`` as a dict, the dataset's samples, a run folder, an export plan), the engine's events
(``events.py`` dataclasses, tagged with their class name), the result and the error. A result
dataclass (an export report, a run's results, a prediction, a diagnosis) crosses as its fields
(``to_plain``) and is rebuilt from its type hints (``from_plain``). A numpy array crosses as its dtype,
shape and raw bytes (never an object array), ``bytes`` (a PNG) as they are; the field's type hint
(``np.ndarray``, ``bytes``) says to rebuild them. Raw bytes travel after the JSON text in the same frame
(``{"$blob": i}`` marks their place): a live camera frame is 0.9 MB, and as base64 text inside the JSON it
cost ~6 ms a frame to encode and decode. ``encode_line`` writes one message as one line of JSON instead (the
bytes as ``{"$base64": ...}``), for a file read line by line. Nothing is pickled, so the child can only ever
hand the app the plain values these dataclasses hold, whatever happens inside torch.
"""

from __future__ import annotations

import base64
import dataclasses
import functools
import importlib
import json
import struct
import sys
import types
import typing
from pathlib import Path
from typing import Any, TypeVar, Union

from .. import errors as engine_errors
from .. import events as ev
from ..data.samples import LabeledDataset, Problem, Sample
from ..errors import ImgclsError

_EVENT_TYPES = {cls.__name__: cls for cls in (ev.FitStart, ev.EpochStart, ev.BatchEnd, ev.EpochEnd,
                                              ev.CheckpointSaved, ev.LogLine, ev.FitEnd, ev.LrFindStep,
                                              ev.SearchStart, ev.TrialStart, ev.TrialEnd, ev.SearchEnd,
                                              ev.JobProgress, ev.JobItems,
                                              ev.WatchStarted)}
T = TypeVar("T")


FRAME_MAGIC = b"\x00imgcls-wire-1\x00"  # a frame with raw bytes; JSON text never starts with a NUL
_LENGTH = struct.Struct("<Q")


class Blob:
    """Bytes that cross raw, after the message's JSON text (``to_plain`` makes them from arrays and ``bytes``)."""

    __slots__ = ("data",)

    def __init__(self, data: bytes | bytearray | memoryview) -> None:
        self.data = data


def encode(message: dict[str, Any]) -> bytes:
    """A message as one frame: JSON text, then each ``Blob``'s bytes (none: the JSON text alone)."""
    blobs: list[Any] = []

    def place(value: Any) -> Any:
        if isinstance(value, Blob):
            blobs.append(value.data)
            return {"$blob": len(blobs) - 1}
        raise TypeError(f"{type(value).__name__} cannot cross to the app")

    text = json.dumps(message, default=place).encode("utf-8")
    if not blobs:
        return text
    parts = [FRAME_MAGIC, _LENGTH.pack(len(text)), text, _LENGTH.pack(len(blobs))]
    for blob in blobs:
        parts += [_LENGTH.pack(len(blob)), blob]
    return b"".join(parts)


def encode_line(message: dict[str, Any]) -> bytes:
    """A message as one line of JSON (no newline inside), its bytes as base64 text."""
    def place(value: Any) -> Any:
        if isinstance(value, Blob):
            return {"$base64": base64.b64encode(bytes(value.data)).decode("ascii")}
        raise TypeError(f"{type(value).__name__} cannot cross to the app")

    return json.dumps(message, default=place).encode("utf-8")


def decode(data: bytes) -> dict[str, Any]:
    """The message ``encode`` or ``encode_line`` made; its bytes come back as ``bytes``."""
    blobs: list[bytes] = []
    if data.startswith(FRAME_MAGIC):
        view = memoryview(data)
        at = len(FRAME_MAGIC)
        (length,) = _LENGTH.unpack_from(view, at)
        text_at, at = at + _LENGTH.size, at + _LENGTH.size + length
        (count,) = _LENGTH.unpack_from(view, at)
        at += _LENGTH.size
        for _ in range(count):
            (size,) = _LENGTH.unpack_from(view, at)
            at += _LENGTH.size
            if at + size > len(view):
                raise ValueError("a message of the training child process ended early")
            blobs.append(bytes(view[at:at + size]))
            at += size
        text = bytes(view[text_at:text_at + length])
    else:
        text = data

    def unplace(value: dict[str, Any]) -> Any:
        if len(value) == 1 and "$blob" in value:
            return blobs[value["$blob"]]
        if len(value) == 1 and "$base64" in value:
            return base64.b64decode(value["$base64"].encode("ascii"), validate=True)
        return value

    message = json.loads(text.decode("utf-8"), object_hook=unplace)
    if not isinstance(message, dict) or not isinstance(message.get("type"), str):
        raise ValueError("not a message of the training child process")
    return message


def event_message(event: object) -> dict[str, Any]:
    """An engine event as a message: its class name and its fields."""
    return {"type": "event", "event": type(event).__name__, "fields": to_plain(event)}


def event_from(message: dict[str, Any]) -> object:
    """The event a message carries, rebuilt as its dataclass by its type hints (tuples come back as tuples,
    a resumed search's ``SearchStart.previous`` as ``TrialEnd``s)."""
    return from_plain(_EVENT_TYPES[message["event"]], message["fields"])


def to_plain(value: Any) -> Any:
    """A dataclass (nested ones, tuples, dicts, paths, numpy numbers and arrays, bytes within) as JSON's plain
    values."""
    numpy = sys.modules.get("numpy")  # not imported: no value can be an array
    if numpy is not None and isinstance(value, numpy.ndarray):
        return array_to_plain(value)
    if isinstance(value, (bytes, bytearray)):
        return Blob(bytes(value))
    if isinstance(value, Blob):  # already plain (``JobContext.items`` sends plain values as an event's field)
        return value
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: to_plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, (list, tuple)):
        return [to_plain(item) for item in value]
    if isinstance(value, dict):
        return {str(key): to_plain(item) for key, item in value.items()}
    if isinstance(value, Path):
        return str(value)
    if hasattr(value, "item") and not isinstance(value, (str, bytes)):  # a numpy number
        return value.item()
    return value


def from_plain(cls: type[T], data: dict[str, Any]) -> T:
    """The dataclass ``cls`` rebuilt from ``to_plain``'s values, each field by its type hint."""
    hints = _type_hints(cls)
    return cls(**{f.name: _typed(hints[f.name], data[f.name]) for f in dataclasses.fields(cls)  # type: ignore[arg-type]
                  if f.init and f.name in data})


@functools.cache
def _type_hints(cls: type) -> dict[str, Any]:
    """A dataclass's resolved field types, worked out once per class (a run sends thousands of events)."""
    return typing.get_type_hints(cls)


def array_to_plain(array: Any) -> dict[str, Any]:
    """A numpy array as its dtype (``dtype.str``: byte order included), shape and raw bytes (C order)."""
    import numpy as np

    if array.dtype.hasobject:
        raise TypeError(f"an array of Python objects ({array.dtype}) cannot cross to the app")
    return {"dtype": array.dtype.str, "shape": list(array.shape), "data": Blob(np.ascontiguousarray(array).tobytes())}


def array_from_plain(value: dict[str, Any]) -> Any:
    """The numpy array ``array_to_plain`` described (a writable copy)."""
    import numpy as np

    dtype = np.dtype(value["dtype"])
    if dtype.hasobject:
        raise ValueError("an array of Python objects is never sent")
    return np.frombuffer(_bytes(value["data"]), dtype=dtype).reshape(tuple(value["shape"])).copy()


def _bytes(value: Any) -> bytes:
    """Bytes as ``decode`` gives them back (a ``Blob`` when a plain value did not cross a pipe)."""
    if isinstance(value, Blob):
        return bytes(value.data)
    if isinstance(value, (bytes, bytearray)):
        return bytes(value)
    raise ValueError(f"expected bytes, got {type(value).__name__}")


def _typed(hint: Any, value: Any) -> Any:
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if value is None:
        return None
    if origin in (Union, types.UnionType):
        return _typed(next((arg for arg in args if arg is not type(None)), Any), value)
    if hint is bytes:
        return _bytes(value)
    if getattr(hint, "__module__", "") == "numpy" and getattr(hint, "__name__", "") == "ndarray":
        return array_from_plain(value)
    if dataclasses.is_dataclass(hint):
        return from_plain(hint, value)  # type: ignore[arg-type]
    if hint is Path:
        return Path(value)
    if origin is tuple:
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(_typed(args[0], item) for item in value)
        return tuple(_typed(arg, item) for arg, item in zip(args, value)) if args else tuple(value)
    if origin is list:
        return [_typed(args[0] if args else Any, item) for item in value]
    if origin is dict:
        return {key: _typed(args[1] if args else Any, item) for key, item in value.items()}
    return value


def dataset_to_dict(dataset: LabeledDataset) -> dict[str, Any]:
    return {"root": str(dataset.root), "format": dataset.format, "classes": list(dataset.classes),
            "task": dataset.task,
            "samples": [[str(s.path), list(s.labels), s.split, s.sha1] for s in dataset.samples],
            "problems": [dataclasses.asdict(p) for p in dataset.problems]}


def dataset_from_dict(data: dict[str, Any]) -> LabeledDataset:
    samples = [Sample(Path(path), tuple(labels), split, sha1) for path, labels, split, sha1 in data["samples"]]
    return LabeledDataset(Path(data["root"]), data["format"], samples, list(data["classes"]), data["task"],
                          [Problem(**p) for p in data["problems"]])


def error_message(exc: BaseException, details: str) -> dict[str, Any]:
    """A failure in the child as a message: an engine error keeps its class and plain attributes."""
    attrs = {k: v for k, v in vars(exc).items() if isinstance(v, (str, int, float, bool, type(None)))}
    # An engine dataclass it carries (QuantizationRefusedError's report) crosses as its fields, named by class.
    records = {k: {"module": type(v).__module__, "class": type(v).__name__, "fields": to_plain(v)}
               for k, v in vars(exc).items()
               if dataclasses.is_dataclass(v) and not isinstance(v, type)
               and type(v).__module__.startswith("imgcls_gui.engine.")}
    return {"type": "error", "error": type(exc).__name__, "module": type(exc).__module__,
            "imgcls": isinstance(exc, ImgclsError), "message": str(exc), "attrs": attrs, "records": records,
            "details": details}


class ChildTaskError(ImgclsError):
    """An unexpected error (not an engine error) inside the child process, worded as the app words one."""


def error_from(message: dict[str, Any]) -> ImgclsError:
    """The engine error a message describes, with the child's traceback in ``child_traceback``."""
    cls = _engine_class(message.get("module", ""), message["error"])
    if message["imgcls"] and isinstance(cls, type) and issubclass(cls, ImgclsError):
        exc: ImgclsError = cls.__new__(cls)
        Exception.__init__(exc, message["message"])
        for name, value in message["attrs"].items():
            setattr(exc, name, value)
        for name, record in message.get("records", {}).items():
            record_cls = _engine_class(record["module"], record["class"])
            if record["module"].startswith("imgcls_gui.engine.") and dataclasses.is_dataclass(record_cls):
                setattr(exc, name, from_plain(record_cls, record["fields"]))
    else:
        exc = ChildTaskError(f"Unexpected error: {message['error']}: {message['message']}")
    exc.child_traceback = message["details"]  # type: ignore[attr-defined]
    return exc


def _engine_class(module: str, name: str) -> Any:
    """An error class of the engine by its module (a stage's own error, e.g. deploy's
    ``QuantizationRefusedError``), looked up only among the engine's modules."""
    if not module.startswith("imgcls_gui.engine."):
        return getattr(engine_errors, name, None)
    try:
        return getattr(importlib.import_module(module), name, None)
    except ImportError:
        return getattr(engine_errors, name, None)
