"""From a recipe's ``data`` section to labelled, indexed, validated training material.

Reads the labels (:func:`wildtag.labels.read_labels`), gives every recording its id by the one rule (its
audio path relative to the audio root, see :mod:`wildtag.labels.ids`), probes every file once into a
:class:`~wildtag.audio.RecordingSet`, and checks the labels against what the audio is. Recordings and rows
that cannot be used are skipped and reported in ``errors.csv``, never silently.
"""

from __future__ import annotations

import logging
import os
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from wildtag.audio import AudioError, Recording, RecordingSet, probe, scan_audio
from wildtag.config import ConfigError, DataConfig
from wildtag.fileio import write_csv_atomic
from wildtag.labels import ClassMap, LabelError, LabelTable, RecordingIds, read_labels
from wildtag.labels.clips import clip_problems
from wildtag.labels.events import event_problems
from wildtag.progress import progress
from wildtag.suggest import did_you_mean

log = logging.getLogger(__name__)

# Recording metadata read from the label table where it has these columns (first row of each recording).
METADATA_COLUMNS = {
    "site": ("site",),
    "lat": ("lat", "latitude"),
    "lon": ("lon", "longitude"),
    "start_datetime": ("start_datetime",),
}


@dataclass
class Skipped:
    """One input left out of the run, and why (one row of ``errors.csv``)."""

    path: str
    reason: str


@dataclass
class LabelledData:
    """Labels (clip labels or events) whose every ``recording_id`` is in ``recordings``, and their classes."""

    kind: str
    table: pd.DataFrame
    class_map: ClassMap
    recordings: RecordingSet
    skipped: list[Skipped] = field(default_factory=list)

    def skipped_frame(self) -> pd.DataFrame:
        return pd.DataFrame([vars(s) for s in self.skipped], columns=["path", "reason"])

    @property
    def empty_recordings(self) -> list[str]:
        """Recordings checked with nothing found (a Raven table with a header and no rows): in
        ``recordings``, with no row in ``table``. Training draws all-absent background windows from them."""
        labelled = set(self.table["recording_id"].astype(str))
        return [rid for rid in self.recordings if rid not in labelled]

    def class_counts(self) -> dict[str, int]:
        """Rows per class (primary and secondary labels of clips; present boxes of events)."""
        return class_counts(self.kind, self.table, self.class_map)


def class_counts(kind: str, table: pd.DataFrame, class_map: ClassMap) -> dict[str, int]:
    counts: Counter[str] = Counter()
    if kind == "events":
        counts.update(table.loc[table["present"], "label"].astype(str))
    else:
        for primary, secondary in zip(table["labels"], table["secondary_labels"], strict=True):
            counts.update(set(primary) | set(secondary))
    return {name: counts.get(name, 0) for name in class_map.names}


def check_data_paths(cfg: DataConfig) -> None:
    """Every path of the data section exists; a missing relative one names the folder it was resolved in."""
    named = [("data.labels", p) for p in cfg.labels] + [("data.fp_labels", cfg.fp_labels),
                                                        ("data.audio_root", cfg.audio_root)]  # fmt: skip
    if isinstance(cfg.classes, Path):
        named.append(("data.classes", cfg.classes))
    for key, path in named:
        if path is None or path.exists():
            continue
        where = f" (a relative path, resolved against the current folder {os.getcwd()})"
        raise ConfigError(f"{key}: {path} does not exist{'' if path.is_absolute() else where}")


def declared_classes(cfg: DataConfig) -> ClassMap | None:
    """``data.classes`` as a ClassMap: the list, or the file's names (one a line; blank lines and ``#`` skipped)."""
    if cfg.classes is None:
        return None
    if isinstance(cfg.classes, Path):
        lines = cfg.classes.read_text(encoding="utf-8-sig").splitlines()
        names = [line.strip() for line in lines if line.strip() and not line.lstrip().startswith("#")]
        origin = str(cfg.classes)
    else:
        names, origin = [str(n).strip() for n in cfg.classes], "data.classes"
    if not names:
        raise ConfigError(f"{origin}: the class list is empty")
    try:
        return ClassMap(tuple(names))
    except LabelError as error:
        raise ConfigError(f"{origin}: {error.reason}") from None


def check_declared(labels: LabelTable, class_map: ClassMap) -> None:
    """Every label is a declared class; else a LabelError naming file, row, label and the closest class."""
    table = labels.table
    columns = ("label",) if labels.kind == "events" else ("labels", "secondary_labels")
    for column in columns:
        for source, cell in zip(table["source"], table[column], strict=True):
            for name in [cell] if labels.kind == "events" else cell:
                if name not in class_map:
                    raise LabelError.at(
                        source, f"label {name!r} is not in data.classes{did_you_mean(name, class_map.names)}; "
                        f"fix the label or add the class to the list ({len(class_map)} classes)",
                    )  # fmt: skip


def recording_metadata(table: pd.DataFrame) -> dict[str, dict[str, object]]:
    """``{recording name: {site, lat, lon, start_datetime}}`` from the first row of each recording, for the
    :data:`METADATA_COLUMNS` the label table has (empty cells left out)."""
    columns = {name: next((c for c in cands if c in table.columns), None) for name, cands in METADATA_COLUMNS.items()}
    columns = {name: column for name, column in columns.items() if column is not None}
    if not columns:
        return {}
    first = table.drop_duplicates("recording_id")
    found: dict[str, dict[str, object]] = {}
    for rid, *values in first[["recording_id", *columns.values()]].itertuples(index=False, name=None):
        found[str(rid)] = {
            name: value for name, value in zip(columns, values, strict=True)
            if not pd.isna(value) and str(value).strip()
        }  # fmt: skip
    return found


