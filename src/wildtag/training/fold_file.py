"""``folds.csv`` of a run directory: which recording each fold held out (``recording_id,fold,path``).

``wildtag train`` writes it once the folds are split; out-of-fold prediction (:mod:`wildtag.inference.oof`)
reads it to score each training recording with the fold model that never saw it. A recording whose rows
sit in the validation split of several folds (clip rows of one recording split apart by a row-level fold
strategy) has one line per fold. Runs trained before the file existed get it recomputed from their
``config.yaml`` (:func:`fold_table`), which is deterministic, and accepted only when the recomputed data
fingerprint equals the one in the run's model card (the labels and audio have not changed since).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import pandas as pd

from wildtag.errors import ModelLoadError
from wildtag.fileio import write_csv_atomic

FOLDS_FILE = "folds.csv"
COLUMNS = ["recording_id", "fold", "path"]


def folds_frame(splits: Mapping[int, tuple[pd.DataFrame, pd.DataFrame]], paths: Mapping[str, str]) -> pd.DataFrame:
    """One row per (recording, fold holding it out), from ``split_folds``' (train, valid) rows."""
    rows = []
    for fold, (_, valid) in sorted(splits.items()):
        for rid in dict.fromkeys(valid["recording_id"].astype(str)):
            rows.append((rid, int(fold), str(paths.get(rid, ""))))
    return pd.DataFrame(rows, columns=COLUMNS)


def write_folds(run_dir: Path, splits: Mapping[int, tuple[pd.DataFrame, pd.DataFrame]],
                paths: Mapping[str, str]) -> Path:
    """Write ``run_dir/folds.csv``; returns its path."""
    return write_csv_atomic(folds_frame(splits, paths), Path(run_dir) / FOLDS_FILE)


def read_folds(run_dir: str | Path) -> pd.DataFrame:
    """``folds.csv`` of a run (recomputed from its ``config.yaml`` for runs trained before the file existed)."""
    run_dir = Path(run_dir)
    path = run_dir / FOLDS_FILE
    if path.is_file():
        table = pd.read_csv(path, dtype={"recording_id": str, "path": str}, keep_default_na=False)
        missing = [c for c in COLUMNS if c not in table.columns]
        if missing:
            raise ModelLoadError(f"{path}: lacks column(s) {missing}; expected {', '.join(COLUMNS)}")
        return table
    return fold_table(run_dir)


def fold_table(run_dir: Path, show_progress: bool = False) -> pd.DataFrame:
    """The folds of a run recomputed from its ``config.yaml`` (the recipe's labels, audio and seed).

    Refused (:class:`ModelLoadError`) when the run has no config, or when the data fingerprint of the
    labels read now differs from the model card's: the folds would then not be the ones trained.
    """
    from wildtag.config import load_config
    from wildtag.models.card import ModelCard
    from wildtag.training.fit import run_provenance, split_folds
    from wildtag.training.prepare import prepare_data

    config, card = run_dir / "config.yaml", run_dir / "model.json"
    if not config.is_file() or not card.is_file():
        raise ModelLoadError(f"{run_dir}: no {FOLDS_FILE}, and no config.yaml and model.json to recompute the "
                             "folds from; out-of-fold prediction needs a run directory written by `wildtag train`")
    cfg = load_config(config)
    data = prepare_data(cfg.data, show_progress=show_progress)
    now = run_provenance(cfg, data).data_fingerprint
    trained = ModelCard.load(card).provenance.data_fingerprint
    if trained and now != trained:
        raise ModelLoadError(f"{run_dir}: no {FOLDS_FILE}, and the labels or audio named by its config.yaml have "
                             f"changed since training (data fingerprint {now[:12]} now, {trained[:12]} then), so "
                             "its folds cannot be recomputed; retrain, or write folds.csv (recording_id,fold,path)")
    paths = {rid: data.recordings[rid].path for rid in data.recordings}
    return folds_frame(split_folds(cfg, data), paths)
