"""Combining score tables of several models: mean, per-class rank average, weighted average.

Every input is a DataFrame with the same key columns (e.g. ``recording, t0_s, t1_s``) and one score
column per class; rows are joined on the keys, so inputs may come in any row order.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import pandas as pd

METHODS = ("mean", "rank", "weighted")


def _aligned(tables: Sequence[pd.DataFrame], keys: Sequence[str], classes: Sequence[str]) -> tuple[pd.DataFrame, np.ndarray]:
    if not tables:
        raise ValueError("ensemble needs at least one score table")
    base = tables[0][list(keys)].reset_index(drop=True)
    stacked = []
    for i, table in enumerate(tables):
        missing = [c for c in (*keys, *classes) if c not in table.columns]
        if missing:
            raise KeyError(f"score table {i} lacks columns {missing}")
        joined = base.merge(table[[*keys, *classes]], on=list(keys), how="left", validate="one_to_one")
        if joined[list(classes)].isna().any(axis=None):
            raise KeyError(f"score table {i} lacks rows present in table 0")
        stacked.append(joined[list(classes)].to_numpy(dtype=np.float64))
    return base, np.stack(stacked)


def rank_scores(scores: np.ndarray) -> np.ndarray:
    """Per-column average ranks scaled to (0, 1]: ``rank / n_rows`` (ties share their mean rank)."""
    ranked = pd.DataFrame(scores).rank(axis=0, method="average").to_numpy()
    return ranked / scores.shape[0]


def combine_arrays(stack: np.ndarray, method: str = "mean", weights: Sequence[float] | None = None) -> np.ndarray:
    """Combine a (M, N, K) stack of M models' scores into (N, K)."""
    if method not in METHODS:
        raise KeyError(f"unknown ensemble method {method!r}; choose one of {list(METHODS)}")
    if method == "rank":
        stack = np.stack([rank_scores(s) for s in stack])
    if method == "weighted":
        if weights is None or len(weights) != stack.shape[0]:
            raise ValueError(f"weighted ensemble needs {stack.shape[0]} weights, got {weights}")
        w = np.asarray(weights, dtype=np.float64)
        return np.tensordot(w / w.sum(), stack, axes=1)
    return stack.mean(axis=0)


def combine(
    tables: Sequence[pd.DataFrame],
    keys: Sequence[str],
    classes: Sequence[str],
    method: str = "mean",
    weights: Sequence[float] | None = None,
) -> pd.DataFrame:
    """One score table from several, joined on ``keys``."""
    base, stack = _aligned(tables, keys, classes)
    combined = combine_arrays(stack, method, weights)
    return pd.concat([base, pd.DataFrame(combined, columns=list(classes))], axis=1)


def fit_weights(
    stack: np.ndarray,
    y_true: np.ndarray,
    metric: Callable[[np.ndarray, np.ndarray], float],
    *,
    n_samples: int = 200,
    n_refine: int = 100,
    seed: int = 0,
) -> tuple[np.ndarray, float]:
    """Simplex weights maximising ``metric(y_true, weighted_scores)``: Dirichlet sampling then local refinement.

    The uniform weights are always a candidate, so the result is never worse than the mean on the fit data.
    """
    rng = np.random.default_rng(seed)
    m = stack.shape[0]
    best_w = np.full(m, 1.0 / m)
    best = metric(y_true, combine_arrays(stack, "weighted", best_w))
    for w in rng.dirichlet(np.ones(m), size=n_samples):
        value = metric(y_true, combine_arrays(stack, "weighted", w))
        if value > best:
            best, best_w = value, w
    for step in np.geomspace(0.2, 0.01, n_refine):
        w = np.clip(best_w + rng.normal(0.0, step, m), 0.0, None)
        if w.sum() == 0:
            continue
        w = w / w.sum()
        value = metric(y_true, combine_arrays(stack, "weighted", w))
        if value > best:
            best, best_w = value, w
    return best_w, float(best)
