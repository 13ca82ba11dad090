"""Detections: window scores above a per-class threshold, turned into events with a start and an end.

    >>> settings = DetectionSettings.from_dict({"threshold": 0.5, "max_gap_s": 1.0})
    >>> events = detect(t0_s, t1_s, scores, ["wren", "robin"], settings.thresholds(["wren", "robin"]),
    ...                 settings)
    >>> events[["t0_s", "t1_s", "class", "score_max", "score_mean", "n_windows"]]

Two ways to turn windows into events (``method``):

``merge`` (default)
    Per class, windows at or above the threshold that overlap, touch, or lie at most ``max_gap_s`` apart
    become one event from the first window's start to the last one's end: 5-s windows every 2.5 s above
    threshold at 10, 12.5 and 15 s give one event [10, 20) with ``n_windows`` 3.
``nms``
    Per class, non-maximum suppression: the highest-scoring window above the threshold is kept, every
    window overlapping it by more than ``nms_iou`` (intersection over union; 0 = any overlap) dropped,
    and so on: events are windows, none overlapping another of its class.

Events shorter than ``min_duration_s`` are dropped. A model with per-class boxes (the RFCx box-crop
recipe, ``card.inference.class_boxes``) gives each event its class's band ``f0_hz``, ``f1_hz``;
otherwise those are empty (NaN).

Thresholds (``threshold``): one number for every class, or a file (what ``wildtag thresholds`` writes):

* CSV with columns ``class,threshold``, one row per class; a row with class ``*`` is the default for
  every class without its own row;
* JSON, an object ``{"class": threshold, ..., "*": default}``.

A model card may carry defaults (``inference.detections``, the same keys as :class:`DetectionSettings`);
``predict --detect`` uses them unless options override them.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:  # annotations only: pandas loads with the first table, not at start-up
    import pandas as pd

from wildtag.config import ConfigError
from wildtag.suggest import did_you_mean

METHODS = ("merge", "nms")
GLOBAL_CLASS = "*"  # the default row of a thresholds table, as wildtag.postprocess.thresholds writes it
DETECTION_COLUMNS = ("t0_s", "t1_s", "class", "score_max", "score_mean", "n_windows", "f0_hz", "f1_hz")


@dataclass(frozen=True)
class DetectionSettings:
    """How window scores become events (see the module doc)."""

    threshold: float | str = 0.5  # a number, or the path of a thresholds CSV/JSON file
    method: str = "merge"
    max_gap_s: float = 0.0
    min_duration_s: float = 0.0
    nms_iou: float = 0.0

    def __post_init__(self) -> None:
        if self.method not in METHODS:
            raise ConfigError(f"detections: method {self.method!r} is not one of {', '.join(METHODS)}"
                              f"{did_you_mean(str(self.method), METHODS)}")
        for name in ("max_gap_s", "min_duration_s"):
            value = getattr(self, name)
            if not isinstance(value, (int, float)) or not value >= 0:
                raise ConfigError(f"detections: {name} must be a number >= 0, got {value!r}")
        if not isinstance(self.nms_iou, (int, float)) or not 0 <= self.nms_iou < 1:
            raise ConfigError(f"detections: nms_iou must be in [0, 1), got {self.nms_iou!r}")
        if isinstance(self.threshold, (int, float)) and not isinstance(self.threshold, bool):
            _check_threshold(float(self.threshold), "detections: threshold")
        elif not isinstance(self.threshold, (str, Path)):
            raise ConfigError(f"detections: threshold must be a number or a file, got {self.threshold!r}")

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], origin: str = "detections") -> DetectionSettings:
        """Settings from a mapping (a card's ``inference.detections``); unknown keys are refused."""
        if not isinstance(data, Mapping):
            raise ConfigError(f"{origin}: detection settings must be a mapping, got {data!r}")
        known = [f.name for f in fields(cls)]
        for key in data:
            if key not in known:
                raise ConfigError(f"{origin}: unknown detection setting {key!r}{did_you_mean(str(key), known)}; "
                                  f"known: {', '.join(known)}")
        return cls(**{k: (str(v) if k == "threshold" and isinstance(v, Path) else v) for k, v in data.items()})

    def thresholds(self, class_names: Sequence[str]) -> np.ndarray:
        """Each class's threshold (float64, in class order)."""
        if isinstance(self.threshold, (int, float)):
            return np.full(len(class_names), float(self.threshold))
        return read_thresholds(self.threshold, class_names)

    def key(self, class_names: Sequence[str]) -> dict[str, Any]:
        """What the detections depend on, for a run's journal: the thresholds themselves, not a file name."""
        return {**asdict(self), "threshold": self.thresholds(class_names).tolist()}


def _check_threshold(value: float, where: str) -> float:
    if not math.isfinite(value) or not 0 <= value <= 1:
        raise ConfigError(f"{where}: a threshold must be a number in [0, 1], got {value!r}")
    return value


def read_thresholds(path: str | Path, class_names: Sequence[str]) -> np.ndarray:
    """Per-class thresholds from a ``class,threshold`` CSV or a JSON object (see the module doc)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such thresholds file (give a number, or a class,threshold CSV)")
    if path.suffix.lower() == ".json":
        try:
            table = json.loads(path.read_text(encoding="utf-8"))
        except json.JSONDecodeError as error:
            raise ConfigError(f"{path}: not valid JSON ({error.msg}, line {error.lineno})") from None
        if not isinstance(table, dict):
            raise ConfigError(f"{path}: expected an object {{class: threshold}}, got {type(table).__name__}")
        rows = [(str(k), v, f"{path}: class {k!r}") for k, v in table.items()]
    else:
        import pandas as pd

        frame = pd.read_csv(path, dtype=str, keep_default_na=False)
        frame.columns = [c.strip() for c in frame.columns]
        if not {"class", "threshold"} <= set(frame.columns):
            raise ConfigError(f"{path}: a thresholds table has columns class,threshold; found {list(frame.columns)}")
        rows = [(c.strip(), t, f"{path}:{i + 2}") for i, (c, t) in enumerate(zip(frame["class"], frame["threshold"],
                                                                                 strict=True))]
    lookup: dict[str, float] = {}
    for name, value, where in rows:
        try:
            number = float(value)
        except (TypeError, ValueError):
            raise ConfigError(f"{where}: threshold {value!r} is not a number") from None
        if name in lookup:
            raise ConfigError(f"{where}: class {name!r} is given twice")
        if name != GLOBAL_CLASS and name not in class_names:
            raise ConfigError(f"{where}: class {name!r} is not one of the model's classes"
                              f"{did_you_mean(name, class_names)}")
        lookup[name] = _check_threshold(number, where)
    missing = [c for c in class_names if c not in lookup]
    if missing and GLOBAL_CLASS not in lookup:
        shown = ", ".join(map(repr, missing[:5])) + (" ..." if len(missing) > 5 else "")
        raise ConfigError(f"{path}: no threshold for {len(missing)} class(es) ({shown}) and no '*' default row")
    return np.array([lookup.get(c, lookup.get(GLOBAL_CLASS, 0.0)) for c in class_names], dtype=np.float64)


def detect(
    t0_s: np.ndarray,
    t1_s: np.ndarray,
    scores: np.ndarray,
    class_names: Sequence[str],
    thresholds: np.ndarray,
    settings: DetectionSettings,
    class_boxes: Mapping[str, Sequence[float]] | None = None,
) -> pd.DataFrame:
    """Events of one recording from its window spans ``t0_s``, ``t1_s`` (n,) and ``scores`` (n, K).

    Columns :data:`DETECTION_COLUMNS`, sorted by start, then class order.
    """
    import pandas as pd

    return pd.DataFrame(detect_arrays(t0_s, t1_s, scores, class_names, thresholds, settings, class_boxes))


def detect_arrays(
    t0_s: np.ndarray,
    t1_s: np.ndarray,
    scores: np.ndarray,
    class_names: Sequence[str],
    thresholds: np.ndarray,
    settings: DetectionSettings,
    class_boxes: Mapping[str, Sequence[float]] | None = None,
) -> dict[str, np.ndarray]:
    """:func:`detect` as one array per column (no DataFrame per recording: the runner calls it per file)."""
    t0_s, t1_s = np.asarray(t0_s, dtype=np.float64), np.asarray(t1_s, dtype=np.float64)
    scores = np.asarray(scores)
    order = np.argsort(t0_s, kind="stable")
    t0_s, t1_s, scores = t0_s[order], t1_s[order], scores[order]
    parts: list[tuple[int, dict[str, np.ndarray]]] = []
    for k in np.flatnonzero((scores >= thresholds).any(axis=0)):
        above = np.flatnonzero(scores[:, k] >= thresholds[k])
        column = scores[above, k].astype(np.float64)
        if settings.method == "merge":
            events = _merge(t0_s[above], t1_s[above], column, settings.max_gap_s)
        else:
            events = _nms(t0_s[above], t1_s[above], column, settings.nms_iou)
        parts.append((int(k), events))
    if not parts:
        return {c: np.zeros(0, dtype=_DTYPES[c]) for c in DETECTION_COLUMNS}
    columns = {c: np.concatenate([e[c] for _, e in parts]) for c in ("t0_s", "t1_s", "score_max", "score_mean",
                                                                      "n_windows")}
    k = np.concatenate([np.full(len(e["t0_s"]), k) for k, e in parts])
    keep = columns["t1_s"] - columns["t0_s"] >= settings.min_duration_s - 1e-9
    order = np.lexsort((k[keep], columns["t0_s"][keep]))  # by start, then class order
    k = k[keep][order]
    names = np.asarray(list(class_names), dtype=object)
    bands = np.array([(class_boxes or {}).get(name, (np.nan, np.nan))[:2] for name in class_names], dtype=np.float64)
    out = {"t0_s": columns["t0_s"][keep][order], "t1_s": columns["t1_s"][keep][order], "class": names[k]}
    for name in ("score_max", "score_mean", "n_windows"):
        out[name] = columns[name][keep][order].astype(_DTYPES[name])
    out["f0_hz"], out["f1_hz"] = bands[k, 0], bands[k, 1]
    return {c: out[c] for c in DETECTION_COLUMNS}


_DTYPES = {"t0_s": "float64", "t1_s": "float64", "class": "object", "score_max": "float32", "score_mean": "float32",
           "n_windows": "int32", "f0_hz": "float64", "f1_hz": "float64"}


def _merge(t0: np.ndarray, t1: np.ndarray, score: np.ndarray, max_gap_s: float) -> dict[str, np.ndarray]:
    """Runs of windows no further apart than ``max_gap_s``, each one event."""
    reach = np.maximum.accumulate(t1)  # the furthest end so far: a window inside a longer one stays merged
    starts = np.flatnonzero(np.r_[True, t0[1:] > reach[:-1] + max_gap_s + 1e-9])
    counts = np.diff(np.r_[starts, len(t0)])
    return {"t0_s": t0[starts], "t1_s": np.maximum.reduceat(t1, starts),
            "score_max": np.maximum.reduceat(score, starts), "score_mean": np.add.reduceat(score, starts) / counts,
            "n_windows": counts}


def _nms(t0: np.ndarray, t1: np.ndarray, score: np.ndarray, nms_iou: float) -> dict[str, np.ndarray]:
    """Greedy non-maximum suppression of windows on the time axis."""
    order = np.lexsort((t0, -score))  # best first; ties by start
    kept: list[int] = []
    for i in order:
        overlap = np.minimum(t1[kept], t1[i]) - np.maximum(t0[kept], t0[i])
        union = np.maximum(t1[kept], t1[i]) - np.minimum(t0[kept], t0[i])
        if not kept or np.all(np.clip(overlap, 0, None) <= nms_iou * union + 1e-12):
            kept.append(i)
    kept_array = np.sort(np.asarray(kept))
    return {"t0_s": t0[kept_array], "t1_s": t1[kept_array], "score_max": score[kept_array],
            "score_mean": score[kept_array], "n_windows": np.ones(len(kept_array), dtype=np.int32)}
