"""``box_crop``: per-class time-frequency crops around true- and false-positive boxes (RFCx 2021 style)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from wildtag.config import ConfigError
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
from wildtag.data.targets import RecordingEvents, class_lookup, group_events, targets_from_events
from wildtag.labels.errors import LabelError

if TYPE_CHECKING:
    from wildtag.audio import Recording
    from wildtag.labels import ClassMap


@SAMPLERS.register("box_crop")
class BoxCropSampler:
    """One crop per box, of a fixed size per class, learnt from the true-positive boxes.

    Each class gets a band ``(min f0_hz, max f1_hz)`` and a duration (its longest box) over its
    true-positive boxes only; false-positive boxes never change them. Item ``i`` takes box
    ``i % n_boxes`` (TP or FP), a window of its class's duration centred on the box (shifted by up to
    ``time_jitter`` times that duration, kept inside the recording), and the class band as
    ``band_hz``. Target: that class 1 for a TP, 0 for an FP, every other class NaN. An FP crop that
    a TP box of the same class overlaps by half (of the shorter) is labelled 1: the sound is there.

        class 0 TP boxes:  [ 6-8 kHz, 1.0 s ]  [ 5-7 kHz, 1.3 s ]  ->  band (5000, 8000), 1.3 s

    ``class_bands_hz`` and ``class_durations_s`` (dicts keyed by class name, in class order) are
    what inference needs to crop the same way; save them with the model.

    ``empty_recordings`` are recordings checked with nothing found (a Raven table with a header and no
    rows): each adds one background item, the crop of a random class (its band and duration) at a random
    offset, taught like a false-positive box of that class (that class 0, every other class NaN).

        >>> sampler = BoxCropSampler(events, recordings, cmap, time_jitter=0.1)
        >>> sampler.class_bands_hz["wren"]
        (5000.0, 8000.0)
    """

    def __init__(
        self,
        events: pd.DataFrame,
        recordings: Mapping[str, Recording],
        class_map: ClassMap,
        *,
        samples_per_epoch: int | None = None,
        time_jitter: float = 0.0,
        class_boxes_from: pd.DataFrame | None = None,
        empty_recordings: Iterable[str] = (),
    ):
        """``class_boxes_from``: learn bands and durations from this table (e.g. all folds' boxes, so that
        every fold crops the same way and can be averaged) instead of ``events``."""
        require_columns(events, ("recording_id", "t0_s", "t1_s", "f0_hz", "f1_hz", "label"), "Event")
        if not 0.0 <= time_jitter:
            raise ConfigError(f"time_jitter is a share of the class duration, >= 0; got {time_jitter}")
        self.time_jitter = float(time_jitter)
        self.num_classes = len(class_map)
        self._durations_s = require_recordings(events, recordings, "Event")

        self._boxes = RecordingEvents.from_table(events, class_lookup(class_map))
        self._recording = events["recording_id"].to_numpy(object)
        self._tp_by_recording = group_events(
            self._recording[self._boxes.present], self._boxes.subset(self._boxes.present)
        )
        if class_boxes_from is None:
            bands, durations = _learn_class_boxes(events, self._boxes, list(class_map.names))
        else:
            reference = RecordingEvents.from_table(class_boxes_from, class_lookup(class_map))
            bands, durations = _learn_class_boxes(class_boxes_from, reference, list(class_map.names))
        self._band_of_class = bands
        self._duration_of_class = durations
        self.class_bands_hz: dict[str, tuple[float, float]] = {
            name: (float(bands[i, 0]), float(bands[i, 1])) for i, name in enumerate(class_map.names)
        }
        self.class_durations_s: dict[str, float] = {
            name: float(durations[i]) for i, name in enumerate(class_map.names)
        }
        self._empty_durations_s = empty_recording_durations(empty_recordings, events, recordings)
        self._empty = list(self._empty_durations_s)
        self._length = items_per_epoch(samples_per_epoch, len(self._recording) + len(self._empty), "boxes")

    def __len__(self) -> int:
        return self._length

    @property
    def max_duration_s(self) -> float:
        """The longest crop any item can have: the dataset's ``window_s`` must be at least this."""
        return float(self._duration_of_class.max())

    def item(self, index: int, rng: np.random.Generator) -> WindowItem:
        check_index(index, self._length)
        k = index % (len(self._recording) + len(self._empty))
        if k >= len(self._recording):
            return self._background_item(self._empty[k - len(self._recording)], rng)
        rid = self._recording[k]
        c = int(self._boxes.class_index[k])
        crop_s = float(self._duration_of_class[c])
        centre_s = 0.5 * (self._boxes.t0_s[k] + self._boxes.t1_s[k])
        if self.time_jitter > 0:
            centre_s += rng.uniform(-1.0, 1.0) * self.time_jitter * crop_s
        t0_s = clamp_start(centre_s - 0.5 * crop_s, crop_s, self._durations_s[rid])
        t1_s = t0_s + crop_s
        target = np.full(self.num_classes, np.nan, dtype=np.float32)
        target[c] = 1.0 if self._boxes.present[k] or self._tp_inside(rid, c, t0_s, t1_s) else 0.0
        band = self._band_of_class[c]
        return WindowItem(rid, t0_s, t1_s, target, float(self._boxes.weight[k]), (band[0], band[1]))

    def _background_item(self, recording_id: str, rng: np.random.Generator) -> WindowItem:
        """The crop of a random class anywhere in a recording that holds nothing: that class absent."""
        c = int(rng.integers(self.num_classes))
        crop_s = float(self._duration_of_class[c])
        t0_s = background_start(self._empty_durations_s[recording_id], crop_s, rng)
        target = np.full(self.num_classes, np.nan, dtype=np.float32)
        target[c] = 0.0
        band = self._band_of_class[c]
        return WindowItem(recording_id, t0_s, t0_s + crop_s, target, 1.0, (band[0], band[1]))

    def _tp_inside(self, recording_id: str, class_index: int, t0_s: float, t1_s: float) -> bool:
        tps = self._tp_by_recording.get(recording_id)
        if tps is None:
            return False
        target, _ = targets_from_events(t0_s, t1_s, tps, self.num_classes, "nan", 0.5)
        return bool(target[class_index] == 1.0)


