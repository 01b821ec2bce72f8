"""One registry class for every pluggable kind (editors, evaluators, datasets).

Entries are lazy ``"module:attr"`` strings, so listing names imports nothing heavy.
Third-party packages add entries through entry-point groups
(``emobench.editors``, ``emobench.evaluators``, ``emobench.datasets``).

Example:
    >>> reg = Registry("editor", {"identity": "emobench.editors.identity:IdentityEditor"})
    >>> reg.names()
    ['identity']
    >>> reg.get("idnetity")
    Traceback (most recent call last):
    ...
    emobench.registry.UnknownNameError: unknown editor 'idnetity'; did you mean 'identity'? Run `emobench list` to see every name.
"""

from __future__ import annotations

import contextlib
import difflib
import importlib
from importlib import metadata
from typing import Any, Iterator, Mapping


class UnknownNameError(KeyError):
    """A name that no registry entry has. ``str()`` gives the full message."""

    def __str__(self) -> str:  # KeyError quotes its message; we want it plain.
        return str(self.args[0])


class DuplicateNameError(ValueError):
    """Two entries claim the same name."""


def suggest(name: str, choices: list[str], kind: str) -> str:
    """A message for an unknown ``name`` with close matches among ``choices``.

    Example:
        >>> suggest("ldm-cfg", ["ldm", "ldm-cgf"], "method")
        "unknown method 'ldm-cfg'; did you mean 'ldm-cgf', 'ldm'? Run `emobench list` to see every name."
    """
    close = difflib.get_close_matches(name, choices, n=3, cutoff=0.5)
    hint = f"; did you mean {', '.join(repr(c) for c in close)}?" if close else "."
    return f"unknown {kind} {name!r}{hint} Run `emobench list` to see every name."


class Registry:
    """Named, lazily imported objects of one kind.

    ``builtins`` maps names to ``"module:attr"`` targets; ``entry_point_group`` (optional)
    adds the installed plugins of that group. A name defined twice is an error.
    """

    def __init__(self, kind: str, builtins: Mapping[str, str], entry_point_group: str | None = None):
        self.kind = kind
        self.entry_point_group = entry_point_group
        self._targets: dict[str, str] = {}
        for name, target in builtins.items():
            self._add(name, target, origin="built-in")
        self._builtins = frozenset(builtins)
        self._plugins_loaded = entry_point_group is None

    def _add(self, name: str, target: str, origin: str) -> None:
        if ":" not in target:
            raise ValueError(f"{self.kind} {name!r}: expected a 'module:attr' target, got {target!r}")
        if name in self._targets and self._targets[name] != target:
            raise DuplicateNameError(
                f"{self.kind} {name!r} is defined twice: {self._targets[name]!r} and {target!r} ({origin})"
            )
        self._targets[name] = target

    def _load_plugins(self) -> None:
        if self._plugins_loaded:
            return
        self._plugins_loaded = True
        for ep in metadata.entry_points(group=self.entry_point_group):
            self._add(ep.name, ep.value, origin=f"entry point of {ep.dist.name if ep.dist else '?'}")

    def register(self, name: str, target: str) -> None:
        """Add an entry (for tests and notebooks; packages use entry points)."""
        self._load_plugins()
        self._add(name, target, origin="register()")

    def unregister(self, name: str) -> None:
        """Remove an entry added with :meth:`register` (built-ins and entry points stay)."""
        if name in self._builtins:
            raise ValueError(f"{self.kind} {name!r} is built in and cannot be unregistered")
        self._targets.pop(name, None)

    @contextlib.contextmanager
    def registered(self, entries: Mapping[str, str]) -> Iterator["Registry"]:
        """Entries that exist only inside the block (test fakes: nothing leaks into other tests).

        Example:
            >>> r = Registry("thing", {})
            >>> with r.registered({"x": "os:path"}):
            ...     "x" in r
            True
            >>> "x" in r
            False
        """
        for name, target in entries.items():
            self.register(name, target)
        try:
            yield self
        finally:
            for name in entries:
                self.unregister(name)

    def names(self) -> list[str]:
        """Every registered name, sorted."""
        self._load_plugins()
        return sorted(self._targets)

    def target(self, name: str) -> str:
        """The ``"module:attr"`` string of ``name``; raises :class:`UnknownNameError`."""
        self._load_plugins()
        if name not in self._targets:
            raise UnknownNameError(suggest(name, list(self._targets), self.kind))
        return self._targets[name]

    def get(self, name: str) -> Any:
        """Import and return the object registered as ``name``."""
        module_name, _, attr = self.target(name).partition(":")
        module = importlib.import_module(module_name)
        try:
            return getattr(module, attr)
        except AttributeError as exc:
            raise ImportError(f"{self.kind} {name!r}: module {module_name!r} has no attribute {attr!r}") from exc

    def __contains__(self, name: str) -> bool:
        self._load_plugins()
        return name in self._targets
