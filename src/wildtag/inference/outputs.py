"""What predict writes: each file's rows (stored in shards as it goes) and the final tables assembled from them.

Per recording (:class:`RecordingTables`), three Arrow tables:

``windows``
    wide (default): ``recording, t0_s, t1_s`` and one float32 column per class; or long, when
    ``top_k`` or ``min_score`` is given: ``recording, t0_s, t1_s, class, score``, only each window's
    ``top_k`` best classes with a score of at least ``min_score`` (10 million windows of 500 classes
    would be a 20 GB wide table).
``recordings``
    ``recording`` and one pooled score per class (the aggregator's).
``detections``
    ``recording`` and :data:`~wildtag.inference.detections.DETECTION_COLUMNS` (when detections are on).

:class:`ArchiveOutputs` streams them, recording by recording in output order, into ``windows.parquet``,
``recordings.csv`` and the detection formats, each written to a temporary file and renamed when complete.
With ``datetime`` on, windows gain a ``datetime`` column (ISO 8601 start of each window, empty when the
recording's start is unknown); detections always have one. Windows and recordings are streamed to disk;
detections are held until the end (the combined Raven table needs them all): about 100 bytes each.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

if TYPE_CHECKING:  # annotations only: pandas loads with the first table, not at start-up
    import pandas as pd

from wildtag.config import ConfigError
from wildtag.fileio import atomic_path
from wildtag.inference.detections import DetectionSettings, detect_arrays
from wildtag.inference.scoring import FileResult
from wildtag.inference.timestamps import absolute_times
from wildtag.inference.writers import RecordingInfo, write_detections

WINDOW_ROWS_PER_GROUP = 65536  # rows per Parquet row group in windows.parquet
RECORDINGS_PER_CSV_CHUNK = 1024


@dataclass(frozen=True)
class WindowLayout:
    """Which window scores are kept: all (wide), or each window's best (long): ``top_k`` and/or ``min_score``."""

    top_k: int | None = None
    min_score: float | None = None

    def __post_init__(self) -> None:
        if self.top_k is not None and self.top_k < 1:
            raise ConfigError(f"--windows-top-k must be >= 1, got {self.top_k}")
        if self.min_score is not None and not 0 <= self.min_score <= 1:
            raise ConfigError(f"--windows-min-score must be in [0, 1], got {self.min_score}")

    @property
    def long(self) -> bool:
        return self.top_k is not None or self.min_score is not None


class RecordingTables:
    """One scored file -> its ``windows``, ``recordings`` (and ``detections``) tables."""

    def __init__(self, class_names: Sequence[str], window_s: float, aggregator: Any, layout: WindowLayout,
                 detections: DetectionSettings | None = None, thresholds: np.ndarray | None = None,
                 class_boxes: Mapping[str, Sequence[float]] | None = None):
        self.class_names = list(class_names)
        self.window_s, self.aggregator, self.layout = window_s, aggregator, layout
        self.detections, self.thresholds, self.class_boxes = detections, thresholds, class_boxes
        self.schemas = table_schemas(self.class_names, layout)

    def __call__(self, result: FileResult) -> dict[str, pa.Table]:
        rid, t0 = result.recording_id, result.t0_s
        scores = result.scores.astype(np.float32, copy=False)
        t1 = t0 + self.window_s
        tables = {"windows": self._windows(rid, t0, t1, scores)}
        pooled = np.asarray(self.aggregator(scores), dtype=np.float32)
        tables["recordings"] = pa.table({"recording": [rid], **{c: pooled[k : k + 1] for k, c in
                                                              enumerate(self.class_names)}})
        if self.detections is not None:
            found = detect_arrays(t0, t1, scores, self.class_names, self.thresholds, self.detections,
                                  self.class_boxes)
            found = {"recording": np.full(len(found["t0_s"]), rid, dtype=object), **found}
            tables["detections"] = pa.table(found, schema=self.schemas["detections"])
        return tables

    def _windows(self, rid: str, t0: np.ndarray, t1: np.ndarray, scores: np.ndarray) -> pa.Table:
        if not self.layout.long:
            return pa.table({"recording": pa.array([rid] * len(t0), pa.string()), "t0_s": t0, "t1_s": t1,
                             **{c: scores[:, k] for k, c in enumerate(self.class_names)}})
        n, k = scores.shape
        keep = min(self.layout.top_k or k, k)
        order = np.argsort(-scores, axis=1, kind="stable")[:, :keep]  # best first; ties in class order
        rows = np.repeat(np.arange(n), keep)
        cols = order.reshape(-1)
        values = scores[rows, cols]
        if self.layout.min_score is not None:
            mask = values >= self.layout.min_score
            rows, cols, values = rows[mask], cols[mask], values[mask]
        return pa.table({"recording": pa.array([rid] * len(rows), pa.string()), "t0_s": t0[rows],
                         "t1_s": t1[rows], "class": pa.array(np.asarray(self.class_names, dtype=object)[cols],
                                                             pa.string()), "score": values})


