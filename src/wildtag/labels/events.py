"""The Event table: time (and optionally frequency) boxes on recordings, each marked present or absent.

One row per box::

    recording_id  t0_s  t1_s  f0_hz   f1_hz   label  present  weight  source
    rec01         1.90  4.11  1326.3  3266.5  WOTH   True     1.0     rec01.Table.1.selections.txt:2

``present`` False is a confirmed absence (an annotated false positive), ``f0_hz``/``f1_hz`` NaN means the
box spans every frequency, ``weight`` in [0, 1] softens a label, ``source`` is where the row was read
(``"path:line"``), so any error found later can name the file and line. Columns after ``source`` are
extra annotations (e.g. Raven's ``Call Quality``) and travel with the rows.

    >>> events = make_events([{"recording_id": "a", "t0_s": 0.5, "t1_s": 1.0, "label": "wren"}])
    >>> validate_events(events, durations_s={"a": 10.0}, sample_rates={"a": 32000})
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import numpy as np
import pandas as pd

from wildtag.labels._text import parse_floats, parse_present
from wildtag.labels.classmap import ClassMap
from wildtag.labels.errors import LabelError

EVENT_COLUMNS = ("recording_id", "t0_s", "t1_s", "f0_hz", "f1_hz", "label", "present", "weight", "source")
EVENT_DTYPES = {
    "recording_id": "str",
    "t0_s": "float64",
    "t1_s": "float64",
    "f0_hz": "float64",
    "f1_hz": "float64",
    "label": "str",
    "present": "bool",
    "weight": "float64",
    "source": "str",
}
REQUIRED_EVENT_COLUMNS = ("recording_id", "t0_s", "t1_s", "label")
END_TOLERANCE_S = 1e-3
"""How far (s) a box may run past the recording's end: Raven rounds times, decoders disagree on length."""


def as_frame(data: pd.DataFrame | Iterable[Mapping[str, Any]]) -> pd.DataFrame:
    """A copy of ``data`` as a DataFrame with a fresh 0..n-1 index."""
    frame = data.copy() if isinstance(data, pd.DataFrame) else pd.DataFrame(list(data))
    return frame.reset_index(drop=True)


def row_sources(frame: pd.DataFrame, origin: str | None) -> list[str]:
    """Each row's provenance: its ``source`` cell, else ``origin:line`` (a header, then one line per row)."""
    if "source" in frame.columns:
        return [
            "" if v is None or v is pd.NA or (isinstance(v, float) and np.isnan(v)) else str(v)
            for v in frame["source"]
        ]
    if origin is not None:
        return [f"{origin}:{i + 2}" for i in range(len(frame))]
    return [""] * len(frame)


def text_column(series: pd.Series) -> pd.Series:
    """A column as the ``str`` dtype with missing cells as empty strings."""
    return series.astype(object).where(series.notna(), "").astype(str).astype("str")


def float_column(frame: pd.DataFrame, name: str, sources: list[str], *, default: float | None) -> np.ndarray:
    """Column ``name`` as float64 (``default`` when absent); non-numeric cells raise naming their row."""
    if name not in frame.columns:
        return np.full(len(frame), np.nan if default is None else default, dtype=np.float64)
    series = frame[name]
    if pd.api.types.is_numeric_dtype(series.dtype) and not pd.api.types.is_bool_dtype(series.dtype):
        return series.to_numpy(np.float64, na_value=np.nan)
    return parse_floats(series.to_numpy(object), sources, name, required=False)


def missing_columns_error(
    frame: pd.DataFrame, required: Iterable[str], origin: str | None, what: str
) -> None:
    missing = [c for c in required if c not in frame.columns]
    if missing:
        raise LabelError(
            origin,
            1 if origin is not None else None,
            f"missing column(s) {missing}; found {list(frame.columns)}. {what}",
        )


