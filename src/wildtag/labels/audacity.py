"""Audacity label tracks: ``t0<TAB>t1<TAB>label`` per box, and a ``\\<TAB>f0<TAB>f1`` line for its band.

Import the file in Audacity with *File > Import > Labels* onto the recording it belongs to.

    >>> write_audacity(events[events.recording_id == "rec01"], "rec01.labels.txt")  # doctest: +SKIP
"""

from __future__ import annotations

import math
import os
from pathlib import Path

import pandas as pd

from wildtag.fileio import atomic_path
from wildtag.labels.errors import LabelError
from wildtag.labels.events import make_events

ABSENT_SUFFIX = " (absent)"
"""Appended to the label of a box marked absent, since a label track has no other place for it."""


def write_audacity(events: pd.DataFrame, path: str | os.PathLike[str]) -> Path:
    """Write the events of one recording as an Audacity label track, atomically.

    Raises :class:`LabelError` when ``events`` hold several recordings: a label track belongs to one.
    """
    events = make_events(events)
    recordings = events["recording_id"].unique()
    if len(recordings) > 1:
        raise LabelError(
            os.fspath(path),
            None,
            f"events of {len(recordings)} recordings; an Audacity label track holds one, so write one "
            "file per recording (e.g. for rid, part in events.groupby('recording_id'))",
        )
    lines = []
    for row in events.itertuples(index=False):
        label = row.label + ("" if row.present else ABSENT_SUFFIX)
        if "\t" in label or "\n" in label or "\r" in label:
            raise LabelError.at(row.source, f"label {row.label!r} holds a tab or line break")
        lines.append(f"{float(row.t0_s)!r}\t{float(row.t1_s)!r}\t{label}")
        if not math.isnan(row.f0_hz):
            lines.append(f"\\\t{float(row.f0_hz)!r}\t{float(row.f1_hz)!r}")
    path = Path(path)
    with atomic_path(path) as tmp:
        tmp.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    return path
