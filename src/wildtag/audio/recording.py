"""One audio file as a record (:class:`Recording`), a set of them by id (:class:`RecordingSet`), and tables
of them (CSV / Parquet, lossless)."""

from __future__ import annotations

import math
import os
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import asdict, dataclass, fields
from datetime import datetime
from pathlib import Path
from typing import Any

import pandas as pd

from wildtag.audio.info import probe
from wildtag.fileio import atomic_path


@dataclass(frozen=True)
class Recording:
    """An audio file with what the rest of wildtag needs to know about it; ``id`` is what tables refer to.

        >>> rec = Recording.from_file("survey/site3/0500.flac", root="survey", site="site3", lat=51.2)
        >>> rec.id, rec.duration_s
        ('site3/0500.flac', 3600.0)

    The id follows wildtag's one rule: the audio path relative to the audio root, ``/``-separated, with
    its suffix (see :mod:`wildtag.labels.ids`).

    ``start_datetime`` is an ISO 8601 string (``"2024-05-01T05:00:00+02:00"``). Numbers are stored as
    plain Python ``int``/``float`` and a ``Path`` as ``str``, so records compare equal after a round-trip.
    """

    id: str
    path: str
    sample_rate: int
    num_channels: int
    duration_s: float
    site: str | None = None
    lat: float | None = None
    lon: float | None = None
    start_datetime: str | None = None

    def __post_init__(self) -> None:
        def fail(reason: str) -> None:
            raise ValueError(f"recording {self.id!r} ({self.path}): {reason}")

        set_ = object.__setattr__  # frozen: normalise types once, here
        if not isinstance(self.id, str) or not self.id:
            raise ValueError(f"recording id must be a non-empty string, got {self.id!r} ({self.path})")
        set_(self, "path", str(self.path))
        set_(self, "sample_rate", int(self.sample_rate))
        set_(self, "num_channels", int(self.num_channels))
        set_(self, "duration_s", float(self.duration_s))
        if self.sample_rate <= 0:
            fail(f"sample_rate must be > 0, got {self.sample_rate}")
        if self.num_channels <= 0:
            fail(f"num_channels must be > 0, got {self.num_channels}")
        if not math.isfinite(self.duration_s) or self.duration_s < 0:
            fail(f"duration_s must be finite and >= 0, got {self.duration_s}")
        if self.site is not None:
            set_(self, "site", str(self.site))
        for name, limit in (("lat", 90.0), ("lon", 180.0)):
            value = getattr(self, name)
            if value is not None:
                value = float(value)
                if not -limit <= value <= limit:
                    fail(f"{name} must be within [-{limit:g}, {limit:g}], got {value}")
                set_(self, name, value)
        if isinstance(self.start_datetime, datetime):
            set_(self, "start_datetime", self.start_datetime.isoformat())
        if self.start_datetime is not None:
            try:  # "Z" is ISO 8601 but Python < 3.11 does not parse it
                datetime.fromisoformat(str(self.start_datetime).replace("Z", "+00:00"))
            except ValueError:
                fail(f"start_datetime must be ISO 8601, got {self.start_datetime!r}")

    @classmethod
    def from_file(
        cls,
        path: str | os.PathLike[str],
        id: str | None = None,
        *,
        root: str | os.PathLike[str] | None = None,
        **metadata: Any,
    ) -> Recording:
        """Probe ``path`` (header only) and build its record; ``id`` defaults to the path relative to
        ``root`` (``/``-separated, suffix kept), or to the file name without a root.

        ``metadata`` takes ``site``, ``lat``, ``lon``, ``start_datetime``. Raises ``AudioError`` for a bad file.
        """
        allowed = {"site", "lat", "lon", "start_datetime"}
        unknown = sorted(set(metadata) - allowed)
        if unknown:
            raise TypeError(f"unknown recording metadata {unknown}; expected some of {sorted(allowed)}")
        info = probe(path)
        if id is None:
            id = Path(path).relative_to(root).as_posix() if root is not None else Path(path).name
        return cls(
            id=id,
            path=str(path),
            sample_rate=info.sample_rate,
            num_channels=info.num_channels,
            duration_s=info.duration_s,
            **metadata,
        )

    def to_dict(self) -> dict[str, Any]:
        """The fields as a plain dict (JSON-ready)."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Recording:
        """Inverse of :meth:`to_dict`; missing optional keys are None, unknown keys are an error."""
        names = [f.name for f in fields(cls)]
        unknown = sorted(set(data) - set(names))
        if unknown:
            raise ValueError(f"unknown recording field(s) {unknown}; expected {names}")
        missing = [n for n in _REQUIRED if n not in data]
        if missing:
            raise ValueError(f"recording is missing required field(s) {missing}: {dict(data)}")
        return cls(**data)


COLUMNS = tuple(f.name for f in fields(Recording))
_REQUIRED = ("id", "path", "sample_rate", "num_channels", "duration_s")
_NUMERIC = {
    "sample_rate": "int64",
    "num_channels": "int64",
    "duration_s": "float64",
    "lat": "float64",
    "lon": "float64",
}
_TEXT = ("id", "path", "site", "start_datetime")
# pandas 3 parses floats exactly by default (and deprecates the option); pandas 2 needs asking.
_ROUND_TRIP_FLOATS = {"float_precision": "round_trip"} if int(pd.__version__.split(".")[0]) < 3 else {}


def recordings_to_frame(recs: Iterable[Recording]) -> pd.DataFrame:
    """A table with one row per recording and the columns of :class:`Recording` (None -> NaN)."""
    frame = pd.DataFrame([r.to_dict() for r in recs], columns=list(COLUMNS))
    return frame.astype(_NUMERIC)


def _cell(value: Any) -> Any:
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return None
    return value.item() if hasattr(value, "item") else value  # numpy scalar -> Python


def recordings_from_frame(frame: pd.DataFrame) -> list[Recording]:
    """Records from a table made by :func:`recordings_to_frame` (or by hand); other columns are ignored.

    Raises ``ValueError`` naming the row for a missing column, a bad value or a duplicate ``id``.
    """
    missing = [c for c in _REQUIRED if c not in frame.columns]
    if missing:
        raise ValueError(f"recordings table lacks column(s) {missing}; it has {list(frame.columns)}")
    present = [c for c in COLUMNS if c in frame.columns]
    recs, seen = [], {}
    for row_number, row in enumerate(frame[present].itertuples(index=False, name=None)):
        data = {name: _cell(value) for name, value in zip(present, row, strict=True)}
        for name in _TEXT:
            if data.get(name) is not None:
                data[name] = str(data[name])
        try:
            rec = Recording.from_dict(data)
        except (TypeError, ValueError) as e:
            raise ValueError(f"recordings table row {row_number}: {e}") from None
        if rec.id in seen:
            raise ValueError(f"recordings table row {row_number}: id {rec.id!r} repeats row {seen[rec.id]}")
        seen[rec.id] = row_number
        recs.append(rec)
    return recs


def write_recordings(recs: Iterable[Recording], path: str | os.PathLike[str]) -> Path:
    """Write records to ``.csv`` or ``.parquet`` (by suffix), atomically; :func:`read_recordings` reads them."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in (".csv", ".parquet"):
        raise ValueError(f"{path}: recordings are written as .csv or .parquet, not {path.suffix!r}")
    frame = recordings_to_frame(recs)
    with atomic_path(path) as tmp:
        if suffix == ".csv":
            frame.to_csv(tmp, index=False)
        else:
            frame.to_parquet(tmp, index=False)
    return path