def make_events(
    data: pd.DataFrame | Iterable[Mapping[str, Any]], *, origin: str | os.PathLike[str] | None = None
) -> pd.DataFrame:
    """An Event table from a DataFrame or dicts: fixed columns and dtypes, defaults filled, rows validated.

    Required: ``recording_id``, ``t0_s``, ``t1_s``, ``label``. Defaults: no band (NaN), present True,
    weight 1.0, also for missing cells (None, NaN, ""). ``origin`` names the file the rows came from: rows
    without a ``source`` get ``origin:line`` and errors name it. Extra columns are kept after the fixed
    ones. Raises :class:`LabelError`.
    """
    frame = as_frame(data)
    origin = None if origin is None else os.fspath(origin)
    if frame.empty and len(frame.columns) == 0:
        frame = pd.DataFrame(columns=list(REQUIRED_EVENT_COLUMNS))
    missing_columns_error(
        frame,
        REQUIRED_EVENT_COLUMNS,
        origin,
        "An event table needs " + ", ".join(REQUIRED_EVENT_COLUMNS) + ".",
    )
    sources = row_sources(frame, origin)
    if "present" not in frame.columns:
        present = np.ones(len(frame), dtype=bool)
    elif pd.api.types.is_bool_dtype(frame["present"].dtype):
        present = frame["present"].to_numpy(bool)
    else:
        cells = frame["present"].to_numpy(object)
        missing = pd.isna(frame["present"]).to_numpy(bool) | (cells == "")
        present = parse_present(np.where(missing, True, cells), sources, "present")
    columns = {
        "recording_id": text_column(frame["recording_id"]),
        "t0_s": float_column(frame, "t0_s", sources, default=None),
        "t1_s": float_column(frame, "t1_s", sources, default=None),
        "f0_hz": float_column(frame, "f0_hz", sources, default=None),
        "f1_hz": float_column(frame, "f1_hz", sources, default=None),
        "label": text_column(frame["label"]),
        "present": present,
        "weight": np.nan_to_num(float_column(frame, "weight", sources, default=1.0), nan=1.0),
        "source": pd.Series(sources, dtype="str"),
    }
    events = pd.DataFrame(columns)
    for name in frame.columns:
        if name not in EVENT_COLUMNS:
            events[name] = frame[name]
    events = events.astype(EVENT_DTYPES)
    validate_events(events)
    return events


def validate_events(
    events: pd.DataFrame,
    *,
    durations_s: Mapping[str, float] | None = None,
    sample_rates: Mapping[str, int] | None = None,
    class_map: ClassMap | None = None,
) -> None:
    """Raise :class:`LabelError` for the first row that is not a usable box, naming its ``source``.

    Checks: finite, non-negative times with t1_s > t0_s; both or neither of f0_hz/f1_hz, 0 <= f0_hz < f1_hz;
    weight in [0, 1]; and, when given, the label is in ``class_map``, the recording is in ``durations_s``
    (and ``sample_rates``), the box ends by the recording's end (+1 ms) and below its Nyquist frequency.
    """
    raise_first(_event_checks(events, durations_s, sample_rates, class_map), events["source"].to_numpy(object))


def event_problems(
    events: pd.DataFrame,
    *,
    durations_s: Mapping[str, float] | None = None,
    sample_rates: Mapping[str, int] | None = None,
    class_map: ClassMap | None = None,
) -> dict[int, str]:
    """What :func:`validate_events` checks, for every row: ``{row position: first reason}`` of each bad row."""
    return first_problems(_event_checks(events, durations_s, sample_rates, class_map), len(events))


