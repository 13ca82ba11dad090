"""The ordered class names a model predicts, and the multi-hot vectors over them.

    >>> classes = ClassMap.from_labels(["wren", "robin", "wren"])
    >>> classes.names, classes.index("wren"), classes.encode(["wren"]).tolist()
    (('robin', 'wren'), 1, [0.0, 1.0])

Species with several song types become one class per song type when the reader splits them
(:func:`~wildtag.labels.read_rfcx` names them ``"<species>_<songtype>"``); to the map they are names
like any other.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from wildtag.fileio import atomic_path
from wildtag.labels.errors import LabelError, UnknownLabelError
from wildtag.suggest import closest


@dataclass(frozen=True)
class ClassMap:
    """Unique, ordered class names: position ``i`` is output ``i`` of a model."""

    names: tuple[str, ...]
    _index: dict[str, int] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        names = (self.names,) if isinstance(self.names, str) else tuple(self.names)
        index: dict[str, int] = {}
        for i, name in enumerate(names):
            if not isinstance(name, str) or not name:
                raise LabelError(None, None, f"class {i} is {name!r}: class names must be non-empty strings")
            if name in index:
                raise LabelError(
                    None, None, f"class {name!r} appears twice (positions {index[name]} and {i})"
                )
            index[name] = i
        object.__setattr__(self, "names", names)
        object.__setattr__(self, "_index", index)

    @classmethod
    def from_labels(cls, labels: Iterable[Any], sort: bool = True) -> ClassMap:
        """The classes that occur in ``labels``: sorted, or in order of first appearance.

        Items may be names or lists of names (a clip-label column); empty names and NaN are not classes.
        """
        seen: dict[str, None] = {}
        for item in labels:
            for name in item if isinstance(item, (list, tuple, np.ndarray)) else (item,):
                if name is None or (isinstance(name, float) and math.isnan(name)) or name == "":
                    continue
                seen[str(name)] = None
        return cls(tuple(sorted(seen)) if sort else tuple(seen))

    def index(self, name: str) -> int:
        """The position of class ``name``; an unknown name raises :class:`UnknownLabelError`."""
        try:
            return self._index[name]
        except KeyError:
            close = closest(str(name), self.names, n=3)
            hint = f" Did you mean {', '.join(repr(c) for c in close)}?" if close else ""
            reason = f"unknown class {name!r}.{hint} The class map has {len(self)} classes"
            raise UnknownLabelError(name, close, reason) from None

    def encode(self, labels: Iterable[str], value: float = 1.0) -> np.ndarray:
        """A float32 vector of length ``len(self)``: ``value`` at each label's class, 0 elsewhere."""
        out = np.zeros(len(self), dtype=np.float32)
        for name in labels:
            out[self.index(name)] = value
        return out

    def __len__(self) -> int:
        return len(self.names)

    def __iter__(self) -> Iterator[str]:
        return iter(self.names)

    def __contains__(self, name: object) -> bool:
        return name in self._index

    def to_dict(self) -> dict[str, Any]:
        return {"names": list(self.names)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ClassMap:
        if not isinstance(data, Mapping) or not isinstance(data.get("names"), list):
            raise LabelError(None, None, "a class map is a mapping with a list under 'names'")
        unknown = set(data) - {"names"}
        if unknown:
            raise LabelError(None, None, f"unknown class map key(s) {sorted(unknown)}; expected only 'names'")
        return cls(tuple(data["names"]))

    def to_json(self, path: str | os.PathLike[str]) -> Path:
        """Write ``{"names": [...]}`` to ``path`` atomically."""
        path = Path(path)
        with atomic_path(path) as tmp:
            tmp.write_text(json.dumps(self.to_dict(), indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        return path

    @classmethod
    def from_json(cls, path: str | os.PathLike[str]) -> ClassMap:
        """Read a class map written by :meth:`to_json` (or a plain JSON list of names)."""
        try:
            data = json.loads(Path(path).read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise LabelError(path, None, "no such file") from None
        except json.JSONDecodeError as error:
            raise LabelError(path, error.lineno, f"not valid JSON: {error.msg}") from None
        try:
            return cls.from_dict({"names": data} if isinstance(data, list) else data)
        except LabelError as error:
            raise LabelError(path, None, error.reason) from None
