"""Did-you-mean suggestions for unknown names (config keys, parts, classes, labels)."""

from __future__ import annotations

import difflib
from collections.abc import Iterable


def closest(name: str, choices: Iterable[str], n: int = 1, cutoff: float = 0.6) -> list[str]:
    """Up to ``n`` of ``choices`` that look most like ``name`` (best first)."""
    return difflib.get_close_matches(str(name), [str(c) for c in choices], n=n, cutoff=cutoff)


def did_you_mean(name: str, choices: Iterable[str], cutoff: float = 0.6) -> str:
    """``" (did you mean 'x'?)"`` for the closest of ``choices``, or ``""`` when none is close."""
    found = closest(name, choices, n=1, cutoff=cutoff)
    return f" (did you mean {found[0]!r}?)" if found else ""
