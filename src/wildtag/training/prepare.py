"""From a recipe's ``data`` section to labelled, indexed, validated training material.

Reads the labels in whichever format they come, finds each recording's audio file, probes every file once
(bad ones are skipped and reported, never silently), and checks the labels against what the audio is.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from wildtag.audio import AUDIO_EXTENSIONS, AudioError, probe
from wildtag.config import DataConfig
from wildtag.labels import (
    ClassMap,
    LabelError,
    make_events,
    read_class_folders,
    read_clip_labels,
    read_clip_labels_table,
    read_events,
    read_raven,
    read_rfcx,
    validate_events,
)
from wildtag.progress import progress


@dataclass
class Skipped:
    """One input left out of the run, and why."""

    path: str
    reason: str


@dataclass
class LabelledData:
    """Labels (clip labels or events), their classes, and the audio file and duration of every recording."""

    kind: str
    table: pd.DataFrame
    class_map: ClassMap
    paths: dict[str, Path]
    durations_s: dict[str, float]
    sample_rates: dict[str, int]
    skipped: list[Skipped] = field(default_factory=list)

    def skipped_frame(self) -> pd.DataFrame:
        return pd.DataFrame([vars(s) for s in self.skipped], columns=["path", "reason"])


def _detect_format(path: Path) -> str:
    if path.is_dir():
        return "raven" if any(path.glob("*.selections.txt")) else "folders"
    name = path.name.lower()
    if name.endswith(".selections.txt"):
        return "raven"
    if path.suffix.lower() == ".parquet":
        return "table"
    columns = set(_columns(path))
    if {"species_id", "songtype_id", "t_min"} <= columns:
        return "rfcx"
    if "recording_id" in columns and ("labels" in columns or "label" in columns):
        return "table"
    return "clip_csv"


def _columns(path: Path) -> list[str]:
    """Column names of a CSV or Parquet table, without reading its rows."""
    if path.suffix.lower() == ".parquet":
        import pyarrow.parquet as pq

        return list(pq.read_schema(path).names)
    return path.open(encoding="utf-8-sig").readline().strip().split(",")


def _raven_files(paths: Iterable[Path]) -> list[Path]:
    files: list[Path] = []
    for path in paths:
        files += sorted(path.glob("*.txt")) if path.is_dir() else [path]
    return files


def read_labels(cfg: DataConfig) -> tuple[str, pd.DataFrame]:
    """Read every label file of the recipe; returns ``("clips" | "events", table)``."""
    fmt = cfg.format if cfg.format != "auto" else _detect_format(cfg.labels[0])
    if fmt == "raven":
        tables = [read_raven(p) for p in _raven_files(cfg.labels)]
        return "events", make_events(pd.concat(tables, ignore_index=True)) if tables else make_events([])
    if fmt == "rfcx":
        return "events", read_rfcx(cfg.labels[0], cfg.fp_labels)
    if fmt == "folders":
        return "clips", pd.concat([read_class_folders(p) for p in cfg.labels], ignore_index=True)
    if fmt == "table":
        if "label" in _columns(cfg.labels[0]):  # an events table has one label per box
            return "events", pd.concat([read_events(p) for p in cfg.labels], ignore_index=True)
        return "clips", pd.concat([read_clip_labels_table(p) for p in cfg.labels], ignore_index=True)
    tables = [
        read_clip_labels(
            p, file_column=cfg.file_column, label_column=cfg.label_column, secondary_column=cfg.secondary_column
        )
        for p in cfg.labels
    ]
    return "clips", pd.concat(tables, ignore_index=True)


class AudioIndex:
    """Finds the audio file of a recording id under a folder: by relative path, path without suffix, or stem."""

    def __init__(self, root: Path):
        self.root = root
        self._by_key: dict[str, Path] = {}
        for path in sorted(root.rglob("*")):
            if path.suffix.lower() not in AUDIO_EXTENSIONS or not path.is_file():
                continue
            rel = path.relative_to(root).as_posix()
            for key in (rel, rel.rsplit(".", 1)[0], path.stem, path.name):
                self._by_key.setdefault(key, path)

    def find(self, recording_id: str) -> Path | None:
        direct = self.root / recording_id
        if direct.is_file():
            return direct
        return self._by_key.get(recording_id) or self._by_key.get(Path(recording_id).name)


def prepare_data(cfg: DataConfig, show_progress: bool = True) -> LabelledData:
    """Labels + audio for a run. Recordings whose audio is missing or unreadable are skipped and reported."""
    kind, table = read_labels(cfg)
    if table.empty:
        raise LabelError(str(cfg.labels[0]), None, "no labels found: the table is empty")
    root = cfg.audio_root or (cfg.labels[0] if cfg.labels[0].is_dir() else cfg.labels[0].parent)
    index = AudioIndex(Path(root))
    paths: dict[str, Path] = {}
    durations: dict[str, float] = {}
    rates: dict[str, int] = {}
    skipped: list[Skipped] = []
    ids = list(dict.fromkeys(table["recording_id"].astype(str)))
    for rid in progress(ids, "index audio", enabled=show_progress):
        path = index.find(rid)
        if path is None:
            skipped.append(Skipped(rid, f"no audio file for recording {rid!r} under {root}"))
            continue
        try:
            info = probe(path)
        except AudioError as error:
            skipped.append(Skipped(str(path), error.reason))
            continue
        paths[rid], durations[rid], rates[rid] = path, info.duration_s, info.sample_rate
    table = table[table["recording_id"].astype(str).isin(paths)].reset_index(drop=True)
    if table.empty:
        raise LabelError(str(cfg.labels[0]), None, f"none of the {len(ids)} recordings could be read; see errors")
    if kind == "events":
        validate_events(table, durations_s=durations, sample_rates=rates)
        class_map = ClassMap.from_labels(table["label"].astype(str))
    else:
        class_map = ClassMap.from_labels(
            label for column in ("labels", "secondary_labels") for labels in table[column] for label in labels
        )
    return LabelledData(kind, table, class_map, paths, durations, rates, skipped)
