"""Strict options dataclasses: keys, types and ranges checked when a card is planned.

Every table a card hands to a plugin (``[init]``, ``[params]``, ``[dataset]``,
``[evaluators.<name>]``) is built into that plugin's frozen options dataclass by
:func:`build_options`: unknown keys are refused with a close match, each value is checked
against the field's annotation (``int``, ``float`` (finite), ``bool``, ``str``, ``tuple[str, ...]``,
``X | None``), and the dataclass's own ``__post_init__`` checks ranges. Every refusal is an
:class:`OptionError` naming the key, so the caller can blame the place the value came from
(``--set`` or the card file).

Example:
    >>> from dataclasses import dataclass
    >>> @dataclass(frozen=True)
    ... class P:
    ...     guidance: float = 3.0
    ...     steps: int = 40
    >>> build_options(P, {"guidance": 5}, "params of x")
    P(guidance=5, steps=40)
    >>> build_options(P, {"guidance": "high"}, "params of x")
    Traceback (most recent call last):
    ...
    emobench.options.OptionError: params of x: guidance: expected a finite number, got 'high' (str)
    >>> build_options(P, {"step": 2}, "params of x").steps
    Traceback (most recent call last):
    ...
    emobench.options.OptionError: params of x: unknown option(s) step; accepted: guidance=3.0, steps=40 (did you mean 'steps'?)
"""

from __future__ import annotations

import dataclasses
import difflib
import math
import types
import typing
from typing import Any, Mapping

from emobench.errors import UserError


class OptionError(UserError, TypeError, ValueError):
    """An option the dataclass does not accept; ``key`` names it (``""`` when no single key is to blame).

    It is a ``TypeError`` for unknown or mistyped keys and a ``ValueError`` for values out of
    range, as callers of the plain dataclass constructor would expect, and a
    :class:`~emobench.errors.UserError`, so the CLI shows it as one line.
    """

    def __init__(self, key: str, message: str):
        super().__init__(message)
        self.key = key


def require(condition: bool, key: str, message: str) -> None:
    """Raise :class:`OptionError` for ``key`` unless ``condition`` (for ``__post_init__`` range checks).

    Example:
        >>> require(2 >= 2, "steps", "steps: expected an integer >= 2")
        >>> require(1 >= 2, "steps", "steps: expected an integer >= 2, got 1")
        Traceback (most recent call last):
        ...
        emobench.options.OptionError: steps: expected an integer >= 2, got 1
    """
    if not condition:
        raise OptionError(key, message)


def describe(hint: Any) -> str:
    """Words for a type annotation (``"a finite number"``, ``"a list of strings"``).

    Example:
        >>> describe(int), describe(tuple[str, ...]), describe(float | None)
        ('an integer', 'a list of strings', 'a finite number or nothing')
    """
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        return " or ".join(describe(a) for a in typing.get_args(hint))
    if origin in (tuple, list):
        args = [a for a in typing.get_args(hint) if a is not Ellipsis]
        inner = describe(args[0]) if args else "values"
        return "a list of " + (inner.split(" ", 1)[1] + "s" if inner.startswith(("a ", "an ")) else inner)
    return {bool: "true or false", int: "an integer", float: "a finite number", str: "a string",
            type(None): "nothing"}.get(hint, getattr(hint, "__name__", str(hint)))


def fits(hint: Any, value: Any) -> bool:
    """Whether ``value`` (as parsed from TOML) fits the annotation ``hint``; unknown annotations fit anything.

    ``bool`` is not an ``int`` here, and a ``float`` must be finite (NaN and infinities are refused).

    Example:
        >>> fits(float, 3), fits(float, float("nan")), fits(int, True), fits(tuple[str, ...], ["a"])
        (True, False, False, True)
    """
    origin = typing.get_origin(hint)
    if hint is Any:
        return True
    if origin in (typing.Union, types.UnionType):
        return any(fits(a, value) for a in typing.get_args(hint))
    if hint is type(None):
        return value is None
    if hint is bool:
        return isinstance(value, bool)
    if hint is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if hint is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    if hint is str:
        return isinstance(value, str)
    if origin in (tuple, list):
        if not isinstance(value, (list, tuple)):
            return False
        args = typing.get_args(hint)
        if len(args) == 2 and args[1] is Ellipsis or origin is list:
            return all(fits(args[0], v) for v in value) if args else True
        return len(args) == len(value) and all(fits(a, v) for a, v in zip(args, value))
    if origin in (dict, Mapping) or hint in (dict, Mapping):
        return isinstance(value, Mapping)
    return True  # a type this module does not know: the dataclass itself is the judge


def _hints(cls: type) -> dict[str, Any]:
    try:
        return typing.get_type_hints(cls)
    except Exception:  # noqa: BLE001 - an annotation that does not resolve is left to the dataclass
        return {}


def _default_repr(f: dataclasses.Field) -> str:
    if f.default is not dataclasses.MISSING:
        return repr(f.default)
    if f.default_factory is not dataclasses.MISSING:  # type: ignore[misc]
        return repr(f.default_factory())  # type: ignore[misc]
    return "<required>"


def build_options(cls: type, values: Mapping[str, Any], where: str) -> Any:
    """Build the options dataclass ``cls`` from ``values``: keys, types, then the class's own ranges.

    ``where`` starts every message (``"params of LDMEditor"``). Raises :class:`OptionError`.
    """
    fields = {f.name: f for f in dataclasses.fields(cls)}
    unknown = sorted(set(values) - set(fields))
    if unknown:
        accepted = ", ".join(f"{name}={_default_repr(f)}" for name, f in fields.items()) or "(none)"
        close = difflib.get_close_matches(str(unknown[0]), list(fields), n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise OptionError(str(unknown[0]), f"{where}: unknown option(s) {', '.join(map(str, unknown))}; "
                                           f"accepted: {accepted}{hint}")
    missing = [name for name, f in fields.items() if name not in values and _default_repr(f) == "<required>"]
    if missing:
        raise OptionError(missing[0], f"{where}: missing option(s) {', '.join(missing)}")
    hints = _hints(cls)
    for key, value in values.items():
        hint = hints.get(key, Any)
        if not fits(hint, value):
            shown = f"{value!r} ({type(value).__name__})" if not isinstance(value, float) else repr(value)
            raise OptionError(key, f"{where}: {key}: expected {describe(hint)}, got {shown}")
    try:
        return cls(**dict(values))
    except OptionError as exc:  # a range check of the class (__post_init__ through require)
        raise OptionError(exc.key, f"{where}: {exc}") from exc
    except ValueError as exc:
        raise OptionError("", f"{where}: {exc}") from exc


def options_from_mapping(cls: type, values: Mapping[str, Any], where: str) -> Any:
    """Build the frozen options dataclass ``cls`` from ``values``, strictly (:func:`build_options`): the name
    every plugin uses for its ``[init]``, ``[params]``, ``[dataset]`` and ``[evaluators.<name>]`` tables.

    Example:
        >>> from dataclasses import dataclass
        >>> @dataclass(frozen=True)
        ... class P:
        ...     guidance: float = 3.0
        >>> options_from_mapping(P, {"guidance": 5}, "params of ldm")
        P(guidance=5)
    """
    return build_options(cls, values, where)
