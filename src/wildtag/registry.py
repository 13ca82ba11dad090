"""One generic registry: every swappable part is found by name, as in timm's ``create_model``.

    >>> from wildtag.registry import Registry
    >>> HEADS = Registry("head")
    >>> @HEADS.register("linear")
    ... class LinearHead: ...
    >>> HEADS.create("linear")  # doctest: +ELLIPSIS
    <...LinearHead object at ...>

An unknown name raises :class:`UnknownNameError` listing the closest registered names.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Callable
from typing import Any, Generic, TypeVar

from wildtag.suggest import closest

T = TypeVar("T")


class UnknownNameError(KeyError):
    """A name that no part of this kind is registered under."""

    def __init__(self, kind: str, name: str, known: list[str]):
        close = closest(name, known, n=3, cutoff=0.5)
        hint = f" Did you mean {', '.join(repr(c) for c in close)}?" if close else ""
        message = f"unknown {kind} {name!r}.{hint} Registered: {', '.join(sorted(known)) or 'none'}."
        super().__init__(message)
        self.kind, self.name, self.close_matches = kind, name, close

    def __str__(self) -> str:  # KeyError quotes its message; we want it plain.
        return str(self.args[0])


class Registry(Generic[T]):
    """Maps names to factories (classes or functions) of one kind of part."""

    def __init__(self, kind: str):
        self.kind = kind
        self._entries: dict[str, Callable[..., T]] = {}

    def register(self, name: str | None = None) -> Callable[[Callable[..., T]], Callable[..., T]]:
        """Decorator registering a class or function under ``name`` (default: its ``__name__``)."""

        def decorator(factory: Callable[..., T]) -> Callable[..., T]:
            key = name or factory.__name__
            if key in self._entries and self._entries[key] is not factory:
                raise ValueError(f"{self.kind} {key!r} is already registered")
            self._entries[key] = factory
            return factory

        return decorator

    def get(self, name: str) -> Callable[..., T]:
        """The factory registered under ``name``."""
        try:
            return self._entries[name]
        except KeyError:
            raise UnknownNameError(self.kind, name, list(self._entries)) from None

    def create(self, name: str, /, **kwargs: Any) -> T:
        """Build the part registered under ``name`` with ``kwargs``."""
        return self.get(name)(**kwargs)

    def list(self, pattern: str = "*") -> list[str]:
        """Registered names matching a shell-style ``pattern``, sorted."""
        return sorted(n for n in self._entries if fnmatch.fnmatch(n, pattern))

    def __contains__(self, name: object) -> bool:
        return name in self._entries

    def __repr__(self) -> str:
        return f"Registry({self.kind!r}, {self.list()})"
