"""Read labels in any supported format: :func:`read_labels` -> :class:`LabelTable` (clips or events).

    >>> labels = read_labels("train_metadata.csv")           # format detected from the file
    >>> labels.kind, len(labels.table)                          # doctest: +SKIP
    ('clips', 62874)
    >>> read_labels("tables/", format="raven").recordings      # doctest: +SKIP
    ('rec01', 'rec02')

Formats (``LABEL_FORMATS``; the README's "Label formats" table shows one row of each): ``clip_csv``
(Freesound, BirdCLEF, InsectSet32 and similar), ``table`` (clip or event tables written by
:func:`~wildtag.labels.write_table`, CSV or Parquet), ``raven`` (selection tables, a file or a folder),
``rfcx`` (``train_tp.csv`` and ``train_fp.csv``) and ``folders`` (one sub-folder per class).
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import pandas as pd

from wildtag.labels.clip_csv import read_clip_labels
from wildtag.labels.errors import LabelError
from wildtag.labels.events import make_events
from wildtag.labels.folders import read_class_folders
from wildtag.labels.raven import raven_recording_id, read_raven
from wildtag.labels.rfcx import read_rfcx
from wildtag.labels.tables import read_clip_labels_table, read_events
from wildtag.suggest import did_you_mean

LABEL_FORMATS = ("clip_csv", "table", "raven", "rfcx", "folders")
Kind = Literal["clips", "events"]


@dataclass(frozen=True)
class LabelTable:
    """What label files say: a ClipLabels (``kind="clips"``) or Event (``"events"``) table, and every
    recording they cover, rows or not.

    ``recordings`` lists recording names in order of first appearance, including a recording whose Raven
    table has a header and no rows: it was checked and nothing was there, so it stays in the data (all
    classes absent where absences count, unknown elsewhere), unlike a recording no label file names.
    """

    kind: Kind
    table: pd.DataFrame
    format: str
    recordings: tuple[str, ...] = field(default=())

    def __post_init__(self) -> None:
        if self.kind not in ("clips", "events"):
            raise ValueError(f"kind must be 'clips' or 'events', got {self.kind!r}")
        if not self.recordings:
            ids = self.table["recording_id"].astype(str) if len(self.table) else []
            object.__setattr__(self, "recordings", tuple(dict.fromkeys(ids)))


def detect_format(path: str | os.PathLike[str]) -> str:
    """The label format of a file or folder, from its name and header (see :data:`LABEL_FORMATS`)."""
    path = Path(path)
    if path.is_dir():
        return "raven" if any(path.glob("*.selections.txt")) else "folders"
    name = path.name.lower()
    if name.endswith(".selections.txt"):
        return "raven"
    if path.suffix.lower() in (".parquet", ".pq"):
        return "table"
    columns = set(_columns(path))
    if {"species_id", "songtype_id", "t_min"} <= columns:
        return "rfcx"
    if "recording_id" in columns and columns & {"labels", "label"}:
        return "table"  # the columns write_table writes
    return "clip_csv"


def _columns(path: Path) -> list[str]:
    """Column names of a CSV or Parquet table, without reading its rows."""
    if path.suffix.lower() in (".parquet", ".pq"):
        import pyarrow.parquet as pq

        return list(pq.read_schema(path).names)
    if not path.is_file():
        raise LabelError(str(path), None, "no such file")
    with path.open(encoding="utf-8-sig", errors="replace") as handle:
        header = handle.readline()
    delimiter = "\t" if "\t" in header and "," not in header else ","
    return [c.strip().strip('"') for c in header.strip().split(delimiter)]


def read_labels(
    paths: str | os.PathLike[str] | Iterable[str | os.PathLike[str]],
    format: str = "auto",
    *,
    fp_labels: str | os.PathLike[str] | None = None,
    file_column: str | None = None,
    label_column: str | None = None,
    secondary_column: str | None = None,
) -> LabelTable:
    """Read label file(s) of one format into a :class:`LabelTable`.

    ``format="auto"`` detects it from the first path. ``fp_labels`` is RFCx's ``train_fp.csv``;
    ``file_column``, ``label_column`` and ``secondary_column`` name the columns of a ``clip_csv`` whose
    names are not the usual ones. Raises :class:`LabelError` naming the file and line of a bad row.
    """
    paths = [Path(paths)] if isinstance(paths, (str, os.PathLike)) else [Path(p) for p in paths]
    if not paths:
        raise LabelError(None, None, "no label file given")
    if format == "auto":
        format = detect_format(paths[0])
    if format not in LABEL_FORMATS:
        raise LabelError(
            None, None, f"unknown label format {format!r}{did_you_mean(format, LABEL_FORMATS)}; "
            f"known: {', '.join(LABEL_FORMATS)}"
        )  # fmt: skip
    if format == "raven":
        return _read_raven_tables(paths)
    if format == "rfcx":
        return LabelTable("events", read_rfcx(paths[0], fp_labels), format)
    if format == "folders":
        return LabelTable("clips", _concat([read_class_folders(p) for p in paths]), format)
    if format == "table":
        if "label" in _columns(paths[0]):  # an event table has one label per box
            return LabelTable("events", make_events(_concat([read_events(p) for p in paths])), format)
        return LabelTable("clips", _concat([read_clip_labels_table(p) for p in paths]), format)
    tables = [
        read_clip_labels(
            p, file_column=file_column, label_column=label_column, secondary_column=secondary_column
        )
        for p in paths
    ]
    return LabelTable("clips", _concat(tables), format)


def _concat(tables: list[pd.DataFrame]) -> pd.DataFrame:
    return tables[0] if len(tables) == 1 else pd.concat(tables, ignore_index=True)


def _read_raven_tables(paths: list[Path]) -> LabelTable:
    files: list[Path] = []
    for path in paths:
        files += sorted(path.glob("*.txt")) if path.is_dir() else [path]
    tables, recordings = [], []
    for file in files:
        events = read_raven(file)
        # A table with a header and no rows: its recording was checked and holds nothing.
        recordings += list(events["recording_id"]) if len(events) else [raven_recording_id(file)]
        tables.append(events)
    table = make_events(pd.concat(tables, ignore_index=True)) if tables else make_events([])
    return LabelTable("events", table, "raven", tuple(dict.fromkeys(recordings)))
