"""When a recording started, from what is known about it, in this order; unknown stays unknown (None).

1. a metadata table (``--metadata recordings.csv``): a recording column (``recording``, ``recording_id``,
   ``file`` or ``path``; names resolve by the recording-id rule) and a start column (``start_datetime``,
   ``start``, ``datetime`` or ``timestamp``) in ISO 8601 (``2024-05-01T05:00:00``, optionally with an
   offset ``+02:00`` or ``Z``);
2. GUANO metadata inside a WAV file (its ``guan`` chunk, ``Timestamp:`` line), as Wildlife Acoustics,
   Pettersson and many bat detectors write;
3. the file name, in the common recorder patterns ``YYYYMMDD_HHMMSS`` (AudioMoth: ``20240501_050000.WAV``)
   and ``PREFIX_YYYYMMDD_HHMMSS`` (Song Meter: ``SMA01234_20240501_050000.wav``), also with ``T`` or
   ``-`` between date and time.

A time without an offset is read in ``timezone`` when one is given (``--timezone Europe/Berlin``; AudioMoth
names are UTC unless the recorder was set otherwise), else kept as local time without an offset. A date
that does not exist (month 13) is not a time: the recording's start stays unknown, never guessed.

    >>> start = StartTimes(timezone="UTC").start("20240501_050000.WAV", Path("survey/20240501_050000.WAV"))
    >>> start.isoformat()
    '2024-05-01T05:00:00+00:00'
"""

from __future__ import annotations

import re
import struct
from collections.abc import Sequence
from datetime import datetime, timedelta, tzinfo
from pathlib import Path

import numpy as np

from wildtag.config import ConfigError

_NAME_TIME = re.compile(r"(?<!\d)(\d{4})(\d{2})(\d{2})[_T-](\d{2})(\d{2})(\d{2})(?!\d)")
RECORDING_COLUMNS = ("recording", "recording_id", "file", "path")
START_COLUMNS = ("start_datetime", "start", "datetime", "timestamp")


def zone(name: str | None) -> tzinfo | None:
    """The time zone named ``name`` (IANA, e.g. ``Europe/Berlin``, or ``UTC``); None for None."""
    if name is None:
        return None
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError(f"--timezone {name!r} is not a time zone name (e.g. UTC, Europe/Berlin, "
                          "America/New_York)") from None


def time_from_name(name: str) -> datetime | None:
    """The ``YYYYMMDD_HHMMSS`` time in a file name (the last one, if several), else None."""
    for match in reversed(list(_NAME_TIME.finditer(Path(name).name))):
        try:
            return datetime(*map(int, match.groups()))
        except ValueError:  # 20241341_250000: digits, not a date
            continue
    return None


def guano_fields(path: str | Path, max_chunks: int = 64) -> dict[str, str]:
    """The ``key: value`` lines of a WAV file's GUANO chunk (``{}`` when it has none or is not a WAV)."""
    try:
        with open(path, "rb") as handle:
            header = handle.read(12)
            if len(header) < 12 or header[:4] not in (b"RIFF", b"RF64") or header[8:12] != b"WAVE":
                return {}
            for _ in range(max_chunks):
                chunk = handle.read(8)
                if len(chunk) < 8:
                    return {}
                name, size = chunk[:4], struct.unpack("<I", chunk[4:])[0]
                if name == b"guan":
                    text = handle.read(size).decode("utf-8", "replace")
                    return dict(_guano_line(line) for line in text.splitlines() if ":" in line)
                handle.seek(size + (size & 1), 1)  # chunks are padded to an even size
    except OSError:
        return {}
    return {}


def _guano_line(line: str) -> tuple[str, str]:
    key, _, value = line.partition(":")
    return key.strip(), value.strip()


def parse_datetime(text: str) -> datetime | None:
    """An ISO 8601 time (``Z`` for UTC allowed), or None when ``text`` is not one."""
    text = str(text).strip()
    if not text or text.lower() in ("nan", "none", "nat"):
        return None
    try:
        return datetime.fromisoformat(text[:-1] + "+00:00" if text.endswith("Z") else text)
    except ValueError:
        return None


class StartTimes:
    """Start times of recordings, from a metadata table, GUANO and file names (see the module doc)."""

    def __init__(self, metadata: str | Path | None = None, timezone: str | None = None,
                 recording_ids: Sequence[str] = ()):
        self.tz = zone(timezone)
        self.table: dict[str, datetime] = {}
        if metadata is not None:
            self.table = read_start_table(metadata, recording_ids)

    def start(self, recording_id: str, path: Path | None) -> datetime | None:
        """When ``recording_id`` (the file at ``path``) started, or None when that is not known."""
        if recording_id in self.table:
            found = self.table[recording_id]
        else:
            found = None
            if path is not None and path.suffix.lower() == ".wav":
                found = parse_datetime(guano_fields(path).get("Timestamp", ""))
            if found is None:
                found = time_from_name(recording_id)
        if found is not None and found.tzinfo is None and self.tz is not None:
            found = found.replace(tzinfo=self.tz)
        return found


def read_start_table(path: str | Path, recording_ids: Sequence[str]) -> dict[str, datetime]:
    """``{recording id: start}`` from a metadata CSV; a bad time is an error naming its row."""
    import pandas as pd

    from wildtag.labels.ids import RecordingIds

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such metadata table")
    frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    lowered = {c.strip().lower(): c for c in frame.columns}
    rec_col = next((lowered[c] for c in RECORDING_COLUMNS if c in lowered), None)
    start_col = next((lowered[c] for c in START_COLUMNS if c in lowered), None)
    if rec_col is None or start_col is None:
        raise ConfigError(f"{path}: a metadata table needs a recording column ({', '.join(RECORDING_COLUMNS)}) "
                          f"and a start column ({', '.join(START_COLUMNS)}); found {list(frame.columns)}")
    ids = RecordingIds(recording_ids)
    table: dict[str, datetime] = {}
    for row, (name, text) in enumerate(zip(frame[rec_col], frame[start_col], strict=True), start=2):
        start = parse_datetime(text)
        if start is None and text.strip():
            raise ConfigError(f"{path}:{row}: {start_col} {text!r} is not an ISO 8601 time "
                              "(e.g. 2024-05-01T05:00:00 or 2024-05-01T05:00:00+02:00)")
        rid = ids.resolve(name, f"{path}:{row}")
        if rid is not None and start is not None:  # an empty cell says nothing: GUANO or the name may
            table[rid] = start
    return table


def absolute_times(start: datetime | None, offsets_s: np.ndarray) -> list[str | None]:
    """ISO 8601 times (millisecond precision) ``offsets_s`` seconds after ``start``; None when unknown."""
    if start is None:
        return [None] * len(offsets_s)
    return [(start + timedelta(seconds=float(s))).isoformat(timespec="milliseconds") for s in offsets_s]
