"""Target vectors from annotations: one value per class for a window.

1 = present, 0 = absent, NaN = unknown (masked out of the loss), values in (0, 1) = soft.
Clip labels give multi-hot vectors (:func:`clip_targets`); time boxes give per-window vectors with
unknown classes left NaN (:func:`event_targets`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

import numpy as np
import pandas as pd

from wildtag.config import ConfigError
from wildtag.labels.errors import LabelError
from wildtag.labels.names import label_list

if TYPE_CHECKING:
    from wildtag.labels import ClassMap

Unknown = Literal["nan", "zero"]

# Float tolerance when comparing an overlap with its required share (e.g. an event exactly inside).
_EPS_S = 1e-9


def clip_targets(
    labels: Iterable[str] | str,
    secondary_labels: Iterable[str] | str | None,
    class_map: ClassMap,
    *,
    primary_value: float = 1.0,
    secondary_value: float = 1.0,
    absent_value: float = 0.0,
) -> np.ndarray:
    """Multi-hot float32 (K,) vector for clip labels; a primary label wins over the same secondary one.

    BirdCLEF-style smoothing is just other values:

        >>> clip_targets(["wren"], ["robin"], cmap, primary_value=0.995, secondary_value=0.3,
        ...              absent_value=0.0025)
    """
    return clip_target_from_index(
        labels,
        secondary_labels,
        class_map.index,
        len(class_map),
        primary_value,
        secondary_value,
        absent_value,
    )


def clip_target_from_index(
    labels: Iterable[str] | str,
    secondary_labels: Iterable[str] | str | None,
    index: Callable[[str], int],
    num_classes: int,
    primary_value: float,
    secondary_value: float,
    absent_value: float,
) -> np.ndarray:
    target = np.full(num_classes, absent_value, dtype=np.float32)
    for name in label_names(secondary_labels):
        target[index(name)] = secondary_value
    for name in label_names(labels):
        target[index(name)] = primary_value
    return target


def clip_weights(
    labels: Iterable[str] | str,
    secondary_labels: Iterable[str] | str | None,
    class_map: ClassMap,
    *,
    negative_weight: float = 1.0,
) -> np.ndarray:
    """Per-class loss weights, float32 (K,): 1 for the labelled classes (primary and secondary), and
    ``negative_weight`` for the rest, whose "absent" is only implied.

    Weak external data (RFCx 2021 winners) counts its implied negatives at 0.1:

        >>> clip_weights(["wren"], [], cmap, negative_weight=0.1)
    """
    return clip_weight_from_index(labels, secondary_labels, class_map.index, len(class_map), negative_weight)


def clip_weight_from_index(
    labels: Iterable[str] | str,
    secondary_labels: Iterable[str] | str | None,
    index: Callable[[str], int],
    num_classes: int,
    negative_weight: float,
) -> np.ndarray:
    weight = np.full(num_classes, negative_weight, dtype=np.float32)
    for name in (*label_names(secondary_labels), *label_names(labels)):
        weight[index(name)] = 1.0
    return weight


def label_names(value: Iterable[str] | str | None) -> list[str]:
    """Label names from a list, an array (Parquet round-trip), a single string, or None/NaN."""
    return label_list(value)


@dataclass(frozen=True)
class RecordingEvents:
    """The events of one recording as parallel arrays, for fast per-window target building."""

    t0_s: np.ndarray
    t1_s: np.ndarray
    class_index: np.ndarray
    present: np.ndarray
    weight: np.ndarray

    @classmethod
    def from_table(cls, events: pd.DataFrame, lookup: Mapping[str, int]) -> RecordingEvents:
        """Arrays from an Event table whose labels are all in ``lookup`` (see :func:`encode_event_labels`)."""
        return cls(
            t0_s=events["t0_s"].to_numpy(np.float64),
            t1_s=events["t1_s"].to_numpy(np.float64),
            class_index=encode_event_labels(events, lookup),
            present=_present(events),
            weight=_weight(events),
        )

    def subset(self, mask: np.ndarray) -> RecordingEvents:
        return RecordingEvents(
            self.t0_s[mask], self.t1_s[mask], self.class_index[mask], self.present[mask], self.weight[mask]
        )


def event_targets(
    window_t0_s: float,
    window_t1_s: float,
    events_of_recording: pd.DataFrame,
    class_map: ClassMap,
    *,
    unknown: Unknown = "nan",
    min_overlap: float = 0.5,
) -> tuple[np.ndarray, np.ndarray]:
    """Target and per-class weight, float32 (K,) each, for a window over one recording's events.

    An event counts when it overlaps the window by at least ``min_overlap`` of the shorter of the event
    and the window. Counted present events give 1, counted absent boxes 0 unless the same class is also
    present; other classes are NaN (``unknown="nan"``) or 0 (``unknown="zero"``). A counted class takes
    the largest ``weight`` of the events that decided it; other classes weigh 1.

        window      |=========|
        event A (TP)    [--]            -> A = 1
        event B (FP)          [------]  -> B = NaN (overlaps 1/6 of itself, less than min_overlap)
    """
    arrays = RecordingEvents.from_table(events_of_recording, class_lookup(class_map))
    return targets_from_events(window_t0_s, window_t1_s, arrays, len(class_map), unknown, min_overlap)


def targets_from_events(
    window_t0_s: float,
    window_t1_s: float,
    events: RecordingEvents,
    num_classes: int,
    unknown: Unknown = "nan",
    min_overlap: float = 0.5,
) -> tuple[np.ndarray, np.ndarray]:
    """:func:`event_targets` over pre-built arrays (what samplers call per item)."""
    check_unknown(unknown)
    check_min_overlap(min_overlap)
    target = np.full(num_classes, np.nan if unknown == "nan" else 0.0, dtype=np.float32)
    weight = np.ones(num_classes, dtype=np.float32)
    overlap_s = np.minimum(events.t1_s, window_t1_s) - np.maximum(events.t0_s, window_t0_s)
    need_s = min_overlap * np.minimum(events.t1_s - events.t0_s, window_t1_s - window_t0_s)
    counted = (overlap_s > 0) & (overlap_s >= need_s - _EPS_S)
    # Absent first, then present, so that presence overrides absence of the same class.
    for value in (False, True):
        chosen = counted & (events.present == value)
        if not chosen.any():
            continue
        best = np.full(num_classes, -np.inf)
        np.maximum.at(best, events.class_index[chosen], events.weight[chosen])
        touched = np.isfinite(best)
        target[touched] = float(value)
        weight[touched] = best[touched]
    return target, weight


def group_events(recording_ids: np.ndarray, events: RecordingEvents) -> dict[str, RecordingEvents]:
    """Split event arrays by recording id (one pass, not one scan per recording)."""
    codes, uniques = pd.factorize(recording_ids)
    order = np.argsort(codes, kind="stable")
    bounds = np.searchsorted(codes[order], np.arange(len(uniques) + 1))
    return {str(rid): events.subset(order[bounds[j] : bounds[j + 1]]) for j, rid in enumerate(uniques)}


def class_lookup(class_map: ClassMap) -> dict[str, int]:
    """Name -> index of a class map, built once so per-row lookups stay cheap."""
    return {name: i for i, name in enumerate(class_map.names)}


def encode_event_labels(events: pd.DataFrame, lookup: Mapping[str, int]) -> np.ndarray:
    """Class index per event row; an unknown label raises naming the row's source."""
    labels = events["label"].to_numpy(object)
    out = np.empty(len(labels), dtype=np.int64)
    for i, name in enumerate(labels):
        try:
            out[i] = lookup[name]
        except KeyError:
            raise row_error(
                events,
                i,
                f"label {name!r} is not in the class map "
                f"({len(lookup)} classes); add it to the class map or drop the row",
            ) from None
    return out


def row_error(table: pd.DataFrame, i: int, reason: str) -> LabelError:
    """A :class:`LabelError` for row ``i`` of ``table``, naming its ``source`` ("file:line") if it has one."""
    if "source" in table.columns:
        source = table["source"].iloc[i]
        if isinstance(source, str) and source:
            return LabelError.at(source, reason)
    return LabelError(None, i, reason)


def check_unknown(unknown: str) -> None:
    if unknown not in ("nan", "zero"):
        raise ConfigError(f"unknown must be 'nan' or 'zero', got {unknown!r}")


def check_min_overlap(min_overlap: float) -> None:
    if not 0.0 <= min_overlap <= 1.0:
        raise ConfigError(f"min_overlap is a share of the event or window, in [0, 1]; got {min_overlap}")


def _present(events: pd.DataFrame) -> np.ndarray:
    if "present" not in events.columns:
        return np.ones(len(events), dtype=bool)
    return events["present"].to_numpy(bool)


def _weight(events: pd.DataFrame) -> np.ndarray:
    if "weight" not in events.columns:
        return np.ones(len(events), dtype=np.float64)
    return events["weight"].to_numpy(np.float64)
