"""The format in which a training job and its events cross between the app and its child process.

Every message is one JSON object (``encode``/``decode``): the job (its ``RunConfig`` as a dict, the
dataset's samples, the run folder), the engine's events (``events.py`` dataclasses, tagged with their
class name), the result and the error. Nothing is pickled, so the child can only ever hand the app
the plain values these dataclasses hold, whatever happens inside torch.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

from .. import errors as engine_errors
from .. import events as ev
from ..data.samples import LabeledDataset, Problem, Sample
from ..errors import ImgclsError

_EVENT_TYPES = {cls.__name__: cls for cls in (ev.FitStart, ev.EpochStart, ev.BatchEnd, ev.EpochEnd,
                                              ev.CheckpointSaved, ev.LogLine, ev.FitEnd, ev.LrFindStep,
                                              ev.SearchStart, ev.TrialStart, ev.TrialEnd, ev.SearchEnd)}


def encode(message: dict[str, Any]) -> bytes:
    return json.dumps(message).encode("utf-8")


def decode(data: bytes) -> dict[str, Any]:
    message = json.loads(data.decode("utf-8"))
    if not isinstance(message, dict) or not isinstance(message.get("type"), str):
        raise ValueError("not a message of the training child process")
    return message


def event_message(event: object) -> dict[str, Any]:
    """An engine event as a message: its class name and its fields."""
    return {"type": "event", "event": type(event).__name__, "fields": dataclasses.asdict(event)}  # type: ignore[call-overload]


def event_from(message: dict[str, Any]) -> object:
    """The event a message carries, rebuilt as its dataclass (tuples come back as tuples)."""
    cls = _EVENT_TYPES[message["event"]]
    values = dict(message["fields"])
    for field in dataclasses.fields(cls):
        if str(field.type).startswith("tuple") and isinstance(values.get(field.name), list):
            values[field.name] = tuple(values[field.name])
    return cls(**values)


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
    return {"type": "error", "error": type(exc).__name__, "imgcls": isinstance(exc, ImgclsError),
            "message": str(exc), "attrs": attrs, "details": details}


class ChildTaskError(ImgclsError):
    """An unexpected error (not an engine error) inside the child process, worded as the app words one."""


def error_from(message: dict[str, Any]) -> ImgclsError:
    """The engine error a message describes, with the child's traceback in ``child_traceback``."""
    cls = getattr(engine_errors, message["error"], None)
    if message["imgcls"] and isinstance(cls, type) and issubclass(cls, ImgclsError):
        exc: ImgclsError = cls.__new__(cls)
        Exception.__init__(exc, message["message"])
        for name, value in message["attrs"].items():
            setattr(exc, name, value)
    else:
        exc = ChildTaskError(f"Unexpected error: {message['error']}: {message['message']}")
    exc.child_traceback = message["details"]  # type: ignore[attr-defined]
    return exc
