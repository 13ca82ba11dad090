"""Window samplers: what to read for training item ``i`` and what it should be taught.

A sampler is a plain object with ``__len__`` (items per epoch) and ``item(index, rng)`` returning a
:class:`~wildtag.data.items.WindowItem`. It never reads audio; :class:`~wildtag.data.dataset.WindowDataset`
does. Samplers are found by name:

    >>> sampler = create_sampler("event_window", events=events, recordings=recordings,
    ...                          class_map=cmap, window_s=5.0)

``recordings`` is a :class:`~wildtag.audio.RecordingSet` (``prepare_data`` makes one): every sampler
reads durations from it, and :func:`require_recordings` is the one check that a table's rows have one.
    >>> list_samplers()
    ['box_crop', 'event_window', 'full_clip', 'random_window']
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, Protocol, runtime_checkable

import numpy as np
import pandas as pd

from wildtag.audio.recording import Recording
from wildtag.config import ConfigError
from wildtag.data.items import WindowItem
from wildtag.data.targets import row_error
from wildtag.registry import Registry


@runtime_checkable
class WindowSampler(Protocol):
    """Anything that names a window and its target for each item index of an epoch."""

    def __len__(self) -> int:
        """Items per epoch."""
        ...

    def item(self, index: int, rng: np.random.Generator) -> WindowItem:
        """The window for ``index``; all randomness comes from ``rng``."""
        ...


SAMPLERS: Registry[WindowSampler] = Registry("sampler")


def create_sampler(name: str, /, **kwargs: Any) -> WindowSampler:
    """Build the sampler registered under ``name`` with its keyword arguments."""
    return SAMPLERS.create(name, **kwargs)


def list_samplers(pattern: str = "*") -> list[str]:
    """Registered sampler names matching a shell-style ``pattern``."""
    return SAMPLERS.list(pattern)


def require_columns(table: pd.DataFrame, columns: Iterable[str], what: str) -> None:
    """Raise naming the missing columns of ``table`` (an Event or ClipLabels table)."""
    missing = [c for c in columns if c not in table.columns]
    if missing:
        raise ValueError(f"{what} table lacks column(s) {missing}; it has {list(table.columns)}")


def require_recordings(table: pd.DataFrame, recordings: Mapping[str, Recording], what: str) -> dict[str, float]:
    """Every recording of ``table`` must be in ``recordings``; raise naming the first row whose is not.

    Returns ``{recording id: duration_s}`` for the table's recordings, what the samplers place windows by.
    """
    if not isinstance(recordings, Mapping) or any(not isinstance(r, Recording) for r in recordings.values()):
        raise TypeError("recordings must be a RecordingSet (a mapping of id -> Recording); see prepare_data")
    durations_s: dict[str, float] = {}
    for i, rid in enumerate(table["recording_id"].to_numpy(object)):
        if rid in durations_s:
            continue
        if rid not in recordings:
            raise row_error(
                table,
                i,
                f"recording {rid!r} of the {what} table is not in the recording set "
                f"({len(recordings)} recordings); index its audio or drop the row",
            )
        durations_s[rid] = recordings[rid].duration_s
    return durations_s


def empty_recording_durations(
    empty_recordings: Iterable[str], table: pd.DataFrame, recordings: Mapping[str, Recording]
) -> dict[str, float]:
    """``{recording id: duration_s}`` of recordings that were checked and hold nothing (a Raven table with a
    header and no rows): each must be in ``recordings`` and have no row in ``table``."""
    ids = list(dict.fromkeys(str(r) for r in empty_recordings))
    missing = [r for r in ids if r not in recordings]
    if missing:
        raise ValueError(f"empty recording(s) {missing[:5]} are not in the recording set ({len(recordings)} recordings)")
    with_rows = sorted(set(ids) & set(table["recording_id"].astype(str)))
    if with_rows:
        raise ValueError(f"recording(s) {with_rows[:5]} have label rows; they are not empty")
    return {r: recordings[r].duration_s for r in ids}


def background_start(duration_s: float, length_s: float, rng: np.random.Generator) -> float:
    """A uniformly random start of a window of ``length_s`` inside [0, duration_s] (0 if it does not fit)."""
    return float(rng.uniform(0.0, duration_s - length_s)) if duration_s > length_s else 0.0


def items_per_epoch(samples_per_epoch: int | None, num_rows: int, what: str) -> int:
    """``samples_per_epoch`` when given (must be positive), else one item per row."""
    if num_rows == 0:
        raise ConfigError(f"no {what} to sample from (is the training split or fold empty?)")
    if samples_per_epoch is None:
        return num_rows
    if samples_per_epoch <= 0:
        raise ConfigError(f"samples_per_epoch must be positive, got {samples_per_epoch}")
    return int(samples_per_epoch)


def check_index(index: int, length: int) -> None:
    if not 0 <= index < length:
        raise IndexError(f"item index {index} outside the epoch's {length} items")


def clamp_start(start_s: float, length_s: float, duration_s: float) -> float:
    """Shift a window of ``length_s`` starting at ``start_s`` inside [0, duration_s]; start at 0 if too long.

    recording  [0 ............ duration_s]
    window                        [ start_s ... start_s + length_s ]  -> shifted left to end at duration_s
    """
    if duration_s <= length_s:
        return 0.0
    return float(min(max(start_s, 0.0), duration_s - length_s))
