"""``wildtag train-metadata`` and ``wildtag predict-metadata``: the metadata model as a run directory.

    wildtag train-metadata train_metadata.csv --features latitude,longitude,day_of_year --folds-from runs/cnn \\
        --blend-with preds/cnn-oof --fit-blend --out runs/meta
    wildtag predict-metadata runs/meta survey_metadata.csv --blend-with preds/survey --out preds/survey-prior

A metadata run directory holds ``metadata.json`` + ``train.parquet`` (the model, see
:class:`~wildtag.postprocess.metadata.MetadataModel`), ``oof.parquet`` (out-of-fold scores with
``target:<class>`` columns, as ``wildtag train`` writes them: ``thresholds`` and ``ensemble --fit-weights``
read it), ``recordings.csv`` (the same scores as a prediction folder) and ``metrics.json``. With
``blend_with`` (a prediction folder of the audio model on the same recordings, ideally ``predict-oof``'s),
``blend/recordings.csv`` holds ``(1 - w) * audio + w * metadata`` and ``blend.json`` the weight ``w``
(0.14 by default, as in the BirdCLEF 2021 write-up, or fitted on those out-of-fold scores) and the metric
of the audio alone and of the blend.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from wildtag.config import ConfigError
from wildtag.fileio import write_csv_atomic, write_parquet_atomic, write_text_atomic
from wildtag.labels import ClassMap, LabelError, read_labels
from wildtag.postprocess.metadata import (
    DEFAULT_BLEND_WEIGHT,
    MetadataModel,
    blend,
    fit_blend_weight,
    oof_predict,
    with_derived,
)
from wildtag.postprocess.pseudo_labels import label_names_for


def recording_table(labels: str | Path, label_format: str = "auto") -> tuple[pd.DataFrame, list[list[str]]]:
    """One row per recording (its first label row's columns) and the union of its labels (primary and
    secondary), from any clip-label table."""
    table = read_labels(labels, label_format)
    if table.kind != "clips":
        raise LabelError(str(labels), None, "train-metadata needs clip labels (one row per recording with its "
                                            "metadata columns), not boxes")
    clips = table.table
    per = clips.groupby("recording_id", sort=False)
    names = [sorted({x for cell in group["labels"] for x in cell} | {x for cell in group["secondary_labels"]
                                                                        for x in cell}) for _, group in per]
    return per.head(1).reset_index(drop=True), names


def _fold_ids(rows: pd.DataFrame, labels: list[list[str]], folds_from: Path | None, n_folds: int,
              strategy: str, seed: int) -> tuple[np.ndarray, str]:
    if folds_from is not None:
        from wildtag.training.fold_file import read_folds

        folds = read_folds(folds_from)
        counts = folds.groupby("recording_id")["fold"].nunique()
        fold_of = dict(zip(folds["recording_id"], folds["fold"], strict=True))
        names = label_names_for(list(fold_of), rows["recording_id"].astype(str))
        by_name = {name: fold_of[rid] for rid, name in names.items() if counts[rid] == 1}
        ids = rows["recording_id"].astype(str).map(by_name)
        if ids.isna().any():
            missing = rows.loc[ids.isna(), "recording_id"].astype(str).tolist()
            raise LabelError(None, None, f"{len(missing)} recording(s) of the labels have no single fold in "
                                         f"{folds_from}/folds.csv (first: {missing[0]!r}); train the metadata "
                                         "model on the audio run's labels")
        return ids.to_numpy(np.int64), f"{folds_from}/folds.csv"
    from wildtag.data import assign_folds

    table = rows.assign(labels=labels)
    return assign_folds(table, n_folds, strategy=strategy, seed=seed), f"{strategy}, {n_folds} folds, seed {seed}"


def _metric(name: str):
    from wildtag.postprocess.ensemble import FIT_METRICS

    if name not in FIT_METRICS:
        raise ConfigError(f"unknown metric {name!r}; choose one of {', '.join(FIT_METRICS)}")
    return FIT_METRICS[name]


def _audio_scores(pred: Path, ids: Sequence[str], classes: Sequence[str]) -> pd.DataFrame:
    """The audio model's recording scores, re-keyed to ``ids``' names and ordered like ``classes``."""
    from wildtag.postprocess.pseudo_labels import read_scores

    scores = read_scores(Path(pred), "recordings.csv")
    missing = [c for c in classes if c not in scores.columns]
    if missing:
        raise LabelError(str(pred), None, f"lacks the metadata model's class column(s) {missing[:5]}; blend models "
                                          "of the same classes")
    names = label_names_for(scores["recording_id"].astype(str), list(ids))
    return scores.assign(recording_id=scores["recording_id"].astype(str).map(lambda r: names.get(r, r)))


def train_metadata(
    labels: str | Path,
    features: Sequence[str],
    out: str | Path,
    *,
    categorical: Sequence[str] = (),
    label_format: str = "auto",
    folds_from: str | Path | None = None,
    n_folds: int = 5,
    fold_strategy: str = "stratified",
    seed: int = 0,
    blend_with: str | Path | None = None,
    blend_weight: float | None = None,
    fit_blend: bool = False,
    metric: str = "lwlrap",
    params: dict | None = None,
) -> dict:
    """Fit the metadata model on ``labels``' per-recording columns, write its run directory ``out``; returns
    what ``metrics.json`` (and ``blend.json``) say."""
    from wildtag.metrics import evaluate

    out = Path(out)
    if not features and not categorical:
        raise ConfigError("train-metadata needs --features (and/or --categorical) column names")
    if fit_blend and blend_weight is not None:
        raise ConfigError("--blend-weight and --fit-blend: give the weight or fit it, not both")
    if (fit_blend or blend_weight is not None) and blend_with is None:
        raise ConfigError("--blend-weight / --fit-blend need --blend-with PRED (the audio model's scores)")
    score = _metric(metric)
    rows, names = recording_table(labels, label_format)
    rows = with_derived(rows, [*features, *categorical], str(labels))
    if folds_from is not None and (Path(folds_from) / "classes.json").is_file():
        classes = list(ClassMap.from_json(Path(folds_from) / "classes.json").names)
    else:
        classes = list(ClassMap.from_labels(x for cell in names for x in cell).names)
    index = {c: i for i, c in enumerate(classes)}
    targets = np.zeros((len(rows), len(classes)))
    for i, cell in enumerate(names):
        targets[i, [index[c] for c in cell if c in index]] = 1.0
    folds, fold_source = _fold_ids(rows, names, Path(folds_from) if folds_from else None, n_folds, fold_strategy, seed)
    params = dict(params or {})
    keep = ["recording_id", *dict.fromkeys([*features, *categorical])]
    train = rows[keep].assign(fold=folds)
    oof = oof_predict(train, targets, list(features), folds, list(categorical), **params)
    metrics = evaluate(targets, oof, classes)
    model = MetadataModel(list(features), list(categorical), classes, train, targets, params,
                          {"labels": str(labels), "folds": fold_source, "n_recordings": len(rows)})
    model.save(out)
    ids = train["recording_id"].astype(str)
    write_parquet_atomic(pd.concat([pd.DataFrame({"recording_id": ids}), pd.DataFrame(oof, columns=classes),
                                    pd.DataFrame(targets, columns=[f"target:{c}" for c in classes])], axis=1),
                         out / "oof.parquet")
    write_csv_atomic(pd.concat([pd.DataFrame({"recording": ids}), pd.DataFrame(oof, columns=classes)], axis=1),
                     out / "recordings.csv")
    summary = {"oof": metrics, "folds": fold_source}
    if blend_with is not None:
        audio = _audio_scores(Path(blend_with), ids, classes).set_index("recording_id")
        both = ids[ids.isin(audio.index)]
        if both.empty:
            raise LabelError(str(blend_with), None, "names none of the metadata model's recordings; blend the "
                                                    "audio model's out-of-fold scores of the same recordings")
        at = ids.isin(audio.index).to_numpy()
        a, m, y = audio.loc[both, classes].to_numpy(np.float64), oof[at], targets[at]
        if fit_blend:
            weight, _, _, _ = fit_blend_weight(y, a, m, score)
        else:
            weight = DEFAULT_BLEND_WEIGHT if blend_weight is None else float(blend_weight)
        mixed = blend(a, m, weight)
        (out / "blend").mkdir(exist_ok=True)
        write_csv_atomic(pd.concat([pd.DataFrame({"recording": both.to_numpy()}),
                                    pd.DataFrame(mixed, columns=classes)], axis=1), out / "blend" / "recordings.csv")
        summary["blend"] = {"weight": weight, "fitted": fit_blend, "metric": metric, "audio": str(blend_with),
                            "n_recordings": int(at.sum()), f"audio_{metric}": float(score(y, a)),
                            f"metadata_{metric}": float(score(y, m)), f"blend_{metric}": float(score(y, mixed))}
        write_text_atomic(out / "blend.json", json.dumps(summary["blend"], indent=2) + "\n")
    write_text_atomic(out / "metrics.json", json.dumps(summary, indent=2) + "\n")
    return summary


def predict_metadata(run: str | Path, table: str | Path, out: str | Path, *, blend_with: str | Path | None = None,
                     blend_weight: float | None = None) -> Path:
    """Occurrence prior for new recordings (a CSV with ``recording`` and the model's metadata columns):
    ``OUT/prior.csv``; with ``blend_with`` (their audio scores) also ``OUT/recordings.csv``, the blend at
    ``blend_weight`` (default: the run's ``blend.json`` weight, else 0.14)."""
    run, table, out = Path(run), Path(table), Path(out)
    model = MetadataModel.load(run)
    if not table.is_file():
        raise FileNotFoundError(f"{table}: no such metadata table")
    rows = pd.read_csv(table)
    key = "recording" if "recording" in rows.columns else "recording_id"
    if key not in rows.columns:
        raise LabelError(str(table), 1, f"needs a 'recording' column; columns are {list(rows.columns)}")
    prior = model.predict(rows, str(table))
    out.mkdir(parents=True, exist_ok=True)
    ids = rows[key].astype(str)
    write_csv_atomic(pd.concat([pd.DataFrame({"recording": ids}), pd.DataFrame(prior, columns=model.classes)],
                               axis=1), out / "prior.csv")
    if blend_with is not None:
        if blend_weight is None:
            saved = run / "blend.json"
            blend_weight = json.loads(saved.read_text())["weight"] if saved.is_file() else DEFAULT_BLEND_WEIGHT
        audio = _audio_scores(Path(blend_with), ids, model.classes).set_index("recording_id")
        at = ids.isin(audio.index).to_numpy()
        mixed = blend(audio.loc[ids[at], model.classes].to_numpy(np.float64), prior[at], float(blend_weight))
        write_csv_atomic(pd.concat([pd.DataFrame({"recording": ids[at].to_numpy()}),
                                    pd.DataFrame(mixed, columns=model.classes)], axis=1), out / "recordings.csv")
        write_text_atomic(out / "blend.json", json.dumps({"weight": float(blend_weight), "metadata_run": str(run),
                                                          "audio": str(blend_with)}, indent=2) + "\n")
    return out
