"""Metadata model (BirdCLEF 2021): one-vs-rest HistGradientBoosting on per-recording covariates.

Numeric features are z-scored with statistics from the training rows of each fold. Out-of-fold
probabilities use the fold ids the caller gives (e.g. ``assign_folds(..., strategy="geo_time_block")``,
the audio model's folds). Nothing is pickled: a saved model is its training table and parameters, and
loading re-fits deterministically (fixed ``random_state``), so no file a user is handed runs code.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from sklearn.ensemble import HistGradientBoostingClassifier

DEFAULT_BLEND_WEIGHT = 0.14


def _design(train: pd.DataFrame, rows: pd.DataFrame, features: Sequence[str]) -> np.ndarray:
    columns = []
    for name in features:
        values = rows[name].to_numpy(dtype=np.float64)
        ref = train[name].to_numpy(dtype=np.float64)
        std = np.nanstd(ref)
        columns.append((values - np.nanmean(ref)) / (std if std > 0 else 1.0))
    return np.stack(columns, axis=1)


def fit_predict(
    train: pd.DataFrame, targets: np.ndarray, rows: pd.DataFrame, features: Sequence[str], **params: object
) -> np.ndarray:
    """Fit one classifier per class on ``train`` and score ``rows``: (len(rows), K) probabilities."""
    x_train, x_rows = _design(train, train, features), _design(train, rows, features)
    out = np.zeros((len(rows), targets.shape[1]))
    for k in range(targets.shape[1]):
        y = targets[:, k].astype(int)
        if y.min() == y.max():  # a class absent (or everywhere) in this fold: its prior is constant
            out[:, k] = float(y[0])
            continue
        model = HistGradientBoostingClassifier(random_state=0, **params).fit(x_train, y)
        out[:, k] = model.predict_proba(x_rows)[:, 1]
    return out


def oof_predict(
    table: pd.DataFrame, targets: np.ndarray, features: Sequence[str], folds: np.ndarray, **params: object
) -> np.ndarray:
    """Out-of-fold probabilities: each row scored by the model that did not see its fold."""
    missing = [name for name in features if name not in table.columns]
    if missing:
        raise KeyError(f"metadata table lacks feature columns {missing}")
    out = np.zeros(targets.shape, dtype=np.float64)
    for fold in np.unique(folds):
        held = folds == fold
        out[held] = fit_predict(table[~held], targets[~held], table[held], features, **params)
    return out


def blend(audio: np.ndarray, meta: np.ndarray, weight: float = DEFAULT_BLEND_WEIGHT) -> np.ndarray:
    """``(1 - weight) * audio + weight * meta``."""
    if not 0.0 <= weight <= 1.0:
        raise ValueError(f"blend weight must lie in [0, 1], got {weight}")
    return (1.0 - weight) * np.asarray(audio) + weight * np.asarray(meta)
