"""``random_window`` and ``full_clip``: windows over clip-labelled recordings (BirdCLEF / Freesound style)."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import TYPE_CHECKING, Literal

import numpy as np
import pandas as pd

from wildtag.data.items import WindowItem
from wildtag.data.samplers import SAMPLERS, check_index, items_per_epoch, require_columns, require_recordings
from wildtag.data.targets import class_lookup, clip_target_from_index, label_names, row_error

if TYPE_CHECKING:
    from wildtag.audio import Recording
    from wildtag.labels import ClassMap

Crop = Literal["start", "center", "random"]


class _ClipWindows:
    """Shared part: labelled spans and their multi-hot targets, one per ClipLabels row."""

    def __init__(
        self,
        clip_labels: pd.DataFrame,
        recordings: Mapping[str, Recording],
        class_map: ClassMap,
        window_s: float,
        samples_per_epoch: int | None,
        primary_value: float,
        secondary_value: float,
        absent_value: float,
    ):
        require_columns(clip_labels, ("recording_id", "labels"), "ClipLabels")
        durations_s = require_recordings(clip_labels, recordings, "ClipLabels")
        if not window_s > 0:
            raise ValueError(f"window_s must be positive, got {window_s}")
        self.window_s = float(window_s)
        self._recording = clip_labels["recording_id"].to_numpy(object)
        self._spans_s = _spans(clip_labels, durations_s)
        self._targets, self._labelled = _targets(
            clip_labels, class_map, primary_value, secondary_value, absent_value
        )
        self._negative_weight = _negative_weights(clip_labels)
        self._row_weight = _weight_column(clip_labels, "weight")
        self._length = items_per_epoch(samples_per_epoch, len(self._recording), "clip labels")

    def __len__(self) -> int:
        return self._length

    def item(self, index: int, rng: np.random.Generator) -> WindowItem:
        check_index(index, self._length)
        k = index % len(self._recording)
        span_t0_s, span_t1_s = self._spans_s[k]
        if span_t1_s - span_t0_s <= self.window_s:
            # The whole span, shorter than a window: the dataset zero-pads it to window_s.
            t0_s, t1_s = span_t0_s, span_t1_s
        else:
            t0_s = self._start(span_t0_s, span_t1_s - self.window_s, rng)
            t1_s = t0_s + self.window_s
        return WindowItem(self._recording[k], t0_s, t1_s, self._targets[k].copy(), self._weight(k))

    def _weight(self, k: int) -> np.ndarray | float:
        """The row's ``weight`` (1 without the column), times, per class, 1 for the row's labelled classes
        and its ``negative_weight`` elsewhere when the table has that column."""
        row = 1.0 if self._row_weight is None else float(self._row_weight[k])
        if self._negative_weight is None:
            return row
        weight = np.full(self._targets.shape[1], self._negative_weight[k], dtype=np.float32)
        weight[self._labelled[k]] = 1.0
        return weight * np.float32(row)

    def _start(self, first_s: float, last_s: float, rng: np.random.Generator) -> float:
        raise NotImplementedError


@SAMPLERS.register("random_window")
class RandomWindowSampler(_ClipWindows):
    """A window of ``window_s`` at a random place inside each row's labelled span.

    The span is ``t0_s..t1_s`` of the ClipLabels row, or the whole recording where they are NaN (or
    absent). A span shorter than the window gives the whole span, starting at its start, which the
    dataset zero-pads to ``window_s`` (recording ``valid_s``). Targets are multi-hot from
    :func:`~wildtag.data.targets.clip_targets` with the given values (BirdCLEF smoothing:
    ``primary_value=0.995, secondary_value=0.3, absent_value=0.0025``).

    Loss weights: 1 (a scalar), unless the table has a float column ``negative_weight``: then each item
    weighs 1 for its row's labelled classes (primary and secondary) and the row's ``negative_weight``
    (NaN = 1) for the other classes, whose absence is only implied. Weak external recordings then
    teach their negatives softly (0.1 in the RFCx 2021 winners' solution). A ``weight`` column (NaN = 1;
    pseudo-labelled rows carry one) multiplies the whole row's loss weight.

        >>> sampler = RandomWindowSampler(clips, recordings, cmap, window_s=5.0)
    """

    def __init__(
        self,
        clip_labels: pd.DataFrame,
        recordings: Mapping[str, Recording],
        class_map: ClassMap,
        window_s: float,
        *,
        samples_per_epoch: int | None = None,
        primary_value: float = 1.0,
        secondary_value: float = 1.0,
        absent_value: float = 0.0,
    ):
        super().__init__(
            clip_labels, recordings, class_map, window_s, samples_per_epoch,
            primary_value, secondary_value, absent_value,
        )  # fmt: skip

    def _start(self, first_s: float, last_s: float, rng: np.random.Generator) -> float:
        return float(rng.uniform(first_s, last_s))


@SAMPLERS.register("full_clip")
class FullClipSampler(_ClipWindows):
    """One window per row, for validation and clip-level scoring: the span's start, centre or a random crop.

    Spans longer than ``window_s`` are cropped by ``crop``; shorter ones are taken whole and
    zero-padded by the dataset. ``crop="start"`` and ``"center"`` use no randomness. Targets and the
    ``negative_weight`` column work as in :class:`RandomWindowSampler`.

        span      |--------------------------|
        start     |======|
        center               |======|
    """

    def __init__(
        self,
        clip_labels: pd.DataFrame,
        recordings: Mapping[str, Recording],
        class_map: ClassMap,
        window_s: float,
        *,
        crop: Crop = "start",
        samples_per_epoch: int | None = None,
        primary_value: float = 1.0,
        secondary_value: float = 1.0,
        absent_value: float = 0.0,
    ):
        if crop not in ("start", "center", "random"):
            raise ValueError(f"crop must be 'start', 'center' or 'random', got {crop!r}")
        self.crop: Crop = crop
        super().__init__(
            clip_labels, recordings, class_map, window_s, samples_per_epoch,
            primary_value, secondary_value, absent_value,
        )  # fmt: skip

    def _start(self, first_s: float, last_s: float, rng: np.random.Generator) -> float:
        if self.crop == "start":
            return first_s
        if self.crop == "center":
            return 0.5 * (first_s + last_s)
        return float(rng.uniform(first_s, last_s))


def _spans(clip_labels: pd.DataFrame, durations_s: Mapping[str, float]) -> np.ndarray:
    """(n, 2) labelled span per row: t0_s/t1_s, NaN (or no column) meaning the recording's edge."""
    n = len(clip_labels)
    t0_s = clip_labels["t0_s"].to_numpy(np.float64) if "t0_s" in clip_labels else np.full(n, np.nan)
    t1_s = clip_labels["t1_s"].to_numpy(np.float64) if "t1_s" in clip_labels else np.full(n, np.nan)
    spans = np.empty((n, 2))
    for i, rid in enumerate(clip_labels["recording_id"].to_numpy(object)):
        duration_s = float(durations_s[rid])
        start_s = 0.0 if math.isnan(t0_s[i]) else t0_s[i]
        end_s = duration_s if math.isnan(t1_s[i]) else min(t1_s[i], duration_s)
        if not end_s > start_s >= 0:
            raise row_error(
                clip_labels,
                i,
                f"labelled span {t0_s[i]}..{t1_s[i]} s of recording {rid!r} "
                f"is empty or outside its {duration_s} s",
            )
        spans[i] = start_s, end_s
    return spans


