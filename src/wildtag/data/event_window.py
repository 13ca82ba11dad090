"""``event_window``: a window of fixed length around one annotated event, at a random offset."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from wildtag.data.items import WindowItem
from wildtag.data.samplers import (
    SAMPLERS,
    background_start,
    check_index,
    clamp_start,
    empty_recording_durations,
    items_per_epoch,
    require_columns,
    require_recordings,
)
from wildtag.data.targets import (
    RecordingEvents,
    Unknown,
    check_min_overlap,
    check_unknown,
    class_lookup,
    group_events,
    targets_from_events,
)

if TYPE_CHECKING:
    from wildtag.audio import Recording
    from wildtag.labels import ClassMap


@SAMPLERS.register("event_window")
class EventWindowSampler:
    """Windows of ``window_s`` that contain one event each, with targets from all events they overlap.

    Item ``i`` takes event ``i % n_events`` (absent boxes too when ``include_absent``) and places the
    window at a random offset that keeps the whole event inside it; an event longer than the window
    gets a random window inside the event. The window stays inside the recording when the recording
    is at least ``window_s`` long, else it starts at 0 (the reader zero-pads).

        recording  |-----------------------------------------------|
        event                      [=====]
        window (one draw)     |--------------|

    Targets come from :func:`~wildtag.data.targets.event_targets`: overlapped present events 1,
    overlapped absent boxes 0 (unless the class is also present), other classes NaN or 0 (``unknown``),
    per-class weights from the events' ``weight`` column.

    ``empty_recordings`` are recordings checked with nothing found (a Raven table with a header and no
    rows): each adds one background item, a window at a random offset in it, with every class absent
    (0) when ``unknown="zero"`` (absences count), else every class unknown (NaN, masked out of the loss).

        >>> sampler = EventWindowSampler(events, recordings, cmap, window_s=5.0)
        >>> item = sampler.item(0, np.random.default_rng(0))
    """

    def __init__(
        self,
        events: pd.DataFrame,
        recordings: Mapping[str, Recording],
        class_map: ClassMap,
        window_s: float,
        *,
        unknown: Unknown = "nan",
        include_absent: bool = True,
        samples_per_epoch: int | None = None,
        min_overlap: float = 0.5,
        empty_recordings: Iterable[str] = (),
    ):
        require_columns(events, ("recording_id", "t0_s", "t1_s", "label"), "Event")
        check_unknown(unknown)
        check_min_overlap(min_overlap)
        if not window_s > 0:
            raise ValueError(f"window_s must be positive, got {window_s}")
        self.window_s = float(window_s)
        self.unknown: Unknown = unknown
        self.min_overlap = float(min_overlap)
        self.num_classes = len(class_map)
        self._durations_s = require_recordings(events, recordings, "Event")

        all_events = RecordingEvents.from_table(events, class_lookup(class_map))
        recording_ids = events["recording_id"].to_numpy(object)
        self._events_by_recording = group_events(recording_ids, all_events)
        picked = all_events.present | include_absent
        self._pick_recording = recording_ids[picked]
        self._pick_t0_s = all_events.t0_s[picked]
        self._pick_t1_s = all_events.t1_s[picked]
        self._empty_durations_s = empty_recording_durations(empty_recordings, events, recordings)
        self._empty = list(self._empty_durations_s)
        self._length = items_per_epoch(samples_per_epoch, self.num_events + self.num_background, "events")

    def __len__(self) -> int:
        return self._length

    @property
    def num_events(self) -> int:
        """Events the items cycle over."""
        return len(self._pick_recording)

    @property
    def num_background(self) -> int:
        """Background items: one per empty recording."""
        return len(self._empty)

    def item(self, index: int, rng: np.random.Generator) -> WindowItem:
        check_index(index, self._length)
        k = index % (self.num_events + self.num_background)
        if k >= self.num_events:
            return self._background_item(self._empty[k - self.num_events], rng)
        rid = self._pick_recording[k]
        t0_s = self._window_start(self._pick_t0_s[k], self._pick_t1_s[k], self._durations_s[rid], rng)
        t1_s = t0_s + self.window_s
        target, weight = targets_from_events(
            t0_s, t1_s, self._events_by_recording[rid], self.num_classes, self.unknown, self.min_overlap
        )
        return WindowItem(rid, t0_s, t1_s, target, weight)

    def _background_item(self, recording_id: str, rng: np.random.Generator) -> WindowItem:
        """A window anywhere in a recording that holds nothing: all absent, or all unknown."""
        t0_s = background_start(self._empty_durations_s[recording_id], self.window_s, rng)
        target = np.full(self.num_classes, 0.0 if self.unknown == "zero" else np.nan, dtype=np.float32)
        return WindowItem(recording_id, t0_s, t0_s + self.window_s, target)

    def _window_start(
        self, event_t0_s: float, event_t1_s: float, duration_s: float, rng: np.random.Generator
    ) -> float:
        window_s = self.window_s
        if event_t1_s - event_t0_s <= window_s:
            lo, hi = event_t1_s - window_s, event_t0_s  # starts keeping the event inside the window
        else:
            lo, hi = event_t0_s, event_t1_s - window_s  # starts keeping the window inside the event
        if duration_s >= window_s:
            lo, hi = max(lo, 0.0), min(hi, duration_s - window_s)
        elif event_t1_s - event_t0_s <= window_s:
            return 0.0  # a recording shorter than the window: its start, zero-padded by the reader
        start_s = rng.uniform(lo, hi) if hi > lo else lo
        return clamp_start(start_s, window_s, duration_s)