def read_recordings(path: str | os.PathLike[str]) -> list[Recording]:
    """Read records written by :func:`write_recordings`; text stays text (``"007"`` is not read as 7)."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix == ".parquet":
        frame = pd.read_parquet(path)
    elif suffix == ".csv":
        frame = pd.read_csv(
            path,
            dtype={name: str for name in _TEXT},
            keep_default_na=False,  # a site called "NA" stays "NA"; only empty cells are missing
            na_values={name: [""] for name in ("site", "start_datetime", "lat", "lon")},
            **_ROUND_TRIP_FLOATS,
        )
    else:
        raise ValueError(f"{path}: recordings are read from .csv or .parquet, not {path.suffix!r}")
    try:
        return recordings_from_frame(frame)
    except ValueError as e:
        raise ValueError(f"{path}: {e}") from None


class RecordingSet(Mapping[str, Recording]):
    """Recordings by id, in the order given: what training knows about every audio file it reads.

        >>> recs = RecordingSet([Recording("a.wav", "/data/a.wav", 32000, 1, 60.0)])
        >>> recs["a.wav"].duration_s, list(recs)
        (60.0, ['a.wav'])

    Immutable; ``subset`` makes a smaller one. An unknown id raises ``KeyError`` naming the closest.
    """

    def __init__(self, recordings: Iterable[Recording] = ()):
        by_id: dict[str, Recording] = {}
        for rec in recordings:
            if not isinstance(rec, Recording):
                raise TypeError(f"a RecordingSet holds Recording records, got {type(rec).__name__}")
            if rec.id in by_id:
                raise ValueError(f"recording id {rec.id!r} appears twice ({by_id[rec.id].path}, {rec.path})")
            by_id[rec.id] = rec
        self._by_id = by_id

    def __getitem__(self, recording_id: str) -> Recording:
        try:
            return self._by_id[recording_id]
        except KeyError:
            from wildtag.suggest import did_you_mean

            hint = did_you_mean(str(recording_id), self._by_id)
            raise KeyError(f"no recording {recording_id!r} among {len(self)}{hint}") from None

    def __iter__(self) -> Iterator[str]:
        return iter(self._by_id)

    def __len__(self) -> int:
        return len(self._by_id)

    def __repr__(self) -> str:
        return f"RecordingSet({len(self)} recordings)"

    def subset(self, ids: Iterable[str]) -> RecordingSet:
        """The recordings of ``ids`` (each must be in the set), in this set's order."""
        wanted = set(ids)
        missing = wanted - set(self._by_id)
        if missing:
            self[sorted(missing)[0]]  # raises, naming it
        return RecordingSet(r for r in self.values() if r.id in wanted)

    def duration_s(self, recording_id: str) -> float:
        return self[recording_id].duration_s

    def path(self, recording_id: str) -> Path:
        return Path(self[recording_id].path)

    @property
    def durations_s(self) -> dict[str, float]:
        """``{id: duration_s}``, for code that wants plain numbers."""
        return {rid: rec.duration_s for rid, rec in self._by_id.items()}

    @property
    def paths(self) -> dict[str, Path]:
        """``{id: audio file}``."""
        return {rid: Path(rec.path) for rid, rec in self._by_id.items()}

    @property
    def sample_rates(self) -> dict[str, int]:
        """``{id: sample_rate}`` of the files as stored (before any resampling)."""
        return {rid: rec.sample_rate for rid, rec in self._by_id.items()}

    def to_frame(self) -> pd.DataFrame:
        """One row per recording (see :func:`recordings_to_frame`)."""
        return recordings_to_frame(self.values())

    @classmethod
    def from_frame(cls, frame: pd.DataFrame) -> RecordingSet:
        return cls(recordings_from_frame(frame))
