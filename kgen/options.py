"""Plugin options: one dataclass per view or target, whose fields make its command-line flags.

A field declared with `option(default, help=...)` becomes `--field-name`: its
type (from the annotation) picks the argparse form (bool: a switch, Enum: a
choice of its values, int / float / str: a typed value, anything else a
`parse` function), its default and help come along. The same dataclass is
built from keyword arguments in the Python API (`options_of(cls, **kw)`), and
its `__post_init__` validates both ways alike.

One flag name has one meaning everywhere: the options more than one plugin
takes are defined here once (`steps_option`, `reverse_option`, ...) and the
tests hold every registered plugin to it.
"""

from __future__ import annotations

import argparse
import dataclasses
import enum
import math
import types
import typing
from typing import Any, Callable

from .errors import InputError, expected_found

_MISSING = dataclasses.MISSING


def option(default: Any = _MISSING, *, help: str, parse: Callable[[str], Any] | None = None,
           metavar: str | None = None, default_factory: Callable[[], Any] | None = None) -> Any:
    """A dataclass field that is also a command-line flag."""
    meta = {"help": help, "parse": parse, "metavar": metavar}
    if default_factory is not None:
        return dataclasses.field(default_factory=default_factory, metadata=meta)
    return dataclasses.field(default=default, metadata=meta)


def flag_name(field_name: str) -> str:
    return "--" + field_name.replace("_", "-")


def _hints(cls) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def _base_type(tp):
    """(type without Optional, whether None is allowed)."""
    args = typing.get_args(tp)
    if typing.get_origin(tp) in (typing.Union, types.UnionType) and type(None) in args:
        rest = [a for a in args if a is not type(None)]
        return (rest[0] if len(rest) == 1 else typing.Union[tuple(rest)]), True
    return tp, False


def option_fields(cls) -> list[dataclasses.Field]:
    """The fields of an options dataclass that are flags (declared with `option`)."""
    return [f for f in dataclasses.fields(cls) if "help" in f.metadata]


def describe(cls) -> dict[str, tuple[str, str]]:
    """flag -> (its type as text, its help): what a flag means (the tests compare plugins with it)."""
    hints = _hints(cls)
    return {flag_name(f.name): (str(hints[f.name]), f.metadata["help"]) for f in option_fields(cls)}


def add_arguments(parser: argparse.ArgumentParser, cls, exclude: tuple[str, ...] = ()) -> None:
    """Add one flag per option field of `cls` (except `exclude`) to an argparse parser."""
    hints = _hints(cls)
    group = parser.add_argument_group(f"{getattr(cls, 'title', cls.__name__)} options")
    for f in option_fields(cls):
        if f.name in exclude:
            continue
        tp, _ = _base_type(hints[f.name])
        default = f.default if f.default is not _MISSING else None
        kw: dict[str, Any] = {"dest": f.name, "help": f.metadata["help"], "default": None}
        if tp is bool:
            kw["action"] = "store_true"
        elif isinstance(tp, type) and issubclass(tp, enum.Enum):  # checked by _convert: the one-line message
            kw["metavar"] = f.metadata["metavar"] or "{" + ",".join(m.value for m in tp) + "}"
        else:
            kw["metavar"] = f.metadata["metavar"] or f.name.upper()
        if default not in (None, False) and "(default" not in kw["help"]:
            shown = default.value if isinstance(default, enum.Enum) else default
            kw["help"] += f" (default {shown})"
        group.add_argument(flag_name(f.name), **kw)


def _convert(cls, f: dataclasses.Field, value, from_text: bool):
    tp, optional = _base_type(_hints(cls)[f.name])
    flag = flag_name(f.name)
    if value is None:
        return None
    parse = f.metadata.get("parse")
    if isinstance(tp, type) and issubclass(tp, enum.Enum):
        if isinstance(value, tp):
            return value
        try:
            return tp(value)
        except ValueError:
            raise InputError(expected_found(flag, "one of " + ", ".join(m.value for m in tp), repr(value))) from None
    if parse is not None and (from_text or isinstance(value, str)):
        return parse(value)
    if tp is bool:
        if not isinstance(value, bool):
            raise InputError(expected_found(flag, "True or False", repr(value)))
        return value
    if tp in (int, float) and from_text:
        try:
            return tp(value)
        except ValueError:
            raise InputError(expected_found(flag, f"a{'n integer' if tp is int else ' number'}", repr(value))) from None
    if tp is int and (isinstance(value, bool) or not isinstance(value, int)):
        raise InputError(expected_found(flag, "an integer", repr(value)))
    if tp is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise InputError(expected_found(flag, "a number", repr(value)))
        return float(value)
    return value


def options_from_args(cls, ns: argparse.Namespace):
    """The options dataclass from parsed flags (unset flags keep the field defaults)."""
    given = {}
    for f in option_fields(cls):
        value = getattr(ns, f.name, None)
        if value is None or value is False and f.default is False:
            continue
        given[f.name] = _convert(cls, f, value, from_text=True)
    return cls(**given)


def options_of(cls, **kwargs):
    """The options dataclass from Python keywords; an unknown keyword names the known ones."""
    known = {f.name: f for f in option_fields(cls)}
    unknown = sorted(set(kwargs) - set(known))
    if unknown:
        raise InputError(expected_found(f"option {unknown[0]!r}", "one of " + ", ".join(sorted(known)) if known
                                        else "no options", repr(unknown[0])))
    return cls(**{k: _convert(cls, known[k], v, from_text=False) for k, v in kwargs.items()})


# -- the options several plugins take: one definition each ---------------------------------------------

def parse_steps(text) -> int | tuple[int, ...]:
    """`20` (every window) or `20,30` (one count per window)."""
    if isinstance(text, int) and not isinstance(text, bool):
        values = (text,)
    elif isinstance(text, (tuple, list)):
        values = tuple(text)
    else:
        try:
            values = tuple(int(v) for v in str(text).split(","))
        except ValueError:
            raise InputError(expected_found("--steps", "a step count or one per window (e.g. 20 or 20,30)",
                                            repr(text))) from None
    if not values or any(isinstance(v, bool) or not isinstance(v, int) or v < 1 for v in values):
        raise InputError(expected_found("--steps", "one positive count or one per window", repr(text)))
    return values[0] if len(values) == 1 and not isinstance(text, (tuple, list)) else tuple(values)


def steps_for_windows(steps: int | tuple[int, ...] | None, n_windows: int) -> tuple[int, ...] | None:
    """A `--steps` value resolved against a circuit's windows."""
    if steps is None:
        return None
    values = (steps,) * n_windows if isinstance(steps, int) else tuple(steps)
    if len(values) == 1:
        values = values * n_windows
    if len(values) != n_windows:
        raise InputError(expected_found("--steps", f"one positive count or {n_windows} of them",
                                        ",".join(map(str, values))))
    return values


def steps_option():
    return option(None, help="fixed steps per window: N, or N1,N2,... one per window", parse=parse_steps,
                  metavar="N[,N...]")


def reverse_option():
    return option(False, help="integrate from the last window back to the first (flow models: the default "
                              "sampling direction runs noise -> data, this runs data -> noise)")


def positive(value, flag: str, allow_zero: bool = False) -> None:
    """A finite number > 0 (or >= 0): raises the one-line error naming the flag."""
    if value is None:
        return
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value) and (
        value >= 0 if allow_zero else value > 0)
    if not ok:
        raise InputError(expected_found(flag, f"a finite {'non-negative' if allow_zero else 'positive'} number",
                                        repr(value)))
