"""Raven selection tables (``*.selections.txt``): read them into Event tables and write them back.

A selection table is tab-separated text, one row per selection and view::

    Selection  View           Channel  Begin Time (s)  End Time (s)  Low Freq (Hz)  High Freq (Hz)  Species
    1          Waveform 1     1        1.8976          4.1106        1326.3         3266.5          WOTH
    1          Spectrogram 1  1        1.8976          4.1106        1326.3         3266.5          WOTH

The reader keeps one row per selection (the spectrogram's), finds the label column among common names,
reads ``Begin File``/``File Offset (s)`` when a table spans several files, and keeps the columns it does
not consume (``Call Quality``, ``Delta Time (s)``, ...) as extra columns, typed (int, float, bool or text).
``Selection`` and ``View`` are Raven's bookkeeping and are dropped; ``Channel`` is kept only when some box
is on a channel other than 1. In a table spanning several files, times become relative to each box's
own file (its ``File Offset (s)``).

    >>> events = read_raven("rec01.Table.1.selections.txt")           # doctest: +SKIP
    >>> write_raven(events, "out/rec01.Table.1.selections.txt")       # doctest: +SKIP
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping
from pathlib import Path

import numpy as np
import pandas as pd

from wildtag.fileio import atomic_path
from wildtag.labels._text import (
    RawTable,
    infer_column,
    parse_floats,
    parse_present,
    read_delimited,
    text_cell,
)
from wildtag.labels.errors import LabelError
from wildtag.labels.events import EVENT_COLUMNS, make_events

LABEL_COLUMNS = (
    "Species",
    "Annotation",
    "Label",
    "Labels",
    "Class",
    "Sound Type",
    "Species Code",
    "Call Type",
    "Category",
    "Tag",
    "Code",
    "ID",
)
"""Column names searched, in this order (ignoring case), for the label when ``label_column`` is not given."""
PRESENT_COLUMNS = ("Present", "Presence")
_TABLE_SUFFIX = re.compile(r"(\.Table\.\d+)?\.selections\.txt$|\.txt$", re.IGNORECASE)


def raven_recording_id(path: str | os.PathLike[str]) -> str:
    """The recording a table belongs to, from its name: ``rec01.Table.1.selections.txt`` -> ``rec01``."""
    name = Path(path).name
    return _TABLE_SUFFIX.sub("", name) or name


def read_raven(
    path: str | os.PathLike[str],
    *,
    label_column: str | None = None,
    present_column: str | None = None,
    recording_id: str | None = None,
    default_label: str | None = None,
) -> pd.DataFrame:
    """An Event table from one Raven selection table.

    ``label_column`` defaults to the first of :data:`LABEL_COLUMNS` present; ``default_label`` names boxes
    when there is no label column, and fills empty label cells (otherwise left as ``""``, unlabeled). The
    ``present_column`` (default ``Present``/``Presence`` if there) holds 1/0, yes/no, TP/FP, ...; without
    one every box is present. ``recording_id`` defaults to each row's ``Begin File`` (the audio file's
    name as Raven wrote it), else to the table's file name without ``.Table.N.selections.txt`` (an id
    without its suffix, which :class:`~wildtag.labels.RecordingIds` resolves when it is unambiguous).
    Labels lose outer spaces. A
    ``Weight`` column (as :func:`write_raven` writes for soft labels) gives the weights.
    Raises :class:`LabelError` naming the file and line of the first malformed row.
    """
    table = read_delimited(path, "\t", quoted=False)
    begin = table.require("Begin Time (s)", "time")
    end = table.require("End Time (s)", "time")
    label = _label_column(table, label_column, default_label)
    present = table.require(present_column, "presence") if present_column else table.find(PRESENT_COLUMNS)
    consumed = {
        begin,
        end,
        label,
        present,
        table.find(["Weight"]),
        table.find(["View"]),
        table.find(["Selection"]),
    }
    keep = _one_row_per_selection(table, begin, end)
    sub = RawTable(table.path, table.columns, [table.rows[i] for i in keep], [table.lines[i] for i in keep])
    sources = sub.sources()

    def floats(name: str | None, required: bool) -> np.ndarray:
        if name is None:
            return np.full(len(sub.rows), np.nan)
        return parse_floats(sub.column(name), sources, name, required=required)

    ids, t0, t1, used = _recordings_and_times(
        sub, recording_id, floats(begin, True), floats(end, True), floats
    )
    low, high = sub.find(["Low Freq (Hz)"]), sub.find(["High Freq (Hz)"])
    labels = [v.strip() or (default_label or "") for v in sub.column(label)] if label else default_label
    weight = sub.find(["Weight"])
    frame = {
        "recording_id": ids,
        "t0_s": t0,
        "t1_s": t1,
        "f0_hz": floats(low, False),
        "f1_hz": floats(high, False),
        "label": labels,
        "present": parse_present(sub.column(present), sources, present) if present else True,
        "weight": floats(weight, True) if weight else 1.0,
        "source": sources,
        **_extra_columns(sub, consumed | used | {low, high}),
    }
    return make_events(pd.DataFrame(frame, index=pd.RangeIndex(len(sub.rows))), origin=table.path)


def _extra_columns(table: RawTable, consumed: set[str | None]) -> dict[str, pd.Series]:
    """Columns the event schema has no place for, typed; a Channel column that is all 1 is left out."""
    extras = {}
    for name in table.columns:
        if name in consumed:
            continue
        if name in EVENT_COLUMNS:
            raise LabelError(
                table.path, 1, f"column {name!r} clashes with the event table's own {name!r}; rename it"
            )
        values = table.column(name)
        if name == table.find(["Channel"]) and set(values) <= {"1", ""}:
            continue  # the first (or only) channel: nothing to keep
        extras[name] = infer_column(values)
    return extras


def _label_column(table: RawTable, label_column: str | None, default_label: str | None) -> str | None:
    if label_column is not None:
        return table.require(label_column, "label")
    found = table.find(LABEL_COLUMNS)
    if found is None and default_label is None:
        raise LabelError(
            table.path,
            1,
            f"no label column: looked for {list(LABEL_COLUMNS)} and found columns {table.columns}; "
            "pass label_column= to name it, or default_label= to give every box one label",
        )
    return found


def _one_row_per_selection(table: RawTable, begin: str, end: str) -> list[int]:
    """Indices of the rows to keep: Raven lists each selection once per view (Waveform, Spectrogram)."""
    view, selection = table.find(["View"]), table.find(["Selection"])
    everything = list(range(len(table.rows)))
    if view is None:
        return everything
    views = table.column(view)
    if selection is None:
        if len(set(views)) > 1:
            raise LabelError(table.path, 1, "rows of several views but no 'Selection' column to pair them")
        return everything
    channel = table.find(["Channel"])
    keys = list(
        zip(table.column(selection), table.column(channel) if channel else [""] * len(views), strict=True)
    )
    times = list(zip(table.column(begin), table.column(end), strict=True))
    chosen: dict[tuple[str, str], int] = {}
    for i, key in enumerate(keys):
        j = chosen.setdefault(key, i)
        if j == i:
            continue
        line_i, line_j = table.lines[i], table.lines[j]
        if views[i] == views[j]:
            raise LabelError(
                table.path,
                line_i,
                f"selection {key[0]} appears twice in view {views[i]!r} (lines {line_j} and {line_i}); "
                "give each selection its own number",
            )
        if times[i] != times[j] and _as_floats(times[i]) != _as_floats(times[j]):
            raise LabelError(
                table.path,
                line_i,
                f"selection {key[0]} has different times in view {views[j]!r} (line {line_j}) and "
                f"{views[i]!r}; give each selection its own number",
            )
        if views[i].lower().startswith("spectrogram") and not views[j].lower().startswith("spectrogram"):
            chosen[key] = i
    return sorted(chosen.values())


def _as_floats(pair: tuple[str, str]) -> tuple[float, float] | tuple[str, str]:
    try:
        return float(pair[0]), float(pair[1])
    except ValueError:
        return pair


def _recordings_and_times(
    table: RawTable,
    recording_id: str | None,
    t0: np.ndarray,
    t1: np.ndarray,
    floats: Callable[[str | None, bool], np.ndarray],
) -> tuple[list[str], np.ndarray, np.ndarray, set[str | None]]:
    """Recording ids, file-relative times, and the columns used for them (``Begin File``, ``File Offset``)."""
    file_column = table.find(["Begin File"])
    files = table.column(file_column) if file_column else None
    if file_column is None and table.find(["Begin Path"]):
        file_column = table.find(["Begin Path"])
        files = [Path(v.replace("\\", "/")).name for v in table.column(file_column)]
    used = {file_column}
    if files is not None:
        for i, name in enumerate(files):
            if not name.strip():
                raise LabelError(table.path, table.lines[i], f"{file_column!r} is empty")
    several = files is not None and len(set(files)) > 1
    if recording_id is not None:
        if several:
            raise LabelError(
                table.path,
                None,
                f"the table spans {len(set(files))} files ({file_column!r}), so one "
                "recording_id cannot name them all; leave recording_id unset",
            )
        ids = [recording_id] * len(table.rows)
    elif files is not None:
        ids = [name.strip() for name in files]
    else:
        ids = [raven_recording_id(table.path)] * len(table.rows)
    offset_column = table.find(["File Offset (s)"])
    if offset_column is not None:
        used.add(offset_column)
        offset = floats(offset_column, True)
        moved = t0 != offset  # exact when Begin Time already is file-relative, so round trips are lossless
        t1 = np.where(moved, offset + (t1 - t0), t1)
        t0 = np.where(moved, offset, t0)
    elif several:
        raise LabelError(
            table.path,
            1,
            f"the table spans several files ({file_column!r}) but has no 'File Offset (s)' "
            "column to place each selection in its file; add that measurement in Raven and export again",
        )
    return ids, t0, t1, used


def write_raven(
    events: pd.DataFrame,
    path: str | os.PathLike[str],
    *,
    label_column: str = "Species",
    sequence_offsets: Mapping[str, float] | None = None,
) -> Path:
    """Write events as a Raven selection table (one Spectrogram row per box), atomically.

    Every row also gets ``Begin File`` (its recording id) and ``File Offset (s)``, so :func:`read_raven`
    gives back the same recordings, times, labels, presence, weights and extra columns (not ``source``,
    which names the file read). No band is written as empty frequency cells.

    ``sequence_offsets`` (``{recording_id: seconds}``, where each file starts in a sequence of files) writes
    a table over that sequence, as Raven Pro opens it with the files: ``Begin Time (s)`` and ``End Time (s)``
    count from the start of the first file, ``File Offset (s)`` from the start of each box's own file.
    """
    events = make_events(events)
    shift = events["recording_id"].map(sequence_offsets).to_numpy(np.float64) if sequence_offsets else 0.0
    channel = events["Channel"] if "Channel" in events.columns else pd.Series(1, index=events.index)
    extras = [c for c in events.columns if c not in EVENT_COLUMNS and c != "Channel"]
    header = [
        "Selection",
        "View",
        "Channel",
        "Begin Time (s)",
        "End Time (s)",
        "Low Freq (Hz)",
        "High Freq (Hz)",
        label_column,
    ]
    cells: list[list[str]] = [
        [str(i + 1) for i in range(len(events))],
        ["Spectrogram 1"] * len(events),
        [text_cell(v) for v in channel],
        *([text_cell(v) for v in events[c] + shift] for c in ("t0_s", "t1_s")),
        *([text_cell(v) for v in events[c]] for c in ("f0_hz", "f1_hz")),
        list(events["label"]),
    ]
    if not events["present"].all():
        header.append("Present")
        cells.append(["1" if v else "0" for v in events["present"]])
    if (events["weight"] != 1.0).any():
        header.append("Weight")
        cells.append([text_cell(v) for v in events["weight"]])
    header += extras + ["Begin File", "File Offset (s)"]
    cells += [[text_cell(v) for v in events[c]] for c in extras]
    cells += [list(events["recording_id"]), [text_cell(v) for v in events["t0_s"]]]
    _check_writable(header, cells, events["source"].tolist())
    lines = ["\t".join(header)] + ["\t".join(row) for row in zip(*cells, strict=True)]
    path = Path(path)
    with atomic_path(path) as tmp:
        tmp.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _check_writable(header: list[str], cells: list[list[str]], sources: list[str]) -> None:
    seen: set[str] = set()
    for name in header:
        if name.lower() in seen:
            raise LabelError(None, None, f"column {name!r} would appear twice in the Raven table; rename it")
        seen.add(name.lower())
    for name, column in zip(header, cells, strict=True):
        for i, value in enumerate(column):
            if "\t" in value or "\n" in value or "\r" in value:
                raise LabelError.at(
                    sources[i],
                    f"{name!r} {value!r} holds a tab or line break, which a Raven table cannot hold",
                )
