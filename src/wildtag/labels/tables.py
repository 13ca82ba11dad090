"""Event and ClipLabels tables on disk as CSV or Parquet (chosen by suffix), written atomically.

Parquet keeps everything exactly (dtypes, NaN, list columns as lists). CSV keeps the fixed columns exactly
(floats at full precision, NaN as an empty cell, label lists ``;``-joined) and extra columns of integers,
floats, booleans and text; in CSV a missing text cell reads back as ``""``, and an extra column that is
entirely empty as a column of ``""``.

    >>> write_table(events, "labels/events.parquet")      # doctest: +SKIP
    >>> events = read_events("labels/events.parquet")     # doctest: +SKIP
"""

from __future__ import annotations

import csv
import os
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd

from wildtag.fileio import atomic_path
from wildtag.labels._text import RawTable, infer_column, read_delimited, text_cell
from wildtag.labels.clips import CLIP_COLUMNS, LIST_COLUMNS, make_clip_labels
from wildtag.labels.errors import LabelError
from wildtag.labels.events import EVENT_COLUMNS, make_events
from wildtag.labels.names import label_list

LIST_SEPARATOR = ";"
_FORMATS = {".csv": "csv", ".parquet": "parquet", ".pq": "parquet"}


def _format(path: Path) -> str:
    try:
        return _FORMATS[path.suffix.lower()]
    except KeyError:
        raise LabelError(
            str(path), None, f"unknown table format {path.suffix!r}; use .csv or .parquet"
        ) from None


def write_table(df: pd.DataFrame, path: str | os.PathLike[str]) -> Path:
    """Write an Event or ClipLabels table (or any such table) to ``.csv`` or ``.parquet``, atomically."""
    path = Path(path)
    fmt = _format(path)
    df = df.reset_index(drop=True)
    with atomic_path(path) as tmp:
        if fmt == "parquet":
            try:
                df.to_parquet(tmp, index=False)
            except (TypeError, ValueError, ImportError) as error:  # pyarrow: mixed-type column, ...
                raise LabelError(str(path), None, f"cannot write the table as Parquet: {error}") from None
        else:
            _write_csv(df, tmp, str(path))
    return path


def _write_csv(df: pd.DataFrame, tmp: Path, path: str) -> None:
    sources = df["source"].astype(str).tolist() if "source" in df.columns else [""] * len(df)
    columns = []
    for name in df.columns:
        values = df[name].to_numpy(object)
        if any(isinstance(v, (list, tuple, np.ndarray)) for v in values):
            columns.append([_join(v, name, sources[i], path) for i, v in enumerate(values)])
        else:
            columns.append([text_cell(v) for v in values])
    with tmp.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow([str(c) for c in df.columns])
        writer.writerows(zip(*columns, strict=True))


def _join(value: object, column: str, source: str, path: str) -> str:
    if not isinstance(value, (list, tuple, np.ndarray)):
        return text_cell(value)
    names = [str(v) for v in value]
    for name in names:
        if LIST_SEPARATOR in name or not name:
            where = f" ({source})" if source else ""
            raise LabelError(
                path,
                None,
                f"{column!r} holds {name!r}{where}; CSV list cells are ';'-joined names, so a name "
                "cannot be empty or contain ';'. Write Parquet, or rename the class",
            )
    return LIST_SEPARATOR.join(names)


def read_events(path: str | os.PathLike[str]) -> pd.DataFrame:
    """An Event table written by :func:`write_table` (or any CSV/Parquet with the event columns)."""
    return _read(Path(path), make_events, EVENT_COLUMNS, ())


def read_clip_labels_table(path: str | os.PathLike[str]) -> pd.DataFrame:
    """A ClipLabels table written by :func:`write_table`; the label columns come back as lists."""
    return _read(Path(path), make_clip_labels, CLIP_COLUMNS, LIST_COLUMNS)


def _read(
    path: Path, make: Callable[..., pd.DataFrame], schema: tuple[str, ...], list_columns: tuple[str, ...]
) -> pd.DataFrame:
    if _format(path) == "parquet":
        if not path.is_file():
            raise LabelError(str(path), None, "no such file")
        try:
            frame = pd.read_parquet(path)
        except (OSError, ValueError) as error:
            raise LabelError(str(path), None, f"cannot read the Parquet table: {error}") from None
        for name in list_columns:
            if name in frame.columns:
                frame[name] = [None if v is None else list(v) for v in frame[name]]
        return make(frame, origin=str(path))
    table = read_delimited(path, ",")
    return make(_csv_frame(table, schema, list_columns), origin=table.path)


def _csv_frame(table: RawTable, schema: tuple[str, ...], list_columns: tuple[str, ...]) -> pd.DataFrame:
    frame: dict[str, object] = {}
    for name in table.columns:
        values = table.column(name)
        if name in list_columns:
            frame[name] = [
                label_list(v, separator=LIST_SEPARATOR, source=s, column=name)
                for v, s in zip(values, table.sources(), strict=True)
            ]
        elif name in schema:
            frame[name] = pd.Series(values, dtype="str")  # parsed and checked by make_*, row by row
        else:
            frame[name] = infer_column(values)
    return pd.DataFrame(frame, index=pd.RangeIndex(len(table.rows)))
