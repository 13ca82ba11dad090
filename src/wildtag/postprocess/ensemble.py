"""Combining score tables of several models: mean, per-class rank average, weighted average.

Every input is a DataFrame with the same key columns (e.g. ``recording, t0_s, t1_s``) and one score
column per class; rows are joined on the keys, so inputs may come in any row order.

Weights can be fitted on out-of-fold predictions (:func:`fit_weights_on_oof`: each model's ``oof.parquet``
files, or its run directory) to maximise one of :data:`FIT_METRICS`; a table that lacks rows or columns
of another is a :class:`~wildtag.labels.LabelError` naming it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from wildtag.config import ConfigError
from wildtag.labels import LabelError
from wildtag.metrics import average_precision, lwlrap, roc_auc

METHODS = ("mean", "rank", "weighted")
FIT_METRICS: dict[str, Callable[[np.ndarray, np.ndarray], float]] = {
    "lwlrap": lwlrap,
    "map": lambda y, s: float(average_precision(y, s, "macro")),
    "roc_auc": lambda y, s: float(roc_auc(y, s, "macro")),
}


def _aligned(tables: Sequence[pd.DataFrame], keys: Sequence[str], classes: Sequence[str],
             names: Sequence[str] | None = None) -> tuple[pd.DataFrame, np.ndarray]:
    if not tables:
        raise ConfigError("ensemble needs at least one score table")
    names = list(names) if names is not None else [f"score table {i}" for i in range(len(tables))]
    base = tables[0][list(keys)].reset_index(drop=True)
    if base.duplicated().any():
        raise LabelError(names[0], None, f"rows with the same {', '.join(keys)} appear twice; one row per key")
    stacked = []
    for i, table in enumerate(tables):
        missing = [c for c in (*keys, *classes) if c not in table.columns]
        if missing:
            raise LabelError(names[i], None, f"lacks column(s) {missing} that {names[0]} has")
        if table.duplicated(list(keys)).any():
            raise LabelError(names[i], None, f"rows with the same {', '.join(keys)} appear twice; one row per key")
        joined = base.merge(table[[*keys, *classes]], on=list(keys), how="left", validate="one_to_one")
        absent = joined[list(classes)].isna().any(axis=1)
        if absent.any():
            first = ", ".join(str(v) for v in joined.loc[absent.idxmax(), list(keys)])
            raise LabelError(names[i], None, f"lacks {int(absent.sum())} row(s) that {names[0]} has (first: {first}); "
                                             "combine predictions of the same recordings and windows")
        stacked.append(joined[list(classes)].to_numpy(dtype=np.float64))
    return base, np.stack(stacked)


def rank_scores(scores: np.ndarray) -> np.ndarray:
    """Per-column average ranks scaled to (0, 1]: ``rank / n_rows`` (ties share their mean rank)."""
    ranked = pd.DataFrame(scores).rank(axis=0, method="average").to_numpy()
    return ranked / scores.shape[0]


def combine_arrays(stack: np.ndarray, method: str = "mean", weights: Sequence[float] | None = None) -> np.ndarray:
    """Combine a (M, N, K) stack of M models' scores into (N, K). ``rank`` with ``weights`` is a weighted
    average of the per-class ranks (RFCx 2021 weighted its two families' ranks)."""
    if method not in METHODS:
        raise ConfigError(f"unknown ensemble method {method!r}; choose one of {list(METHODS)}")
    if method == "rank":
        stack = np.stack([rank_scores(s) for s in stack])
        if weights is not None:
            method = "weighted"
    if method == "weighted":
        if weights is None or len(weights) != stack.shape[0]:
            raise ConfigError(f"weighted ensemble needs {stack.shape[0]} weights, got {weights}")
        w = np.asarray(weights, dtype=np.float64)
        if not (np.all(np.isfinite(w)) and np.all(w >= 0) and w.sum() > 0):
            raise ConfigError(f"ensemble weights must be >= 0 and not all 0, got {list(weights)}")
        return np.tensordot(w / w.sum(), stack, axes=1)
    return stack.mean(axis=0)


def combine(
    tables: Sequence[pd.DataFrame],
    keys: Sequence[str],
    classes: Sequence[str],
    method: str = "mean",
    weights: Sequence[float] | None = None,
    names: Sequence[str] | None = None,
) -> pd.DataFrame:
    """One score table from several, joined on ``keys`` (``names`` name the tables in errors)."""
    base, stack = _aligned(tables, keys, classes, names)
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


def read_oof(path: str | Path) -> pd.DataFrame:
    """Out-of-fold scores of one model: an ``oof.parquet``, or a run directory (its ``fold-*/oof.parquet``, or
    the ``oof.parquet`` of a metadata run)."""
    path = Path(path)
    files = [path]
    if path.is_dir():
        files = sorted(path.glob("fold-*/oof.parquet")) or [path / "oof.parquet"]
    if not files or not all(f.is_file() for f in files):
        raise FileNotFoundError(f"{path}: no oof.parquet (give a run directory or its fold-K/oof.parquet files)")
    table = pd.concat([pd.read_parquet(f) for f in files], ignore_index=True)
    if "recording_id" not in table.columns or not any(c.startswith("target:") for c in table.columns):
        raise LabelError(str(path), None, "not an out-of-fold table: needs recording_id, class and target:<class> "
                                          "columns (as `wildtag train` writes fold-K/oof.parquet)")
    return table


def fit_weights_on_oof(oofs: Sequence[pd.DataFrame], metric: str = "lwlrap", names: Sequence[str] | None = None,
                       **search: int) -> dict[str, object]:
    """Weights for a weighted ensemble fitted on out-of-fold tables (one per model, same rows): the weights,
    the metric they reach and the plain mean's, on those rows."""
    if metric not in FIT_METRICS:
        from wildtag.suggest import did_you_mean

        raise ConfigError(f"unknown metric {metric!r}{did_you_mean(metric, FIT_METRICS)}; "
                          f"choose one of {', '.join(FIT_METRICS)}")
    targets = [c for c in oofs[0].columns if c.startswith("target:")]
    classes = [c[len("target:"):] for c in targets]
    base, stack = _aligned(oofs, ["recording_id"], classes, names)
    y = oofs[0].set_index("recording_id").loc[base["recording_id"], targets].to_numpy(np.float64)
    score = FIT_METRICS[metric]
    weights, value = fit_weights(stack, y, score, **search)
    return {"weights": [float(w) for w in weights], "metric": metric, "fitted": value,
            "mean": float(score(y, combine_arrays(stack, "mean"))), "n_rows": int(len(base))}
