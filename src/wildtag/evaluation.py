"""``wildtag evaluate``: score predictions written by ``predict`` against labels.

Recording-level predictions (``recordings.csv``) are matched to clip labels; window-level predictions
(``windows.parquet``) to boxes, a window counting as positive for a class when a present box of that class
overlaps it (a fully annotated recording: no box means absent).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from wildtag.audio import AUDIO_EXTENSIONS
from wildtag.data import clip_targets, event_targets
from wildtag.labels import ClassMap, LabelError
from wildtag.metrics import evaluate, per_class_table
from wildtag.training.prepare import read_labels


@dataclass
class Evaluation:
    metrics: dict[str, Any]
    per_class: pd.DataFrame
    n_unmatched: int

    def to_json(self) -> str:
        return json.dumps({**self.metrics, "n_unmatched_predictions": self.n_unmatched,
                           "per_class": self.per_class.replace({np.nan: None}).to_dict("records")}, indent=2)


def read_predictions(path: str | Path) -> pd.DataFrame:
    """``recordings.csv`` / ``windows.parquet`` (or either format) as a DataFrame."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such predictions file")
    frame = pd.read_parquet(path) if path.suffix.lower() == ".parquet" else pd.read_csv(path)
    if "recording" not in frame.columns:
        raise LabelError(str(path), None, f"predictions need a 'recording' column; found {list(frame.columns)}")
    return frame


def _key(name: str) -> str:
    """Match ids written in different ways: 'audio/x.flac', 'x.flac' and 'x' are one recording."""
    path = Path(str(name))
    # only an audio suffix is dropped: ids like 'XC1-2013.01.08-A' keep their dots
    return path.stem if path.suffix.lower() in AUDIO_EXTENSIONS else path.name


def _score_columns(predictions: pd.DataFrame, class_map: ClassMap, origin: str) -> np.ndarray:
    missing = [c for c in class_map.names if c not in predictions.columns]
    if missing:
        raise LabelError(origin, None, f"no score column for label(s) {missing[:5]}: were these predictions made "
                                       "by a model trained on these classes?")
    return predictions[list(class_map.names)].to_numpy(dtype=np.float64)


def evaluate_files(predictions_path: str | Path, labels_path: str | Path, *, threshold: float = 0.5,
                   label_format: str = "auto") -> Evaluation:
    """Metrics of a predictions file against a labels file (clip labels or boxes)."""
    from wildtag.config import DataConfig

    predictions = read_predictions(predictions_path)
    kind, labels = read_labels(DataConfig(labels=[Path(labels_path)], format=label_format))
    score_names = [c for c in predictions.columns if c not in ("recording", "t0_s", "t1_s")]
    class_map = ClassMap(tuple(score_names))
    predictions = predictions.assign(_key=predictions["recording"].map(_key))
    if kind == "clips":
        wanted = {_key(r): rows for r, rows in labels.groupby("recording_id")}
        if "t0_s" in predictions.columns:  # windows given: pool them per recording with max
            predictions = predictions.groupby(["recording", "_key"], as_index=False)[score_names].max()
        matched = predictions[predictions["_key"].isin(wanted)]
        targets = np.stack([
            clip_targets(
                sorted({x for ls in wanted[k]["labels"] for x in ls if x in class_map}),
                sorted({x for ls in wanted[k]["secondary_labels"] for x in ls if x in class_map}),
                class_map,
            )
            for k in matched["_key"]
        ]) if len(matched) else np.zeros((0, len(class_map)))
    else:
        if "t0_s" not in predictions.columns:
            raise LabelError(str(predictions_path), None,
                             "box labels need window predictions (windows.parquet), not recording scores")
        events = labels[labels["label"].isin(class_map.names)]
        by_rec = {_key(r): rows for r, rows in events.groupby("recording_id")}
        matched = predictions[predictions["_key"].isin(by_rec)]
        targets = np.stack([
            event_targets(t0, t1, by_rec[k], class_map, unknown="zero")[0]
            for k, t0, t1 in zip(matched["_key"], matched["t0_s"], matched["t1_s"], strict=True)
        ]) if len(matched) else np.zeros((0, len(class_map)))
    if len(matched) == 0:
        raise LabelError(str(labels_path), None, "no prediction matches a labelled recording (compared file stems)")
    scores = _score_columns(matched, class_map, str(predictions_path))
    metrics = evaluate(targets, scores, list(class_map.names), threshold=threshold)
    table = per_class_table(targets, scores, list(class_map.names), threshold=threshold)
    return Evaluation(metrics, table, len(predictions) - len(matched))
