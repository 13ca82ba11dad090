"""Shared builders for the data tests: class maps, event and clip tables, an in-memory audio source."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from wildtag.labels import ClassMap
from wildtag.labels import make_events as build_events


def make_events(rows: list[tuple]) -> pd.DataFrame:
    """Event table from (recording_id, t0_s, t1_s, label, present[, weight[, f0_hz, f1_hz]]) tuples."""
    records = []
    for n, row in enumerate(rows):
        rid, t0_s, t1_s, label, present, *rest = row
        weight = rest[0] if rest else 1.0
        f0_hz, f1_hz = rest[1:3] if len(rest) >= 3 else (np.nan, np.nan)
        records.append(
            dict(recording_id=rid, t0_s=t0_s, t1_s=t1_s, f0_hz=f0_hz, f1_hz=f1_hz, label=label,
                 present=present, weight=weight, source=f"boxes.csv:{n + 2}")
        )  # fmt: skip
    return build_events(records)


class ArraySource:
    """Recordings held in memory; ``read`` follows DecodeCache.read (exact length, zero-padded)."""

    def __init__(self, recordings: dict[str, np.ndarray], sample_rate: int):
        self.recordings = recordings
        self.sample_rate = sample_rate
        self.calls: list[tuple[str, float, float]] = []

    def read(self, recording_id: str, t0_s: float, t1_s: float) -> np.ndarray:
        self.calls.append((recording_id, t0_s, t1_s))
        x = self.recordings[recording_id]
        n = int(round((t1_s - t0_s) * self.sample_rate))
        start = int(round(t0_s * self.sample_rate))
        out = np.zeros(n, dtype=np.float32)
        lo, hi = max(start, 0), min(start + n, len(x))
        if hi > lo:
            out[lo - start : hi - start] = x[lo:hi]
        return out


# Test modules cannot import this file (importlib import mode), so the builders come as fixtures.


@pytest.fixture
def class_map() -> ClassMap:
    return ClassMap(["a", "b", "c", "d"])


@pytest.fixture(name="make_events")
def make_events_fixture():
    return make_events


@pytest.fixture(name="array_source")
def array_source_fixture():
    return ArraySource