def _learn_class_boxes(
    events: pd.DataFrame, boxes: RecordingEvents, names: list[str]
) -> tuple[np.ndarray, np.ndarray]:
    """Per class: band (K, 2) = (min f0, max f1) and duration (K,) = longest box, over TP boxes."""
    f0_hz = events["f0_hz"].to_numpy(np.float64)
    f1_hz = events["f1_hz"].to_numpy(np.float64)
    bands = np.full((len(names), 2), np.nan)
    durations = np.zeros(len(names))
    no_tp, no_band = [], []
    for c, name in enumerate(names):
        tp = boxes.present & (boxes.class_index == c)
        if not tp.any():
            no_tp.append(name)
            continue
        has_band = tp & np.isfinite(f0_hz) & np.isfinite(f1_hz)
        if not has_band.any():
            no_band.append(name)
            continue
        bands[c] = f0_hz[has_band].min(), f1_hz[has_band].max()
        durations[c] = (boxes.t1_s[tp] - boxes.t0_s[tp]).max()
    if no_tp:
        raise LabelError(None, None,
            f"box_crop learns each class's band and duration from its true-positive boxes, but "
            f"{len(no_tp)} class(es) have none: {no_tp[:10]}; add TP boxes or drop them from the class map"
        )
    if no_band:
        raise LabelError(None, None,
            f"box_crop needs frequency bands, but the TP boxes of {no_band[:10]} all lack f0_hz/f1_hz"
        )
    return bands, durations