def _targets(
    clip_labels: pd.DataFrame,
    class_map: ClassMap,
    primary_value: float,
    secondary_value: float,
    absent_value: float,
) -> tuple[np.ndarray, list[np.ndarray]]:
    """(n, K) float32 targets, one per row, and each row's labelled class indices (primary and
    secondary); an unknown label raises naming its row."""
    lookup = class_lookup(class_map)
    n = len(clip_labels)
    secondary = clip_labels["secondary_labels"] if "secondary_labels" in clip_labels else [None] * n
    out = np.empty((n, len(lookup)), dtype=np.float32)
    labelled = []
    for i, (labels, extra) in enumerate(zip(clip_labels["labels"], secondary, strict=True)):

        def index(name: str, i: int = i) -> int:
            try:
                return lookup[name]
            except KeyError:
                raise row_error(
                    clip_labels,
                    i,
                    f"label {name!r} is not in the class map "
                    f"({len(lookup)} classes); add it to the class map or drop it from the row",
                ) from None

        out[i] = clip_target_from_index(
            labels, extra, index, len(lookup), primary_value, secondary_value, absent_value
        )
        names = (*label_names(extra), *label_names(labels))
        labelled.append(np.array([index(name) for name in names], dtype=np.int64))
    return out, labelled


def _negative_weights(clip_labels: pd.DataFrame) -> np.ndarray | None:
    """The ``negative_weight`` column as float (NaN -> 1), None without one; a bad cell names its row."""
    return _weight_column(clip_labels, "negative_weight")


def _weight_column(clip_labels: pd.DataFrame, column: str) -> np.ndarray | None:
    """Column ``column`` as float weights (NaN -> 1), None without one; a bad cell names its row."""
    if column not in clip_labels.columns:
        return None
    raw = clip_labels[column]
    given = raw.notna().to_numpy(bool)
    if not pd.api.types.is_numeric_dtype(raw):
        given = given & raw.astype("string").str.strip().ne("").fillna(False).to_numpy(bool)
    values = pd.to_numeric(raw.where(given), errors="coerce").to_numpy(np.float64, na_value=np.nan)
    bad = (given & np.isnan(values)) | (values < 0) | np.isinf(values)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        value = raw.iloc[i]
        value = value.item() if isinstance(value, np.generic) else value
        raise row_error(
            clip_labels, i, f"{column} is {value!r}; expected a finite weight >= 0 (empty means 1)"
        )
    return np.where(np.isnan(values), 1.0, values)
