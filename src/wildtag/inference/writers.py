"""Detections in the formats people open them in: Raven, Audacity, Kaleidoscope, CSV and Parquet.

``write_detections(detections, out_dir, formats, recordings)`` writes, for ``formats`` among
:data:`FORMATS`::

    csv           detections.csv        recording, t0_s, t1_s, class, score_max, score_mean, n_windows,
    parquet       detections.parquet     f0_hz, f1_hz, datetime (ISO 8601 start, empty when unknown)
    raven         raven/<id>.Table.1.selections.txt   one selection table per recording (empty ones too)
                  raven/detections.selections.txt     one table over all recordings: Begin File,
                                                      File Offset (s), Begin Path, Begin Time counted over
                  raven/files.txt                     the sequence of files that files.txt lists, so
                                                      Raven Pro opens them together (File > Open Sound
                                                      Files: the list; then File > Open Selection Table)
    audacity      audacity/<id>.txt     a label track per recording ("class score" labels, with the band)
    kaleidoscope  kaleidoscope.csv      Kaleidoscope-style: INDIR, FOLDER, IN FILE, CHANNEL, OFFSET,
                                        DURATION, DATE, TIME, HOUR, AUTO ID*, SCORE, MEAN SCORE, WINDOWS

Raven and Audacity tables are written through :mod:`wildtag.labels` (whose reader reads them back);
a detection without a class band gets 0 Hz to the model's Nyquist frequency in Raven, which needs one.
Every file is written whole or not at all (:mod:`wildtag.fileio`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:  # annotations only: pandas loads with the first table, not at start-up
    import pandas as pd

from wildtag.config import ConfigError
from wildtag.fileio import write_csv_atomic, write_parquet_atomic, write_text_atomic
from wildtag.labels.ids import strip_audio_suffix
from wildtag.suggest import did_you_mean

FORMATS = ("csv", "parquet", "raven", "audacity", "kaleidoscope")


@dataclass(frozen=True)
class RecordingInfo:
    """What the writers need about a recording beyond its detections."""

    path: Path  # the audio file
    root: Path  # the input folder it was found under
    duration_s: float
    start: datetime | None = None


def check_formats(formats: Iterable[str]) -> tuple[str, ...]:
    """The formats asked for, each once, checked against :data:`FORMATS`."""
    chosen = tuple(dict.fromkeys(f.strip().lower() for f in formats))
    for name in chosen:
        if name not in FORMATS:
            raise ConfigError(f"--format {name!r} is not one of {', '.join(FORMATS)}{did_you_mean(name, FORMATS)}")
    return chosen


def write_detections(detections: pd.DataFrame, out_dir: Path, formats: Sequence[str],
                     recordings: Mapping[str, RecordingInfo], *, nyquist_hz: float) -> list[Path]:
    """Write ``detections`` (all recordings, in output order) in each of ``formats``; the paths written."""
    written = []
    if "csv" in formats:
        written.append(write_csv_atomic(detections, out_dir / "detections.csv"))
    if "parquet" in formats:
        written.append(write_parquet_atomic(detections, out_dir / "detections.parquet"))
    if "raven" in formats:
        written += write_raven_tables(detections, out_dir / "raven", recordings, nyquist_hz=nyquist_hz)
    if "audacity" in formats:
        written += write_audacity_tracks(detections, out_dir / "audacity", recordings)
    if "kaleidoscope" in formats:
        written.append(write_csv_atomic(kaleidoscope_table(detections, recordings), out_dir / "kaleidoscope.csv"))
    return written


def table_names(recording_ids: Iterable[str], suffix: str) -> dict[str, str]:
    """A file name per recording under a folder mirroring its id: ``site_a/0600.wav`` -> ``site_a/0600`` +
    ``suffix``; with the audio suffix kept when two recordings would share a name (``0600.wav``, ``0600.flac``)."""
    ids = list(recording_ids)
    stems = [strip_audio_suffix(rid) for rid in ids]
    shared = {s for s in stems if stems.count(s) > 1}
    return {rid: (rid if stem in shared else stem) + suffix for rid, stem in zip(ids, stems, strict=True)}


def raven_events(detections: pd.DataFrame, nyquist_hz: float) -> pd.DataFrame:
    """Detections as an Event table for :func:`wildtag.labels.write_raven`: scores as extra columns."""
    import pandas as pd

    events = pd.DataFrame({
        "recording_id": detections["recording"].astype(str),
        "t0_s": detections["t0_s"].astype(float),
        "t1_s": detections["t1_s"].astype(float),
        "f0_hz": detections["f0_hz"].fillna(0.0).astype(float),
        "f1_hz": detections["f1_hz"].fillna(nyquist_hz).astype(float),
        "label": detections["class"].astype(str),
        "Score": detections["score_max"].astype(float).round(6),
        "Mean Score": detections["score_mean"].astype(float).round(6),
        "Windows": detections["n_windows"].astype(int),
    })
    if "datetime" in detections.columns and detections["datetime"].notna().any():
        events["Begin Datetime"] = detections["datetime"].fillna("").astype(str)
    return events


def write_raven_tables(detections: pd.DataFrame, folder: Path, recordings: Mapping[str, RecordingInfo], *,
                       nyquist_hz: float) -> list[Path]:
    """One selection table per recording, and the combined table over the sequence in ``files.txt``.

    The per-recording tables are cut from one table of all recordings written by
    :func:`wildtag.labels.write_raven` (a call costs tens of milliseconds, too much once per file of an
    archive): its rows split by ``Begin File``, each table's selections numbered from 1.
    """
    import tempfile

    from wildtag.labels import write_raven

    events = raven_events(detections, nyquist_hz)
    folder.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=folder, prefix=".tables-") as scratch:
        every = write_raven(events, Path(scratch) / "all.selections.txt").read_text(encoding="utf-8")
    header, *rows = every.splitlines()
    file_column = header.split("\t").index("Begin File")
    by_recording: dict[str, list[str]] = {}
    for row in rows:
        cells = row.split("\t")  # write_raven refuses tabs and line breaks inside cells
        by_recording.setdefault(cells[file_column], []).append(cells)
    names = table_names(recordings, ".Table.1.selections.txt")
    written = []
    for rid in recordings:
        lines = [header] + ["\t".join([str(i), *cells[1:]]) for i, cells in enumerate(by_recording.get(rid, []), 1)]
        written.append(write_text_atomic(folder / names[rid], "\n".join(lines) + "\n"))
    offsets, position = {}, 0.0
    for rid, info in recordings.items():
        offsets[rid] = position
        position += info.duration_s
    combined = events.assign(**{"Begin Path": events["recording_id"].map(
        {rid: str(info.path.resolve()) for rid, info in recordings.items()})})
    written.append(write_raven(combined, folder / "detections.selections.txt", sequence_offsets=offsets))
    files = "".join(str(info.path.resolve()) + "\n" for info in recordings.values())
    written.append(write_text_atomic(folder / "files.txt", files))
    return written


def write_audacity_tracks(detections: pd.DataFrame, folder: Path,
                          recordings: Mapping[str, RecordingInfo]) -> list[Path]:
    """An Audacity label track per recording: ``t0 t1 class score`` (and the band when there is one)."""
    import pandas as pd

    from wildtag.labels import write_audacity

    events = pd.DataFrame({
        "recording_id": detections["recording"].astype(str),
        "t0_s": detections["t0_s"].astype(float),
        "t1_s": detections["t1_s"].astype(float),
        "f0_hz": detections["f0_hz"].astype(float),
        "f1_hz": detections["f1_hz"].astype(float),
        "label": [f"{c} {s:.3f}" for c, s in zip(detections["class"], detections["score_max"], strict=True)],
    })
    names = table_names(recordings, ".txt")
    by_recording = dict(tuple(events.groupby("recording_id", sort=False)))
    return [write_audacity(by_recording.get(rid, events.iloc[:0]), folder / names[rid]) for rid in recordings]


def kaleidoscope_table(detections: pd.DataFrame, recordings: Mapping[str, RecordingInfo]) -> pd.DataFrame:
    """Detections in the column layout of Kaleidoscope's ``id.csv`` (the columns it shares with it)."""
    import pandas as pd

    info = [recordings[r] for r in detections["recording"]]
    starts = detections["datetime"] if "datetime" in detections.columns else [None] * len(detections)
    moments = [datetime.fromisoformat(s) if isinstance(s, str) and s else None for s in starts]
    return pd.DataFrame({
        "INDIR": [str(i.root) for i in info],
        "FOLDER": [_folder(i) for i in info],
        "IN FILE": [i.path.name for i in info],
        "CHANNEL": np.zeros(len(detections), dtype=int),
        "OFFSET": detections["t0_s"].astype(float).round(3).to_numpy(),
        "DURATION": (detections["t1_s"] - detections["t0_s"]).astype(float).round(3).to_numpy(),
        "DATE": [m.strftime("%Y-%m-%d") if m else "" for m in moments],
        "TIME": [m.strftime("%H:%M:%S") if m else "" for m in moments],
        "HOUR": [str(m.hour) if m else "" for m in moments],
        "AUTO ID*": detections["class"].astype(str).to_numpy(),
        "SCORE": detections["score_max"].astype(float).round(6).to_numpy(),
        "MEAN SCORE": detections["score_mean"].astype(float).round(6).to_numpy(),
        "WINDOWS": detections["n_windows"].astype(int).to_numpy(),
    })


def _folder(info: RecordingInfo) -> str:
    try:
        parent = info.path.resolve().parent.relative_to(info.root.resolve())
    except ValueError:
        return ""
    return "" if parent == Path(".") else parent.as_posix()
