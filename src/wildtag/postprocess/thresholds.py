"""Threshold search on validation / out-of-fold scores, and the ``nocall`` decision.

Thresholds are written as a CSV with columns ``class,threshold``; a row whose class is ``*`` is the
global default for every class without its own row (the format the archive runner's detections read).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import pandas as pd

from wildtag.config import ConfigError
from wildtag.labels import LabelError
from wildtag.metrics import row_f1_with_nocall
from wildtag.suggest import did_you_mean

GLOBAL_CLASS = "*"
NOCALL = "nocall"


def _f1(true: np.ndarray, pred: np.ndarray) -> float:
    tp = float(np.sum(true & pred))
    denominator = float(np.sum(true) + np.sum(pred))
    return 2.0 * tp / denominator if denominator else 0.0


METRICS: dict[str, Callable[[np.ndarray, np.ndarray], float]] = {"f1": _f1, "row_f1": row_f1_with_nocall}


def candidate_thresholds(scores: np.ndarray, max_candidates: int = 201) -> np.ndarray:
    """Midpoints between sorted distinct scores (capped by quantiles), so every distinct cut is tried."""
    values = np.unique(np.asarray(scores, dtype=np.float64).ravel())
    if values.size > max_candidates:
        values = np.unique(np.quantile(values, np.linspace(0.0, 1.0, max_candidates)))
    if values.size == 1:
        return values
    return np.concatenate([[values[0]], (values[:-1] + values[1:]) / 2.0])


def search_threshold(y_true: np.ndarray, y_score: np.ndarray, metric: str = "f1") -> tuple[float, np.ndarray, np.ndarray]:
    """The threshold (``score >= t`` is positive) maximising ``metric``; also the tried grid and its values."""
    if metric not in METRICS:
        raise ConfigError(f"unknown threshold metric {metric!r}{did_you_mean(metric, METRICS)}; "
                          f"choose one of {sorted(METRICS)}")
    true = np.asarray(y_true, dtype=bool)
    score = np.asarray(y_score, dtype=np.float64)
    if true.shape != score.shape:
        raise LabelError(None, None, f"labels {true.shape} and scores {score.shape} differ in shape; give the "
                                     "targets and scores of the same rows and classes")
    grid = candidate_thresholds(score)
    values = np.array([METRICS[metric](true, score >= t) for t in grid])
    return float(grid[int(np.argmax(values))]), grid, values


def threshold_table(
    y_true: np.ndarray, y_score: np.ndarray, class_names: Sequence[str], *, per_class: bool = False, metric: str = "f1"
) -> pd.DataFrame:
    """A ``class,threshold`` table: one global ``*`` row, plus one row per class when ``per_class``."""
    best, _, _ = search_threshold(y_true, y_score, metric)
    rows = [(GLOBAL_CLASS, best)]
    if per_class:
        per_class_metric = "f1" if metric == "row_f1" else metric
        for k, name in enumerate(class_names):
            rows.append((name, search_threshold(y_true[:, k], y_score[:, k], per_class_metric)[0]))
    return pd.DataFrame(rows, columns=["class", "threshold"])


def thresholds_for(table: pd.DataFrame, class_names: Sequence[str], source: str | None = None) -> np.ndarray:
    """Each class's threshold from a ``class,threshold`` table (the ``*`` row fills the gaps); ``source``
    names the file in errors."""
    lookup = dict(zip(table["class"].astype(str), table["threshold"].astype(float), strict=True))
    missing = [name for name in class_names if name not in lookup and GLOBAL_CLASS not in lookup]
    if missing:
        raise LabelError(source, None, f"no threshold for classes {missing[:5]} and no '*' default row")
    return np.array([lookup.get(name, lookup.get(GLOBAL_CLASS)) for name in class_names], dtype=np.float64)


def with_nocall(scores: pd.DataFrame, class_names: Sequence[str], thresholds: np.ndarray) -> pd.Series:
    """Space-separated passing classes per row, or ``nocall`` when no class passes its threshold."""
    passed = scores[list(class_names)].to_numpy() >= np.asarray(thresholds)[None, :]
    names = np.asarray(class_names, dtype=object)
    return pd.Series(
        [" ".join(names[row]) if row.any() else NOCALL for row in passed], index=scores.index, name="prediction"
    )
