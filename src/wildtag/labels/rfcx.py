"""The Rainforest Connection (Kaggle 2021) box CSVs: ``train_tp.csv`` (present) and ``train_fp.csv`` (absent).

Columns: ``recording_id, species_id, songtype_id, t_min, f_min, t_max, f_max``. Species that were annotated
with more than one song type become one class per song type (``"16_1"``, ``"16_4"``), the others keep the
species number as label (``"3"``), as the competition's winners did.

    >>> events = read_rfcx("train_tp.csv", "train_fp.csv")  # doctest: +SKIP
"""

from __future__ import annotations

import os

import numpy as np
import pandas as pd

from wildtag.labels._text import RawTable, infer_column, parse_floats, read_delimited
from wildtag.labels.errors import LabelError
from wildtag.labels.events import make_events

RFCX_COLUMNS = ("recording_id", "species_id", "songtype_id", "t_min", "f_min", "t_max", "f_max")


def read_rfcx(
    tp_csv: str | os.PathLike[str] | None = None,
    fp_csv: str | os.PathLike[str] | None = None,
    *,
    split_songtypes: bool = True,
) -> pd.DataFrame:
    """Events from the true- and/or false-positive CSV; ``species_id``/``songtype_id`` stay as columns.

    With ``split_songtypes``, a species seen with several song types (over both files) is labelled
    ``"<species>_<songtype>"``, else ``"<species>"``.
    """
    if tp_csv is None and fp_csv is None:
        raise LabelError(None, None, "read_rfcx needs tp_csv, fp_csv or both")
    tables = [
        (read_delimited(p, ","), present) for p, present in ((tp_csv, True), (fp_csv, False)) if p is not None
    ]
    parts = [_read_part(table, present) for table, present in tables]
    frame = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()
    species = frame["species_id"].astype(str)
    songtype = frame["songtype_id"].astype(str)
    several = species.map(songtype.groupby(species).nunique()).to_numpy() > 1
    frame["label"] = np.where(several & split_songtypes, species + "_" + songtype, species)
    order = [
        "recording_id",
        "t0_s",
        "t1_s",
        "f0_hz",
        "f1_hz",
        "label",
        "present",
        "source",
        "species_id",
        "songtype_id",
    ]
    extras = [c for c in frame.columns if c not in order]
    return make_events(frame[order + extras])


def _read_part(table: RawTable, present: bool) -> pd.DataFrame:
    for name in RFCX_COLUMNS:
        if name not in table.columns:
            raise LabelError(
                table.path,
                1,
                f"missing column {name!r}; found {table.columns}; expected {list(RFCX_COLUMNS)}",
            )
    sources = table.sources()
    frame = pd.DataFrame(
        {
            "recording_id": pd.Series(table.column("recording_id"), dtype="str"),
            "t0_s": parse_floats(table.column("t_min"), sources, "t_min", required=True),
            "t1_s": parse_floats(table.column("t_max"), sources, "t_max", required=True),
            "f0_hz": parse_floats(table.column("f_min"), sources, "f_min", required=True),
            "f1_hz": parse_floats(table.column("f_max"), sources, "f_max", required=True),
            "present": present,
            "source": sources,
        },
        index=pd.RangeIndex(len(sources)),
    )
    for name in ("species_id", "songtype_id"):
        values = table.column(name)
        for i, value in enumerate(values):
            if not value.strip():
                raise LabelError(table.path, table.lines[i], f"{name!r} is empty")
        frame[name] = pd.Series([v.strip() for v in values], dtype="str")
        column = infer_column(list(frame[name]))
        if column.dtype == np.int64:
            frame[name] = column
    for name in table.columns:
        if name not in RFCX_COLUMNS:
            frame[name] = infer_column(table.column(name))
    return frame
