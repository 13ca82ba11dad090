"""Reading delimited text tables with their line numbers, and turning their cells into typed columns.

Private helpers shared by the readers: every row keeps the line it came from, so any later error can name
``file:line``; every conversion that fails says which file, line, column and value.
"""

from __future__ import annotations

import csv
import io
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from wildtag.labels.errors import LabelError

_TRUE = {"1", "1.0", "true", "t", "yes", "y", "tp", "present", "pos", "positive"}
_FALSE = {"0", "0.0", "false", "f", "no", "n", "fp", "absent", "neg", "negative"}
_INT = re.compile(r"[+-]?(?:0|[1-9]\d{0,17})")
_FLOAT = re.compile(r"[+-]?(?:\d+\.?\d*(?:[eE][+-]?\d+)?|\.\d+(?:[eE][+-]?\d+)?|inf)")


@dataclass
class RawTable:
    """The cells of a delimited text file as strings: ``rows[i]`` came from line ``lines[i]`` (header = 1)."""

    path: str
    columns: list[str]
    rows: list[list[str]]
    lines: list[int]

    def find(self, candidates: Sequence[str]) -> str | None:
        """The first column whose name matches one of ``candidates`` (ignoring case and outer spaces)."""
        by_key = {c.strip().lower(): c for c in self.columns}
        for name in candidates:
            if name.strip().lower() in by_key:
                return by_key[name.strip().lower()]
        return None

    def require(self, name: str, what: str) -> str:
        """The column called ``name`` (ignoring case), or a LabelError listing the columns found."""
        found = self.find([name])
        if found is None:
            raise LabelError(self.path, 1, f"missing {what} column {name!r}; found columns: {self.columns}")
        return found

    def column(self, name: str) -> list[str]:
        i = self.columns.index(name)
        return [row[i] for row in self.rows]

    def sources(self) -> list[str]:
        return [f"{self.path}:{line}" for line in self.lines]


def read_delimited(path: str | os.PathLike[str], delimiter: str, *, quoted: bool = True) -> RawTable:
    """Read a header + rows text table (BOM, CRLF and blank lines are fine; ragged rows are padded)."""
    path = Path(path)
    if not path.is_file():
        raise LabelError(str(path), None, "no such file")
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError:  # Raven on Windows writes the ANSI code page.
        text = path.read_text(encoding="cp1252", errors="replace")
    quoting = csv.QUOTE_MINIMAL if quoted else csv.QUOTE_NONE
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, quoting=quoting, strict=True)
    records: list[tuple[int, list[str]]] = []
    start = 1
    try:
        for record in reader:
            if "".join(record).strip():
                records.append((start, record))
            start = reader.line_num + 1
    except csv.Error as error:
        raise LabelError(str(path), start, f"cannot parse the row: {error}") from None
    if not records:
        raise LabelError(str(path), None, "the file is empty: expected a header line")
    header_line, header = records[0]
    columns = [c.strip() for c in header]
    while columns and not columns[-1]:  # Raven ends its header with a tab
        columns.pop()
    _check_header(str(path), header_line, columns)
    rows, lines = [], []
    for line, record in records[1:]:
        if len(record) > len(columns):
            if any(cell.strip() for cell in record[len(columns) :]):
                raise LabelError(
                    str(path), line, f"the row has {len(record)} fields but the header names {len(columns)}"
                )
            record = record[: len(columns)]
        rows.append(record + [""] * (len(columns) - len(record)))
        lines.append(line)
    return RawTable(str(path), columns, rows, lines)


def _check_header(path: str, line: int, columns: list[str]) -> None:
    seen: set[str] = set()
    for name in columns:
        if not name:
            raise LabelError(path, line, f"the header has an unnamed column: {columns}")
        if name in seen:
            raise LabelError(path, line, f"the header names column {name!r} twice")
        seen.add(name)


def parse_floats(
    values: Sequence[object], sources: Sequence[str], column: str, *, required: bool
) -> np.ndarray:
    """Cells as float64; an empty cell is NaN unless ``required``; anything else non-numeric raises."""
    try:  # fast path: every cell is a number (numpy parses the text like float())
        return np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError):
        pass
    array = np.asarray(values, dtype=object)
    empty = np.array([_is_empty(v) for v in array], dtype=bool)
    if not (required and empty.any()):
        try:
            return np.where(empty, "nan", array).astype(np.float64)
        except (TypeError, ValueError):
            pass
    numbers = np.full(len(array), np.nan)
    for i in range(len(array)):  # slow path, only to name the first bad cell
        if empty[i]:
            if required:
                raise LabelError.at(sources[i], f"{column!r} is empty")
            continue
        try:
            numbers[i] = float(array[i])
        except (TypeError, ValueError):
            value = array[i]
            comma = isinstance(value, str) and re.fullmatch(r"\s*-?\d+,\d+\s*", value)
            hint = " (a decimal comma? write '.')" if comma else ""
            raise LabelError.at(sources[i], f"{column!r} is {value!r}, not a number{hint}") from None
    return numbers


def _is_empty(value: object) -> bool:
    if value is None or value is pd.NA:
        return True
    if isinstance(value, str):
        return not value.strip()
    return isinstance(value, float) and value != value


def parse_present(values: Sequence[object], sources: Sequence[str], column: str) -> np.ndarray:
    """Presence cells as bool: 1/0, yes/no, true/false, TP/FP, present/absent (any case)."""
    out = np.empty(len(values), dtype=bool)
    for i, value in enumerate(values):
        if isinstance(value, (bool, np.bool_)):
            out[i] = bool(value)
            continue
        key = str(value).strip().lower() if value is not None else ""
        if key in _TRUE:
            out[i] = True
        elif key in _FALSE:
            out[i] = False
        else:
            raise LabelError.at(
                sources[i],
                f"{column!r} is {value!r}; write 1/0, yes/no, true/false, TP/FP or present/absent",
            )
    return out


def infer_column(values: Sequence[str]) -> pd.Series:
    """A column of text cells as int64, float64 (empty = NaN), bool or str, whichever fits every cell.

    The same rule reads extra columns from every text format, so a table written by :mod:`wildtag.labels`
    reads back with the dtypes it had. Integers with leading zeros (``"007"``) stay text: they are names.
    """
    filled = [v for v in values if v != ""]
    complete = len(filled) == len(values)
    if filled and complete and all(_INT.fullmatch(v) for v in filled):
        return pd.Series([int(v) for v in values], dtype="int64")
    if filled and all(_FLOAT.fullmatch(v) for v in filled):
        return pd.Series([float(v) if v else np.nan for v in values], dtype="float64")
    if filled and complete and set(filled) <= {"True", "False"}:
        return pd.Series([v == "True" for v in values], dtype=bool)
    return pd.Series(list(values), dtype="str")


def text_cell(value: object) -> str:
    """One cell as text that :func:`infer_column` reads back to the same value (NaN/None = empty)."""
    if value is None or (isinstance(value, float) and np.isnan(value)) or value is pd.NA:
        return ""
    if isinstance(value, (bool, np.bool_)):
        return "True" if value else "False"
    if isinstance(value, (float, np.floating)):
        return repr(float(value))
    return str(value)
