"""The ClipLabels table: weak labels for a whole recording or a span of it.

One row per clip::

    recording_id         t0_s  t1_s  labels              secondary_labels  source
    XC109605.ogg         NaN   NaN   ['acafly']          ['amecro']        train_metadata.csv:2
    soundscape_10534     0.0   5.0   ['rucwar']          []                soundscape_labels.csv:7

``labels`` (primary) and ``secondary_labels`` hold Python lists of class names (an empty list is a clip with
no class, e.g. background). ``t0_s``/``t1_s`` NaN means the whole recording. Extra columns (a fold, a
``split``, metadata) are kept after the fixed ones.

    >>> clips = make_clip_labels([{"recording_id": "a.wav", "labels": ["wren", "robin"]}])
    >>> clips.loc[0, "labels"]
    ['wren', 'robin']
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import numpy as np
import pandas as pd

from wildtag.labels.classmap import ClassMap
from wildtag.labels.errors import LabelError
from wildtag.labels.events import (
    END_TOLERANCE_S,
    as_frame,
    first_problems,
    float_column,
    missing_columns_error,
    raise_first,
    row_sources,
    text_column,
)
from wildtag.labels.names import label_list

CLIP_COLUMNS = ("recording_id", "t0_s", "t1_s", "labels", "secondary_labels", "source")
LIST_COLUMNS = ("labels", "secondary_labels")
REQUIRED_CLIP_COLUMNS = ("recording_id", "labels")


def make_clip_labels(
    data: pd.DataFrame | Iterable[Mapping[str, Any]], *, origin: str | os.PathLike[str] | None = None
) -> pd.DataFrame:
    """A ClipLabels table from a DataFrame or dicts: fixed columns, label lists normalised, rows validated.

    Required: ``recording_id`` and ``labels``. A label cell may be a list (tuple, array) of names, one
    name as a string, or empty/NaN (no class). ``origin`` names the source file, as in ``make_events``.
    """
    frame = as_frame(data)
    origin = None if origin is None else os.fspath(origin)
    if frame.empty and len(frame.columns) == 0:
        frame = pd.DataFrame(columns=list(REQUIRED_CLIP_COLUMNS))
    missing_columns_error(
        frame, REQUIRED_CLIP_COLUMNS, origin, "A clip-label table needs recording_id and labels."
    )
    sources = row_sources(frame, origin)
    columns: dict[str, Any] = {
        "recording_id": text_column(frame["recording_id"]),
        "t0_s": float_column(frame, "t0_s", sources, default=None),
        "t1_s": float_column(frame, "t1_s", sources, default=None),
    }
    for name in LIST_COLUMNS:
        cells = frame[name] if name in frame.columns else [None] * len(frame)
        lists = [
            label_list(cell, source=source, column=name) for cell, source in zip(cells, sources, strict=True)
        ]
        columns[name] = pd.Series(lists, dtype=object)
    columns["source"] = pd.Series(sources, dtype="str")
    clips = pd.DataFrame(columns)
    for name in frame.columns:
        if name not in CLIP_COLUMNS:
            clips[name] = frame[name]
    validate_clip_labels(clips)
    return clips


def validate_clip_labels(
    clips: pd.DataFrame,
    *,
    durations_s: Mapping[str, float] | None = None,
    class_map: ClassMap | None = None,
) -> None:
    """Raise :class:`LabelError` for the first unusable row, naming its ``source``.

    Checks: a recording id; ``t0_s``/``t1_s`` both NaN (whole recording) or finite with 0 <= t0_s < t1_s;
    label lists of non-empty names; and, when given, primary labels in ``class_map`` (secondary labels
    outside it are allowed: external datasets name species a model does not predict), the recording in
    ``durations_s`` and the span ending by its end.
    """
    raise_first(_clip_checks(clips, durations_s, class_map), clips["source"].to_numpy(object))


def clip_problems(
    clips: pd.DataFrame,
    *,
    durations_s: Mapping[str, float] | None = None,
    class_map: ClassMap | None = None,
) -> dict[int, str]:
    """What :func:`validate_clip_labels` checks, for every row: ``{row position: first reason}``."""
    return first_problems(_clip_checks(clips, durations_s, class_map), len(clips))


def _clip_checks(
    clips: pd.DataFrame, durations_s: Mapping[str, float] | None, class_map: ClassMap | None
) -> list[tuple[np.ndarray, Callable[[int], str]]]:
    missing_columns_error(clips, CLIP_COLUMNS, None, "Build clip-label tables with make_clip_labels().")
    t0 = clips["t0_s"].to_numpy(np.float64, na_value=np.nan)
    t1 = clips["t1_s"].to_numpy(np.float64, na_value=np.nan)
    ids = clips["recording_id"].to_numpy(object)
    lists = {name: clips[name].to_numpy(object) for name in LIST_COLUMNS}
    whole = np.isnan(t0) & np.isnan(t1)
    checks = [
        (
            np.array([not isinstance(r, str) or not r for r in ids], dtype=bool),
            lambda i: "recording_id is empty; every clip needs its recording",
        ),
        (
            np.isnan(t0) != np.isnan(t1),
            lambda i: f"t0_s is {t0[i]} and t1_s is {t1[i]}; give both, or neither for the whole recording",
        ),
        (
            ~whole & (np.isinf(t0) | np.isinf(t1)),
            lambda i: f"times must be finite (t0_s {t0[i]}, t1_s {t1[i]})",
        ),
        (t0 < 0, lambda i: f"t0_s is {t0[i]}; times are seconds from the recording's start, never negative"),
        (t1 <= t0, lambda i: f"t1_s ({t1[i]}) must be greater than t0_s ({t0[i]})"),
    ]
    for name, cells in lists.items():
        bad = np.array([not _is_name_list(cell) for cell in cells], dtype=bool)
        checks.append((bad, lambda i, n=name, c=cells: f"{n!r} is {c[i]!r}; expected a list of class names"))
    if class_map is not None:
        primary = lists["labels"]
        unknown = np.array(
            [_is_name_list(c) and any(x not in class_map for x in c) for c in primary], dtype=bool
        )
        checks.append((unknown, lambda i: _unknown_reason(primary[i], class_map)))
    if durations_s is not None:
        duration = clips["recording_id"].map(dict(durations_s)).to_numpy(np.float64, na_value=np.nan)
        checks.append(
            (
                np.isnan(duration),
                lambda i: (
                    f"missing recording {ids[i]!r}: no duration is known for it; "
                    "add its audio or drop its rows"
                ),
            )
        )
        checks.append(
            (
                t1 > duration + END_TOLERANCE_S,
                lambda i: (
                    f"the clip ends at t1_s={t1[i]}, past the end of recording {ids[i]!r} ({duration[i]} s)"
                ),
            )
        )
    return checks


def _is_name_list(cell: Any) -> bool:
    return isinstance(cell, list) and all(isinstance(x, str) and x for x in cell)


def _unknown_reason(names: list[str], class_map: ClassMap) -> str:
    for name in names:
        if name not in class_map:
            try:
                class_map.index(name)
            except LabelError as error:
                return f"{error.reason}; fix the label or add the class"
    return ""
