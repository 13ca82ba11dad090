"""The Python API: what a notebook user calls (``import wildtag``).

    >>> run = wildtag.train("demo", overrides=["trainer.epochs=2"], out="runs/demo")
    >>> model = run.load_model()            # or wildtag.load_model("runs/demo")
    >>> windows = model.predict(["field/"]) # one row per window, one column per class
    >>> tags = model.predict_recordings(["field/"])
    >>> metrics = wildtag.evaluate(...)     # predictions file vs labels file

Everything here is a thin layer over the same functions the CLI runs, so both give the same results.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from wildtag.config import ExperimentConfig, load_config
from wildtag.models.card import ModelCard

PathLike = str | Path


@dataclass(frozen=True)
class Run:
    """A finished training run directory (DESIGN §4)."""

    path: Path

    @property
    def metrics(self) -> dict[str, Any]:
        """The run's ``metrics.json``: out-of-fold metrics overall and per fold."""
        return json.loads((self.path / "metrics.json").read_text())

    @property
    def config(self) -> ExperimentConfig:
        """The fully resolved recipe the run was trained with."""
        return load_config(self.path / "config.yaml", check=False)

    @property
    def card(self) -> ModelCard:
        """The model card of the run (``model.json``)."""
        return ModelCard.load(self.path / "model.json")

    def load_model(self, folds: list[int] | None = None) -> Model:
        return load_model(self.path, folds=folds)


class Model:
    """A trained tagger (its folds averaged) ready to score recordings."""

    def __init__(self, source: PathLike, folds: list[int] | None = None):
        from wildtag.inference.loading import load_ensemble

        self.source = Path(source)
        self.folds = folds
        self._ensemble = load_ensemble(self.source, folds)

    @property
    def card(self) -> ModelCard:
        return self._ensemble.card

    @property
    def classes(self) -> list[str]:
        return list(self._ensemble.class_names)

    def _run_predict(self, paths: Sequence[PathLike], **kwargs: Any) -> tuple[pd.DataFrame, pd.DataFrame]:
        from wildtag.inference.predict import predict

        kwargs.setdefault("show_progress", False)
        kwargs.setdefault("num_workers", 0)
        with tempfile.TemporaryDirectory(prefix="wildtag-predict-") as out:
            summary = predict(self.source, list(paths), out, folds=self.folds, **kwargs)
            windows = pd.read_parquet(Path(out) / "windows.parquet")
            recordings = pd.read_csv(Path(out) / "recordings.csv")
        if summary.n_recordings == 0:
            raise FileNotFoundError(f"nothing could be scored among {[str(p) for p in paths]}")
        return windows, recordings

    def predict(self, paths: Sequence[PathLike], **kwargs: Any) -> pd.DataFrame:
        """Window scores: ``recording, t0_s, t1_s`` and one column per class (keywords as ``predict``)."""
        return self._run_predict(paths, **kwargs)[0]

    def predict_recordings(self, paths: Sequence[PathLike], **kwargs: Any) -> pd.DataFrame:
        """One pooled score per class and recording (the card's aggregator unless ``aggregate=`` is given)."""
        return self._run_predict(paths, **kwargs)[1]

    def __repr__(self) -> str:
        return f"Model({str(self.source)!r}, classes={len(self.classes)}, sample_rate={self.card.sample_rate})"


def train(recipe: PathLike | ExperimentConfig, overrides: list[str] | None = None, out: PathLike | None = None,
          *, resume: bool = False, overwrite: bool = False, progress: bool = True) -> Run:
    """Train every fold of a recipe (a path, a packaged recipe name, or a config) and return the run."""
    from wildtag.training.fit import fit

    if resume:
        return Run(fit(None, out, resume=True, overrides=overrides, show_progress=progress))
    cfg = recipe if isinstance(recipe, ExperimentConfig) else load_config(recipe, overrides or [])
    if isinstance(recipe, ExperimentConfig) and overrides:
        from wildtag.config import ConfigError

        raise ConfigError("overrides apply to a recipe file or name; change the config object directly")
    return Run(fit(cfg, out, overwrite=overwrite, show_progress=progress))


def load_model(run_or_checkpoint: PathLike, folds: list[int] | None = None) -> Model:
    """A run directory (its folds averaged, or only ``folds``) or one checkpoint, ready to predict."""
    return Model(run_or_checkpoint, folds)


def evaluate(predictions: PathLike, labels: PathLike, *, threshold: float = 0.5) -> dict[str, Any]:
    """Metrics of a predictions file (``recordings.csv`` or ``windows.parquet``) against a labels file."""
    from wildtag.evaluation import evaluate_files

    return evaluate_files(predictions, labels, threshold=threshold).metrics