def index_recordings(
    labels: LabelTable, root: Path, show_progress: bool
) -> tuple[RecordingSet, dict[str, str], list[Skipped]]:
    """Probe the audio of every recording the labels name: the set, label name -> id, and what was skipped."""
    scan = scan_audio(root)
    skipped = [Skipped(p.path, p.reason) for p in scan.problems]
    ids = RecordingIds(f.relative_to(root).as_posix() for f in scan.files)
    first_source = dict(zip(labels.table["recording_id"].astype(str), labels.table["source"], strict=True))
    metadata = recording_metadata(labels.table)
    records: list[Recording] = []
    resolved: dict[str, str] = {}  # label name -> id
    name_of: dict[str, str] = {}  # id -> label name
    for name in progress(labels.recordings, "index audio", enabled=show_progress):
        rid = ids.resolve(name, first_source.get(name))  # an ambiguous name raises, naming the candidates
        if rid is None:
            skipped.append(Skipped(name, f"no audio file for recording {name!r} under {root}"))
            continue
        if rid in name_of:
            other = name_of[rid]
            raise LabelError.at(first_source.get(name), f"recording {name!r} and {other!r} are the same file {rid!r}; "
                                "name each recording once")  # fmt: skip
        path = root / rid
        try:
            info = probe(path)
            records.append(Recording(rid, str(path), info.sample_rate, info.num_channels, info.duration_s,
                                     **metadata.get(name, {})))  # fmt: skip
        except AudioError as error:
            skipped.append(Skipped(str(path), error.reason))
            continue
        except ValueError as error:  # site / lat / lon / start_datetime cells the record refuses
            skipped.append(Skipped(str(path), str(error)))
            continue
        resolved[name], name_of[rid] = rid, name
    return RecordingSet(records), resolved, skipped


def _write_errors(skipped: list[Skipped], errors_path: Path | None) -> None:
    if errors_path is not None and skipped:
        write_csv_atomic(pd.DataFrame([vars(s) for s in skipped], columns=["path", "reason"]), errors_path)


def prepare_data(cfg: DataConfig, show_progress: bool = True, errors_path: Path | None = None) -> LabelledData:
    """Labels + audio for a run. Recordings whose audio is missing or unreadable, and rows that do not fit
    their audio (a box past its end or above its Nyquist frequency), are skipped and reported, in
    ``errors_path`` (``errors.csv``) when given, also when nothing usable is left."""
    check_data_paths(cfg)
    declared = declared_classes(cfg)
    labels = read_labels(cfg.labels, cfg.format, fp_labels=cfg.fp_labels, file_column=cfg.file_column,
                         label_column=cfg.label_column, secondary_column=cfg.secondary_column)  # fmt: skip
    if not labels.recordings:
        raise LabelError(str(cfg.labels[0]), None, "no labels found: the table is empty")
    if declared is not None:
        check_declared(labels, declared)
    root = Path(cfg.audio_root or (cfg.labels[0] if cfg.labels[0].is_dir() else cfg.labels[0].parent))
    recordings, resolved, skipped = index_recordings(labels, root, show_progress)
    table = labels.table[labels.table["recording_id"].astype(str).isin(resolved)].reset_index(drop=True)
    table["recording_id"] = table["recording_id"].astype(str).map(resolved).astype("str")
    if not len(recordings):
        _write_errors(skipped, errors_path)
        see = f"; see {errors_path}" if errors_path is not None else ""
        raise LabelError(str(cfg.labels[0]), None,
                         f"none of the {len(labels.recordings)} recordings could be read{see}")  # fmt: skip
    if labels.kind == "events":
        problems = event_problems(table, durations_s=recordings.durations_s, sample_rates=recordings.sample_rates)
    else:
        problems = clip_problems(table, durations_s=recordings.durations_s)
    skipped += [Skipped(table["source"].iloc[i] or str(cfg.labels[0]), reason) for i, reason in problems.items()]
    table = table.drop(index=list(problems)).reset_index(drop=True)
    _write_errors(skipped, errors_path)
    if table.empty:
        see = f"; see {errors_path}" if errors_path is not None else ""
        what = "every label row failed validation" if problems else "no label rows are left"
        raise LabelError(str(cfg.labels[0]), None, f"{what}{see}")
    if declared is not None:
        class_map = declared
    elif labels.kind == "events":
        class_map = ClassMap.from_labels(table["label"].astype(str))
    else:
        class_map = ClassMap.from_labels(
            label for column in ("labels", "secondary_labels") for labels_ in table[column] for label in labels_
        )
    data = LabelledData(labels.kind, table, class_map, recordings, skipped)
    report_classes(data, show_progress)
    return data


def report_classes(data: LabelledData, show_progress: bool) -> None:
    """Log (and, with progress shown, print) how many rows each class has; warn about classes with none."""
    counts = data.class_counts()
    log.info("%d classes: %s", len(counts), ", ".join(f"{name} ({n})" for name, n in counts.items()))
    empty = [name for name, n in counts.items() if n == 0]
    if empty:
        log.warning("%d class(es) have no labelled rows: %s", len(empty), ", ".join(empty[:20]))
    if show_progress:
        from rich.console import Console
        from rich.table import Table

        table = Table("class", "rows", title=f"{len(data.recordings)} recordings, {len(data.table)} label rows")
        for name, n in counts.items():
            table.add_row(name, str(n))
        Console(stderr=True).print(table)
