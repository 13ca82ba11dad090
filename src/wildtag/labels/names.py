"""The one reading of a label cell: :func:`label_list` turns whatever a format holds into a list of names.

    >>> label_list("Bark,Walk_and_footsteps", separator=",")
    ['Bark', 'Walk_and_footsteps']
    >>> label_list("['amecro', 'norcar']"), label_list(""), label_list(None)
    (['amecro', 'norcar'], [], [])

An empty cell (``""``, ``None``, NaN, ``[]``) is an empty list: "checked, no class present", in every
format. Every reader and every consumer of a label column goes through this function.
"""

from __future__ import annotations

import ast
from typing import Any

import numpy as np
import pandas as pd

from wildtag.labels.errors import LabelError


def label_list(
    cell: Any, *, separator: str | None = None, source: str | None = None, column: str = "labels"
) -> list[str]:
    """The class names in one label cell (outer spaces stripped), or ``[]`` for an empty cell.

    Text is a Python list literal (``"['a', 'b']"``, BirdCLEF) or names joined by ``separator``
    (``None``: the whole cell is one name). A list, tuple or array (a Parquet round-trip) is taken as it
    is. Raises :class:`LabelError` naming ``source`` ("file:line") for an empty name between separators,
    a malformed list literal or a cell that is no name at all.
    """
    if cell is None or cell is pd.NA or (isinstance(cell, float) and np.isnan(cell)):
        return []
    if isinstance(cell, str):
        return _names_in_text(cell, separator, source, column)
    if not isinstance(cell, (list, tuple, np.ndarray, pd.Series)):
        raise LabelError.at(source, f"{column!r} is {cell!r}; expected class names")
    names = []
    for name in cell:
        if not isinstance(name, str) or not name.strip():
            raise LabelError.at(source, f"{column!r} holds {name!r}; class names must be non-empty strings")
        names.append(name.strip())
    return names


def _names_in_text(cell: str, separator: str | None, source: str | None, column: str) -> list[str]:
    text = cell.strip()
    if not text:
        return []
    if text.startswith("["):
        try:
            value = ast.literal_eval(text)
        except (ValueError, SyntaxError):
            value = None
        if not isinstance(value, (list, tuple)) or not all(isinstance(v, str) and v.strip() for v in value):
            raise LabelError.at(source, f"{column!r} is {cell!r}, not a list of names like ['a', 'b']")
        return [v.strip() for v in value]
    names = [v.strip() for v in text.split(separator)] if separator else [text]
    if not all(names):
        raise LabelError.at(source, f"{column!r} is {cell!r}, which has an empty name between separators")
    return names
