"""Clip-label CSVs: one row per audio file with its class names.

Formats read (columns found by name, or named by the caller):

- Freesound Audio Tagging: ``fname,labels`` with several labels comma-joined in one quoted field;
- BirdCLEF: ``filename``, ``primary_label``, ``secondary_labels`` as a Python list literal ``"['a', 'b']"``;
- InsectSet32 and similar: ``file,species,...`` (a single label per file).

    >>> clips = read_clip_labels("train_curated.csv")  # doctest: +SKIP
    >>> clips.loc[0, "labels"]                         # doctest: +SKIP
    ['Bark', 'Walk_and_footsteps']
"""

from __future__ import annotations

import os

import pandas as pd

from wildtag.labels._text import RawTable, infer_column, read_delimited
from wildtag.labels.clips import make_clip_labels
from wildtag.labels.errors import LabelError
from wildtag.labels.names import label_list

FILE_COLUMNS = ("fname", "filename", "file", "file_name", "recording_id", "path", "filepath", "audio")
"""Column names searched, in order and ignoring case, for the audio file (the recording id)."""
LABEL_COLUMNS = ("labels", "primary_label", "label", "species", "class", "category")
SECONDARY_COLUMNS = ("secondary_labels", "secondary")


def read_clip_labels(
    path: str | os.PathLike[str],
    *,
    file_column: str | None = None,
    label_column: str | None = None,
    secondary_column: str | None = None,
    separator: str | None = ",",
) -> pd.DataFrame:
    """A ClipLabels table from a CSV (or ``.tsv``) with one row per file.

    ``recording_id`` is the file column's value as given. A label cell is a list literal (``['a', 'b']``)
    or names joined by ``separator`` (``None``: one name per cell); an empty cell is a clip checked and found
    to hold no class (an all-absent target), as in every clip-label format. Optional ``t0_s``/``t1_s`` columns give
    a span; other columns (``split``, ``class_id``, ...) are kept. Raises :class:`LabelError` naming the
    file and line of a malformed row, or the columns found when a needed one is missing.
    """
    delimiter = "\t" if str(path).lower().endswith((".tsv", ".tab")) else ","
    table = read_delimited(path, delimiter)
    file_col = _column(table, file_column, FILE_COLUMNS, "file")
    label_col = _column(table, label_column, LABEL_COLUMNS, "label")
    secondary_col = (
        table.require(secondary_column, "secondary label")
        if secondary_column
        else table.find(SECONDARY_COLUMNS)
    )
    sources = table.sources()
    frame: dict[str, object] = {"recording_id": pd.Series(table.column(file_col), dtype="str")}
    consumed = {file_col, label_col, secondary_col}
    for name in ("t0_s", "t1_s"):
        if name in table.columns:
            frame[name] = table.column(name)
            consumed.add(name)
    frame["labels"] = [
        label_list(v, separator=separator, source=s, column=label_col)
        for v, s in zip(table.column(label_col), sources, strict=True)
    ]
    if secondary_col is not None:
        frame["secondary_labels"] = [
            label_list(v, separator=separator, source=s, column=secondary_col)
            for v, s in zip(table.column(secondary_col), sources, strict=True)
        ]
    frame["source"] = sources
    for name in table.columns:
        if name not in consumed:
            if name in ("labels", "secondary_labels", "source"):
                raise LabelError(
                    table.path, 1, f"column {name!r} would clash with the clip table's own; rename it"
                )
            frame[name] = infer_column(table.column(name))
    return make_clip_labels(pd.DataFrame(frame, index=pd.RangeIndex(len(sources))), origin=table.path)


def _column(table: RawTable, given: str | None, candidates: tuple[str, ...], what: str) -> str:
    if given is not None:
        return table.require(given, what)
    found = table.find(candidates)
    if found is None:
        raise LabelError(
            table.path,
            1,
            f"no {what} column: looked for {list(candidates)} and found {table.columns}; "
            f"name it with {what}_column=",
        )
    return found
