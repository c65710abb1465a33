"""The option table: one description per ``RunConfig`` field, from which every way of setting it derives.

Each config field carries an ``Option`` in its dataclass metadata (``option(default, ...)`` in
config.py): a label, a help text and the valid range. From that one table come the ``imgcls
train`` flags (commands/train.py), the Training and Model panels' editors (their labels,
tooltips, choices and ranges), the validation of a config.yaml (the key path in the message)
and ``config_schema()``, a JSON Schema of the file. Like Lightning's ``LightningCLI``, nothing is
written twice: a new field with an ``Option`` gets a flag, an editor range and a check.
"""

from __future__ import annotations

import dataclasses
import math
import types
import typing
from dataclasses import dataclass
from typing import Any, Literal

OPTION_KEY = "imgcls_option"


@dataclass(frozen=True)
class Option:
    """What one config field means and which values it takes (``None`` bounds: unbounded)."""

    label: str  # the name the GUI shows ("Learning rate")
    help: str  # one or two sentences: the CLI's --help and the GUI's tooltip
    minimum: float | None = None
    maximum: float | None = None
    min_open: bool = False  # minimum itself not allowed (lr > 0)
    max_open: bool = False  # maximum itself not allowed (momentum < 1)
    flag: str | None = ""  # CLI flag; "" = --key-with-dashes; None = set another way (see commands/train.py)
    metavar: str = ""


def option(default: Any, label: str, help: str, **details: Any) -> Any:
    """A dataclass field with ``default`` and its ``Option`` description (see ``Option`` for ``details``)."""
    return dataclasses.field(default=default, metadata={OPTION_KEY: Option(label, help, **details)})


@dataclass(frozen=True)
class OptionSpec:
    """One option as the table lists it: where it lives, its Python type, default and choices."""

    section: str  # RunConfig attribute: "data", "augment", "model", "freeze", "optim", "train"
    key: str
    kind: type  # bool, int, float or str
    optional: bool  # None is allowed (``images_root``)
    default: Any
    choices: tuple[str, ...]
    option: Option

    @property
    def name(self) -> str:
        """``section.key``, the path in a config.yaml."""
        return f"{self.section}.{self.key}"

    @property
    def flag(self) -> str | None:
        """The ``imgcls train`` flag, or None when the option is set another way."""
        if self.option.flag is None:
            return None
        return self.option.flag or "--" + self.key.replace("_", "-")

    def range_text(self) -> str:
        """The valid values in words: "a number > 0", "a whole number from 1 to 32", "one of a, b"."""
        if self.choices:
            return "one of " + ", ".join(self.choices)
        if self.kind is bool:
            return "true or false"
        if self.kind not in (int, float):
            return "text"
        what = "a whole number" if self.kind is int else "a number"
        low, high, opt = self.option.minimum, self.option.maximum, self.option
        if low is not None and high is not None:
            if not opt.min_open and not opt.max_open:
                return f"{what} from {_num(low)} to {_num(high)}"
            return f"{what} {'>' if opt.min_open else '>='} {_num(low)} and {'<' if opt.max_open else '<='} {_num(high)}"
        if low is not None:
            return f"{what} {'>' if opt.min_open else '>='} {_num(low)}"
        if high is not None:
            return f"{what} {'<' if opt.max_open else '<='} {_num(high)}"
        return what

    def problem(self, value: Any) -> str | None:
        """Why ``value`` (already of the right type) is not allowed ("is out of range; use ..."), or None.

        The caller puts the value in front as the user wrote it: ``--lr -1 is out of range; ...``.
        """
        if self.kind not in (int, float) or value is None or isinstance(value, bool):
            return None
        opt = self.option
        if isinstance(value, float) and not math.isfinite(value):
            return f"is not allowed; use {self.range_text()}"
        too_low = opt.minimum is not None and (value <= opt.minimum if opt.min_open else value < opt.minimum)
        too_high = opt.maximum is not None and (value >= opt.maximum if opt.max_open else value > opt.maximum)
        if too_low or too_high:
            return f"is out of range; use {self.range_text()}"
        return None

    def within(self, low: float, high: float) -> bool:
        """Whether every value in [low, high] is allowed (GUI editor ranges must stay inside the table's)."""
        return self.problem(self.kind(low)) is None and self.problem(self.kind(high)) is None


def describe_options(config_class: type) -> tuple[OptionSpec, ...]:
    """Every field of the sections of ``config_class`` (a dataclass of dataclasses), in declaration order."""
    specs = []
    section_types = typing.get_type_hints(config_class)
    for section in dataclasses.fields(config_class):
        section_class = section_types[section.name]
        hints = typing.get_type_hints(section_class)
        defaults = section_class()
        for field in dataclasses.fields(section_class):
            kind, optional, choices = _kind_of(hints[field.name])
            described = field.metadata.get(OPTION_KEY)
            if described is None:
                raise TypeError(f"{section.name}.{field.name} has no Option: declare it with option(...)")
            specs.append(OptionSpec(section.name, field.name, kind, optional, getattr(defaults, field.name),
                                    choices, described))
    return tuple(specs)


def option_schema(specs: tuple[OptionSpec, ...]) -> dict[str, Any]:
    """A JSON Schema (draft 2020-12) of a config file with these options: sections, types, ranges, help."""
    sections: dict[str, dict[str, Any]] = {}
    for spec in specs:
        prop: dict[str, Any] = {"title": spec.option.label, "description": spec.option.help, "default": spec.default}
        if spec.choices:
            prop["enum"] = list(spec.choices)
        else:
            prop["type"] = {bool: "boolean", int: "integer", float: "number", str: "string"}[spec.kind]
        if spec.optional:
            prop["type"] = [prop.get("type", "string"), "null"]
        for bound, is_open, plain, exclusive in ((spec.option.minimum, spec.option.min_open, "minimum", "exclusiveMinimum"),
                                                 (spec.option.maximum, spec.option.max_open, "maximum", "exclusiveMaximum")):
            if bound is not None:
                prop[exclusive if is_open else plain] = bound
        section = sections.setdefault(spec.section, {"type": "object", "additionalProperties": False, "properties": {}})
        section["properties"][spec.key] = prop
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", "title": "imgcls run config",
            "type": "object", "additionalProperties": False, "properties": sections}


def _kind_of(hint: Any) -> tuple[type, bool, tuple[str, ...]]:
    """(base type, None allowed, choices) of a field's annotation."""
    optional = False
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        args = [arg for arg in typing.get_args(hint) if arg is not type(None)]
        optional = len(args) < len(typing.get_args(hint))
        hint = args[0]
    if typing.get_origin(hint) is Literal:
        return str, optional, tuple(str(choice) for choice in typing.get_args(hint))
    return hint, optional, ()


def _num(value: float) -> str:
    if float(value).is_integer() and abs(value) < 1e15:
        return str(int(value))
    return f"{value:g}"
