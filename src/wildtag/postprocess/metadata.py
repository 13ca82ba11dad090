"""Metadata model (BirdCLEF 2021): one-vs-rest HistGradientBoosting on per-recording covariates.

Numeric features are z-scored with statistics from the training rows of each fold; categorical features
(site, habitat) are integer codes over the categories seen in training, given to the booster as
categorical (unseen ones count as missing). Out-of-fold probabilities use the fold ids the caller gives
(the audio run's ``folds.csv``, or ``assign_folds(..., strategy="geo_time_block")``).

Nothing is pickled: a saved model (:class:`MetadataModel`, ``metadata.json`` + ``train.parquet`` in its run
directory) is its training table and parameters, and loading re-fits deterministically (fixed
``random_state``), so no file a user is handed runs code. A booster's trees could be exported instead, but
only through scikit-learn's private predictor arrays, which change between releases; the refit costs a
few seconds for hundreds of classes on thousands of recordings and gives the same model on the same
scikit-learn version (the version is recorded, and a different one is named in a warning).

``day_of_year`` and ``hour`` are derived from a ``date`` or ``start_datetime`` column when the table has
no such column itself.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.ensemble import HistGradientBoostingClassifier

from wildtag.config import ConfigError
from wildtag.labels import LabelError

log = logging.getLogger(__name__)

DEFAULT_BLEND_WEIGHT = 0.14
MODEL_FILE, TRAIN_FILE = "metadata.json", "train.parquet"
DERIVED = {"day_of_year": lambda t: t.dt.day_of_year, "hour": lambda t: t.dt.hour + t.dt.minute / 60.0}
DATE_COLUMNS = ("date", "start_datetime", "datetime")


def with_derived(table: pd.DataFrame, features: Sequence[str], source: str = "the metadata table") -> pd.DataFrame:
    """``table`` with each of ``features`` present: derived ones (day_of_year, hour) from a date column."""
    out = table
    for name in features:
        if name in out.columns:
            continue
        column = next((c for c in DATE_COLUMNS if c in out.columns), None)
        if name in DERIVED and column is not None:
            when = pd.to_datetime(out[column].astype(str), errors="coerce", utc=True, format="mixed")
            out = out.assign(**{name: DERIVED[name](when).astype(float)})
            continue
        from wildtag.suggest import did_you_mean

        raise LabelError(source, None, f"no feature column {name!r}{did_you_mean(name, list(out.columns))}; "
                                       f"columns are {list(out.columns)} (day_of_year and hour can come from a "
                                       f"{' / '.join(DATE_COLUMNS)} column)")
    return out


def _numeric(frame: pd.DataFrame, name: str, source: str) -> np.ndarray:
    values = pd.to_numeric(frame[name], errors="coerce")
    bad = values.isna() & frame[name].notna() & frame[name].astype(str).str.strip().ne("")
    if bad.any():
        i = int(np.flatnonzero(bad.to_numpy())[0])
        raise LabelError(source, None, f"feature {name!r} is {frame[name].iloc[i]!r} in row {i + 1}; expected a number "
                                       "(or --categorical for a category)")
    return values.to_numpy(np.float64)


def _design(train: pd.DataFrame, rows: pd.DataFrame, features: Sequence[str], categorical: Sequence[str] = (),
            source: str = "the metadata table") -> np.ndarray:
    columns = []
    for name in features:
        values, ref = _numeric(rows, name, source), _numeric(train, name, source)
        std = np.nanstd(ref) if np.isfinite(ref).any() else 0.0
        mean = np.nanmean(ref) if np.isfinite(ref).any() else 0.0
        columns.append((values - mean) / (std if std > 0 else 1.0))
    for name in categorical:
        seen = sorted(train[name].dropna().astype(str).unique())
        code_of = {value: float(code) for code, value in enumerate(seen)}  # a value unseen in training: NaN
        values = rows[name].astype(str).where(rows[name].notna())
        columns.append(np.array([code_of.get(v, np.nan) for v in values], dtype=np.float64))
    return np.stack(columns, axis=1) if columns else np.zeros((len(rows), 0))


def fit_predict(
    train: pd.DataFrame, targets: np.ndarray, rows: pd.DataFrame, features: Sequence[str],
    categorical: Sequence[str] = (), **params: object
) -> np.ndarray:
    """Fit one classifier per class on ``train`` and score ``rows``: (len(rows), K) probabilities."""
    x_train = _design(train, train, features, categorical)
    x_rows = _design(train, rows, features, categorical)
    mask = [False] * len(features) + [True] * len(categorical)
    out = np.zeros((len(rows), targets.shape[1]))
    for k in range(targets.shape[1]):
        y = targets[:, k].astype(int)
        if y.min() == y.max():  # a class absent (or everywhere) in this fold: its prior is constant
            out[:, k] = float(y[0])
            continue
        model = HistGradientBoostingClassifier(random_state=0, categorical_features=mask if any(mask) else None,
                                               **params).fit(x_train, y)
        out[:, k] = model.predict_proba(x_rows)[:, 1]
    return out


def oof_predict(
    table: pd.DataFrame, targets: np.ndarray, features: Sequence[str], folds: np.ndarray,
    categorical: Sequence[str] = (), **params: object
) -> np.ndarray:
    """Out-of-fold probabilities: each row scored by the model that did not see its fold."""
    missing = [name for name in (*features, *categorical) if name not in table.columns]
    if missing:
        raise LabelError(None, None, f"metadata table lacks feature columns {missing}")
    if len(np.unique(folds)) < 2:
        raise ConfigError(f"out-of-fold metadata scores need at least 2 folds, got {len(np.unique(folds))}")
    out = np.zeros(targets.shape, dtype=np.float64)
    for fold in np.unique(folds):
        held = folds == fold
        out[held] = fit_predict(table[~held], targets[~held], table[held], features, categorical, **params)
    return out


def blend(audio: np.ndarray, meta: np.ndarray, weight: float = DEFAULT_BLEND_WEIGHT) -> np.ndarray:
    """``(1 - weight) * audio + weight * meta``."""
    if not 0.0 <= weight <= 1.0:
        raise ConfigError(f"blend weight must lie in [0, 1], got {weight}")
    return (1.0 - weight) * np.asarray(audio) + weight * np.asarray(meta)


def fit_blend_weight(y_true: np.ndarray, audio: np.ndarray, meta: np.ndarray, metric, steps: int = 101
                     ) -> tuple[float, float, np.ndarray, np.ndarray]:
    """The weight in [0, 1] (a grid of ``steps``) maximising ``metric`` of the blend; also the grid and values.
    Ties go to the smallest weight, so the audio model alone wins when the metadata adds nothing."""
    grid = np.linspace(0.0, 1.0, steps)
    values = np.array([metric(y_true, blend(audio, meta, float(w))) for w in grid])
    best = int(np.argmax(values))
    return float(grid[best]), float(values[best]), grid, values


@dataclass
class MetadataModel:
    """A fitted metadata model: its training table (raw feature columns), targets and settings."""

    features: list[str]
    categorical: list[str]
    classes: list[str]
    train: pd.DataFrame  # recording_id, fold, the feature columns
    targets: np.ndarray  # (n, K) 0/1
    params: dict = field(default_factory=dict)
    info: dict = field(default_factory=dict)

    def predict(self, rows: pd.DataFrame, source: str = "the metadata table") -> np.ndarray:
        """(len(rows), K) occurrence probabilities for recordings with the same metadata columns."""
        rows = with_derived(rows, [*self.features, *self.categorical], source)
        return fit_predict(self.train, self.targets, rows, self.features, self.categorical, **self.params)

    def save(self, run_dir: str | Path) -> Path:
        """``metadata.json`` and ``train.parquet`` in ``run_dir`` (plain data only)."""
        import sklearn

        from wildtag.fileio import write_parquet_atomic, write_text_atomic

        run_dir = Path(run_dir)
        run_dir.mkdir(parents=True, exist_ok=True)
        table = pd.concat([self.train.reset_index(drop=True),
                           pd.DataFrame(self.targets, columns=[f"target:{c}" for c in self.classes])], axis=1)
        write_parquet_atomic(table, run_dir / TRAIN_FILE)
        record = {"kind": "metadata_hgb", "features": self.features, "categorical": self.categorical,
                  "classes": self.classes, "params": self.params, "sklearn": sklearn.__version__, **self.info}
        write_text_atomic(run_dir / MODEL_FILE, json.dumps(record, indent=2) + "\n")
        return run_dir

    @classmethod
    def load(cls, run_dir: str | Path) -> MetadataModel:
        """The model saved in ``run_dir`` (re-fitted from its training table when it predicts)."""
        import sklearn

        from wildtag.errors import ModelLoadError

        run_dir = Path(run_dir)
        path = run_dir / MODEL_FILE
        if not path.is_file() or not (run_dir / TRAIN_FILE).is_file():
            raise ModelLoadError(f"{run_dir}: not a metadata model (no {MODEL_FILE} and {TRAIN_FILE}); write one "
                                 "with `wildtag train-metadata`")
        try:
            record = json.loads(path.read_text())
            classes = list(record["classes"])
            table = pd.read_parquet(run_dir / TRAIN_FILE)
            targets = table[[f"target:{c}" for c in classes]].to_numpy(np.float64)
        except (ValueError, KeyError, OSError) as error:
            raise ModelLoadError(f"{run_dir}: unreadable metadata model ({error})") from None
        if record.get("sklearn") != sklearn.__version__:
            log.warning("%s was fitted with scikit-learn %s; refitting with %s may give slightly other scores",
                        run_dir, record.get("sklearn"), sklearn.__version__)
        keep = [c for c in table.columns if not c.startswith("target:")]
        info = {k: v for k, v in record.items()
                if k not in ("kind", "features", "categorical", "classes", "params", "sklearn")}
        return cls(list(record["features"]), list(record.get("categorical", [])), classes, table[keep], targets,
                   dict(record.get("params", {})), info)