class ArchiveOutputs:
    """Final output files, fed recording by recording (:meth:`add`) and made visible by :meth:`close`."""

    def __init__(self, out_dir: Path, recordings: Mapping[str, RecordingInfo], *, datetime: bool = False,
                 detections: bool = False, formats: Sequence[str] = (), nyquist_hz: float = 0.0):
        self.out_dir, self.recordings = out_dir, recordings
        self.with_datetime, self.with_detections = datetime, detections
        self.formats, self.nyquist_hz = tuple(formats) or ("csv",), nyquist_hz
        self._stack = contextlib.ExitStack()
        self._windows_writer: pq.ParquetWriter | None = None
        self._window_parts: list[pa.Table] = []
        self._recording_parts: list[pa.Table] = []
        self._recordings_csv: Path | None = None
        self._detections: list[pd.DataFrame] = []
        self.n_recordings = self.n_windows = 0
        self._windows_tmp = self._stack.enter_context(atomic_path(out_dir / "windows.parquet"))
        self._recordings_tmp = self._stack.enter_context(atomic_path(out_dir / "recordings.csv"))
        self._recordings_tmp.write_text("", encoding="utf-8")
        self._header = True

    def add(self, recording_id: str, tables: Mapping[str, pa.Table]) -> None:
        """One recording's stored tables (from the shards or straight from scoring)."""
        info = self.recordings.get(recording_id)
        windows = tables["windows"]
        if self.with_datetime:
            start = info.start if info else None
            times = absolute_times(start, windows.column("t0_s").to_numpy())
            windows = windows.add_column(3, "datetime", pa.array(times, pa.string()))
        self._window_parts.append(windows)
        self.n_windows += windows.num_rows
        if sum(t.num_rows for t in self._window_parts) >= WINDOW_ROWS_PER_GROUP:
            self._write_windows()
        self._recording_parts.append(tables["recordings"])
        if len(self._recording_parts) >= RECORDINGS_PER_CSV_CHUNK:
            self._write_recordings()
        if self.with_detections:
            found = tables["detections"]
            times = absolute_times(info.start if info else None, found.column("t0_s").to_numpy())
            self._detections.append(found.append_column("datetime", pa.array(times, pa.string())))
        self.n_recordings += 1

    @property
    def n_detections(self) -> int:
        return sum(d.num_rows for d in self._detections)

    def _write_windows(self) -> None:
        if not self._window_parts:
            return
        table = pa.concat_tables(self._window_parts)
        if self._windows_writer is None:
            self._windows_writer = pq.ParquetWriter(self._windows_tmp, table.schema)
        self._windows_writer.write_table(table, row_group_size=WINDOW_ROWS_PER_GROUP)
        self._window_parts = []

    def _write_recordings(self) -> None:
        if not self._recording_parts:
            return
        frame = pa.concat_tables(self._recording_parts).to_pandas()
        frame.to_csv(self._recordings_tmp, mode="a", header=self._header, index=False)
        self._header, self._recording_parts = False, []

    def close(self, schemas: Mapping[str, pa.Schema]) -> list[Path]:
        """Write what is buffered and make every file visible; ``schemas`` give empty tables their columns."""
        self._write_windows()
        self._write_recordings()
        if self._windows_writer is None:
            schema = schemas["windows"]
            if self.with_datetime:
                schema = schema.insert(3, pa.field("datetime", pa.string()))
            pq.write_table(schema.empty_table(), self._windows_tmp)
        else:
            self._windows_writer.close()
        if self._header:
            schemas["recordings"].empty_table().to_pandas().to_csv(self._recordings_tmp, index=False)
        self._stack.close()  # renames windows.parquet and recordings.csv into place
        written = [self.out_dir / "windows.parquet", self.out_dir / "recordings.csv"]
        if self.with_detections:
            schema = schemas["detections"].append(pa.field("datetime", pa.string()))
            detections = pa.concat_tables([schema.empty_table(), *self._detections]).to_pandas()
            detections["datetime"] = detections["datetime"].astype("string")
            written += write_detections(detections, self.out_dir, self.formats, self.recordings,
                                        nyquist_hz=self.nyquist_hz)
        return written

    def abort(self) -> None:
        """Remove the temporary files (after an error)."""
        if self._windows_writer is not None:
            self._windows_writer.close()
        with contextlib.suppress(Exception):
            self._stack.__exit__(RuntimeError, RuntimeError("aborted"), None)


def table_schemas(class_names: Sequence[str], layout: WindowLayout) -> dict[str, pa.Schema]:
    """The schemas of the per-recording tables (for empty outputs)."""
    keys = [("recording", pa.string()), ("t0_s", pa.float64()), ("t1_s", pa.float64())]
    windows = keys + ([("class", pa.string()), ("score", pa.float32())] if layout.long
                      else [(c, pa.float32()) for c in class_names])
    detections = [("recording", pa.string()), ("t0_s", pa.float64()), ("t1_s", pa.float64()),
                  ("class", pa.string()), ("score_max", pa.float32()), ("score_mean", pa.float32()),
                  ("n_windows", pa.int32()), ("f0_hz", pa.float64()), ("f1_hz", pa.float64())]
    return {"windows": pa.schema(windows),
            "recordings": pa.schema([("recording", pa.string())] + [(c, pa.float32()) for c in class_names]),
            "detections": pa.schema(detections)}

