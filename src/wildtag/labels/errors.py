"""The one exception of :mod:`wildtag.labels`: a bad annotation, named by file and line.

>>> str(LabelError("a.selections.txt", 4, "'Begin Time (s)' is 'x', not a number"))
"a.selections.txt:4: 'Begin Time (s)' is 'x', not a number"
"""

from __future__ import annotations

import os
import re

_SOURCE = re.compile(r"^(?P<path>.*):(?P<row>\d+)$")


class LabelError(ValueError):
    """An annotation file or table that cannot be used as it is.

    ``path`` is the file (``None`` for an in-memory table), ``row`` the 1-based line in that file (the header
    is line 1; ``None`` when the problem is not one row's), ``reason`` what is wrong and how to fix it.
    """

    def __init__(self, path: str | os.PathLike[str] | None, row: int | None, reason: str):
        self.path = None if path is None else os.fspath(path)
        self.row = row
        self.reason = reason
        super().__init__(self.path, row, reason)

    @classmethod
    def at(cls, source: str | None, reason: str) -> LabelError:
        """The error for a table row whose ``source`` is ``"path:line"`` (or empty, for in-memory rows)."""
        match = _SOURCE.match(source or "")
        if match:
            return cls(match["path"], int(match["row"]), reason)
        return cls(source or None, None, reason)

    def __str__(self) -> str:
        if self.path is None:
            return self.reason if self.row is None else f"row {self.row}: {self.reason}"
        return f"{self.path}: {self.reason}" if self.row is None else f"{self.path}:{self.row}: {self.reason}"


class UnknownLabelError(LabelError, KeyError):
    """A class name not in a :class:`~wildtag.labels.ClassMap`; ``close_matches`` holds suggestions."""

    def __init__(self, name: str, close_matches: list[str], reason: str):
        super().__init__(None, None, reason)
        self.name = name
        self.close_matches = close_matches

    def __reduce__(self):  # args are (path, row, reason); rebuild from our own fields instead
        return (type(self), (self.name, self.close_matches, self.reason))

    def __str__(self) -> str:  # KeyError would quote the message.
        return LabelError.__str__(self)
