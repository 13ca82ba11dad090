"""``wildtag evaluate``: score predictions written by ``predict`` against labels.

Recording-level predictions (``recordings.csv``) are matched to clip labels; window-level predictions
(``windows.parquet``) to boxes, a window counting as positive for a class when a present box of that class
overlaps it (a fully annotated recording: no box means absent; a Raven table with no rows, every class
absent). Both meet by recording id, the audio path relative to the folder predict was given.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from wildtag.data import clip_targets, event_targets
from wildtag.labels import ClassMap, LabelError, RecordingIds, read_labels
from wildtag.labels.ids import normalise_id
from wildtag.metrics import evaluate, per_class_table


@dataclass
class Evaluation:
    metrics: dict[str, Any]
    per_class: pd.DataFrame
    n_unmatched: int
    # what the plots are drawn from (wildtag.evaluation_events.write_plots)
    targets: np.ndarray | None = field(default=None, repr=False)
    scores: np.ndarray | None = field(default=None, repr=False)
    class_names: list[str] | None = None
    detections: pd.DataFrame | None = field(default=None, repr=False)  # with a true_positive column

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


def check_unique_predictions(predictions: pd.DataFrame, origin: str) -> None:
    """A recording scored twice (or a window twice) is an error naming it, never silently the last one."""
    keys = ["recording", "t0_s"] if "t0_s" in predictions.columns else ["recording"]
    repeated = predictions.duplicated(keys, keep=False)
    if repeated.any():
        first = predictions[repeated].iloc[0]
        what = " ".join(f"{k}={first[k]!r}" for k in keys)
        raise LabelError(origin, None, f"{what} appears {int(repeated.sum())} times; each must appear once "
                                       "(were two prediction files concatenated?)")


def match_labels(names: list[str], predicted: RecordingIds, labels: pd.DataFrame) -> dict[str, str]:
    """``{label recording name: prediction id}`` for the labelled recordings that were predicted.

    Names resolve by the recording-id rule (:mod:`wildtag.labels.ids`): ``site_a/0600.wav`` matches only
    itself; ``0600`` matches a prediction only when one alone ends with it. Two label names that find the
    same prediction are an error naming both rows.
    """
    source = dict(zip(labels["recording_id"].astype(str), labels["source"], strict=True))
    matched: dict[str, str] = {}
    by_prediction: dict[str, str] = {}
    for name in names:
        rid = predicted.resolve(name, source.get(name))
        if rid is None:
            continue
        if rid in by_prediction:
            raise LabelError.at(source.get(name), f"recording {name!r} and {by_prediction[rid]!r} (at "
                                f"{source.get(by_prediction[rid])}) both name the predicted {rid!r}")  # fmt: skip
        by_prediction[rid] = name
        matched[name] = rid
    return matched


def _check_unique_clips(labels: pd.DataFrame) -> None:
    whole = labels[labels["t0_s"].isna()]
    repeated = whole["recording_id"].duplicated(keep="first")
    if repeated.any():
        row = whole[repeated].iloc[0]
        first = whole[whole["recording_id"] == row["recording_id"]].iloc[0]
        raise LabelError.at(row["source"], f"recording {row['recording_id']!r} is labelled again (first at "
                                           f"{first['source']}); label each recording once")  # fmt: skip


def check_scores(predictions: pd.DataFrame, score_names: list[str], origin: str) -> None:
    """Every score is a finite number; else a LabelError naming the file, recording, class and cell."""
    block = predictions[score_names]
    values = block.apply(pd.to_numeric, errors="coerce").to_numpy(np.float64)
    bad = np.argwhere(~np.isfinite(values))
    if len(bad):
        i, j = bad[0]
        where = f"recording {predictions['recording'].iloc[i]!r}"
        if "t0_s" in predictions.columns:
            where += f" at t0_s={predictions['t0_s'].iloc[i]}"
        cell = block.iat[i, j]
        shown = "empty" if pd.isna(cell) else repr(cell.item() if isinstance(cell, np.generic) else cell)
        raise LabelError(origin, None, f"score {score_names[j]!r} of {where} is {shown}, not a finite number "
                                       f"({len(bad)} such cell(s)); every class needs a score in every row")


def _score_columns(predictions: pd.DataFrame, class_map: ClassMap, origin: str) -> np.ndarray:
    missing = [c for c in class_map.names if c not in predictions.columns]
    if missing:
        raise LabelError(origin, None, f"no score column for label(s) {missing[:5]}: were these predictions made "
                                       "by a model trained on these classes?")
    return predictions[list(class_map.names)].to_numpy(dtype=np.float64)


def evaluate_files(predictions_path: str | Path, labels_path: str | Path, *, threshold: float = 0.5,
                   label_format: str = "auto", iou: float = 0.5) -> Evaluation:
    """Metrics of a predictions file against a labels file (clip labels or boxes).

    Predictions and labels meet by recording id (:mod:`wildtag.labels.ids`): ``site_a/0600.wav`` and
    ``site_b/0600.wav`` are different recordings; a bare ``0600`` in the labels matches only when one
    prediction alone ends with it. A recording (or window) listed twice in either file is an error.
    """
    from wildtag.evaluation_events import evaluate_detection_files, is_detections, score_table

    predictions = read_predictions(predictions_path)
    if is_detections(predictions):  # detections.csv/.parquet from predict --detect: event-level metrics
        return evaluate_detection_files(predictions_path, labels_path, iou=iou, label_format=label_format,
                                        detections=predictions)
    predictions = score_table(predictions)  # without a datetime column; long windows made wide
    check_unique_predictions(predictions, str(predictions_path))
    labels_read = read_labels(Path(labels_path), label_format)
    labels = labels_read.table
    score_names = [c for c in predictions.columns if c not in ("recording", "t0_s", "t1_s")]
    check_scores(predictions, score_names, str(predictions_path))
    class_map = ClassMap(tuple(score_names))
    predicted = RecordingIds(predictions["recording"].astype(str))
    predictions = predictions.assign(recording=predictions["recording"].astype(str).map(normalise_id))
    if labels_read.kind == "clips":
        _check_unique_clips(labels)
        name_of = {rid: name for name, rid in match_labels(list(labels_read.recordings), predicted, labels).items()}
        wanted = dict(tuple(labels.groupby(labels["recording_id"].astype(str), sort=False)))
        if "t0_s" in predictions.columns:  # windows given: pool them per recording with max
            predictions = predictions.groupby("recording", as_index=False, sort=False)[score_names].max()
        matched = predictions[predictions["recording"].isin(name_of)]
        targets = np.stack([
            clip_targets(
                sorted({x for ls in wanted[name_of[r]]["labels"] for x in ls if x in class_map}),
                sorted({x for ls in wanted[name_of[r]]["secondary_labels"] for x in ls if x in class_map}),
                class_map,
            )
            for r in matched["recording"]
        ]) if len(matched) else np.zeros((0, len(class_map)))
    else:
        if "t0_s" not in predictions.columns:
            raise LabelError(str(predictions_path), None,
                             "box labels need window predictions (windows.parquet), not recording scores")
        # a recording annotated with no boxes (an empty Raven table) matches too: every class absent
        name_of = {rid: name for name, rid in match_labels(list(labels_read.recordings), predicted, labels).items()}
        events = labels[labels["label"].isin(class_map.names)]
        by_rec = dict(tuple(events.groupby(events["recording_id"].astype(str), sort=False)))
        no_boxes = events.iloc[:0]
        matched = predictions[predictions["recording"].isin(name_of)]
        targets = np.stack([
            event_targets(t0, t1, by_rec.get(name_of[r], no_boxes), class_map, unknown="zero")[0]
            for r, t0, t1 in zip(matched["recording"], matched["t0_s"], matched["t1_s"], strict=True)
        ]) if len(matched) else np.zeros((0, len(class_map)))
    if len(matched) == 0:
        raise LabelError(str(labels_path), None, "no prediction matches a labelled recording (matched by recording id: the path relative to the input folder)")
    scores = _score_columns(matched, class_map, str(predictions_path))
    metrics = evaluate(targets, scores, list(class_map.names), threshold=threshold)
    table = per_class_table(targets, scores, list(class_map.names), threshold=threshold)
    return Evaluation(metrics, table, len(predictions) - len(matched), targets, scores, list(class_map.names))