def _event_checks(
    events: pd.DataFrame,
    durations_s: Mapping[str, float] | None,
    sample_rates: Mapping[str, int] | None,
    class_map: ClassMap | None,
) -> list[tuple[np.ndarray, Callable[[int], str]]]:
    missing_columns_error(events, EVENT_COLUMNS, None, "Build event tables with make_events().")
    if not pd.api.types.is_bool_dtype(events["present"].dtype):
        raise LabelError(
            None, None, "column 'present' must hold True/False; build event tables with make_events()"
        )
    try:
        t0, t1, f0, f1, weight = (
            events[c].to_numpy(np.float64, na_value=np.nan)
            for c in ("t0_s", "t1_s", "f0_hz", "f1_hz", "weight")
        )
    except (TypeError, ValueError) as error:
        raise LabelError(
            None,
            None,
            f"times, frequencies and weights must be numbers ({error}); "
            "build event tables with make_events()",
        ) from None
    ids = events["recording_id"].to_numpy(object)
    labels = events["label"].to_numpy(object)
    checks: list[tuple[np.ndarray, Callable[[int], str]]] = [
        (
            np.array([not isinstance(r, str) or not r for r in ids], dtype=bool),
            lambda i: "recording_id is empty; every box needs the recording it is on",
        ),
        (~np.isfinite(t0), lambda i: f"t0_s is {t0[i]}; times must be finite seconds"),
        (~np.isfinite(t1), lambda i: f"t1_s is {t1[i]}; times must be finite seconds"),
        (t0 < 0, lambda i: f"t0_s is {t0[i]}; times are seconds from the recording's start, never negative"),
        (t1 <= t0, lambda i: f"t1_s ({t1[i]}) must be greater than t0_s ({t0[i]}); fix the box's times"),
        (
            np.isnan(f0) != np.isnan(f1),
            lambda i: f"f0_hz is {f0[i]} and f1_hz is {f1[i]}; give both, or neither for a full-band box",
        ),
        (np.isinf(f0) | np.isinf(f1), lambda i: f"frequencies must be finite (f0_hz {f0[i]}, f1_hz {f1[i]})"),
        (f0 < 0, lambda i: f"f0_hz is {f0[i]}; frequencies cannot be negative"),
        (f0 >= f1, lambda i: f"f1_hz ({f1[i]}) must be greater than f0_hz ({f0[i]}); fix the box's band"),
        (~((weight >= 0) & (weight <= 1)), lambda i: f"weight is {weight[i]}; weights must lie in [0, 1]"),
    ]
    if class_map is not None:
        unknown = np.array([label not in class_map for label in labels], dtype=bool)
        checks.append((unknown, lambda i: _unknown_label_reason(labels[i], class_map)))
    if durations_s is not None:
        duration = events["recording_id"].map(dict(durations_s)).to_numpy(np.float64, na_value=np.nan)
        checks.append((np.isnan(duration), lambda i: _missing_recording_reason(ids[i], "duration")))
        checks.append(
            (
                t1 > duration + END_TOLERANCE_S,
                lambda i: (
                    f"the box ends at t1_s={t1[i]}, past the end of recording {ids[i]!r} "
                    f"({duration[i]} s); fix the time or clip it to the recording"
                ),
            )
        )
    if sample_rates is not None:
        nyquist = events["recording_id"].map(dict(sample_rates)).to_numpy(np.float64, na_value=np.nan) / 2
        checks.append((np.isnan(nyquist), lambda i: _missing_recording_reason(ids[i], "sample rate")))
        checks.append(
            (
                f1 > nyquist * (1 + 1e-9),
                lambda i: (
                    f"f1_hz ({f1[i]}) is above the Nyquist frequency {nyquist[i]} Hz of recording "
                    f"{ids[i]!r} (sample rate {2 * nyquist[i]:g}); lower f1_hz or check the recording"
                ),
            )
        )
    return checks


def first_problems(checks: list[tuple[np.ndarray, Callable[[int], str]]], n_rows: int) -> dict[int, str]:
    """``{row: reason}`` of every row failing a check (the first listed check that it fails)."""
    problems: dict[int, str] = {}
    for mask, reason in checks:
        for i in np.flatnonzero(np.asarray(mask, dtype=bool)[:n_rows]):
            problems.setdefault(int(i), reason(int(i)))
    return dict(sorted(problems.items()))


def raise_first(checks: list[tuple[np.ndarray, Callable[[int], str]]], sources: np.ndarray) -> None:
    """Raise for the earliest row failing any check (the first listed check wins a tie)."""
    first, reason_of = len(sources), None
    for mask, reason in checks:
        if mask.any():
            i = int(np.argmax(mask))
            if i < first:
                first, reason_of = i, reason
    if reason_of is None:
        return
    source = sources[first] if isinstance(sources[first], str) else ""
    error = LabelError.at(source, reason_of(first))
    if error.path is None:
        error = LabelError(None, None, f"row {first} (0-based): {error.reason}")
    raise error


def _unknown_label_reason(label: str, class_map: ClassMap) -> str:
    if not label:
        return "the box has no label; name it (or pass default_label= to the reader)"
    try:
        class_map.index(label)
    except LabelError as error:
        return f"{error.reason}; fix the label or add the class"
    return ""


def _missing_recording_reason(recording_id: str, what: str) -> str:
    return f"missing recording {recording_id!r}: no {what} is known for it; add its audio or drop its rows"
