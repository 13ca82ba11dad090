"""Event-level evaluation of detections against truth boxes, and the plots of an evaluation.

    >>> result = evaluate_detection_files("preds/detections.csv", "raven_tables/", iou=0.5)
    >>> result.metrics["f1_micro"], result.per_class[["class", "precision", "recall", "f1"]]

A detection (``predict --detect``: recording, t0_s, t1_s, class, score_max) is a true positive when it
overlaps a present truth box of its class on the same recording by at least ``iou`` (intersection over
union of the time spans). Per recording and class, detections are matched best score first, each to the
unmatched box it overlaps most, and each box matches one detection at most: the others are false
positives, unmatched boxes false negatives. Per class: precision, recall, F1 at the detection threshold,
and AP over the detections ranked by score.

The recordings evaluated are those predict scored (``recordings.csv`` beside the detections), so a
recording without any detection still counts its boxes as missed; without that file, every labelled
recording is taken as scored. Recordings meet by recording id (:mod:`wildtag.labels.ids`).

:func:`write_plots` draws PNGs (matplotlib, Agg): precision-recall curves per class, score histograms of
true against false detections (or of positive against negative windows), and for single-label sets a
confusion matrix.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from wildtag.labels import LabelError, RecordingIds, read_labels

DETECTION_KEYS = ("recording", "t0_s", "t1_s", "class", "score_max")
NON_SCORE_COLUMNS = ("recording", "t0_s", "t1_s", "datetime")


def is_detections(frame: pd.DataFrame) -> bool:
    """Whether a predictions table is a detections table (one row per event) rather than scores."""
    return set(DETECTION_KEYS) <= set(frame.columns)


def score_table(predictions: pd.DataFrame) -> pd.DataFrame:
    """Window or recording scores as ``recording, [t0_s, t1_s,] one column per class``.

    Drops the ``datetime`` column of windows with absolute times, and turns long windows (``class,
    score`` rows from ``--windows-top-k`` / ``--windows-min-score``) wide, scores left out being 0.
    """
    frame = predictions.drop(columns=[c for c in ("datetime",) if c in predictions.columns])
    if {"class", "score"} <= set(frame.columns) and "t0_s" in frame.columns:
        wide = frame.pivot_table(index=["recording", "t0_s", "t1_s"], columns="class", values="score",
                                 aggfunc="max", fill_value=0.0, sort=False)
        frame = wide[sorted(wide.columns)].reset_index()  # classes in name order, windows in file order
        frame.columns.name = None
    return frame


def _iou(t0: float, t1: float, b0: np.ndarray, b1: np.ndarray) -> np.ndarray:
    inter = np.clip(np.minimum(t1, b1) - np.maximum(t0, b0), 0, None)
    union = np.maximum(t1, b1) - np.minimum(t0, b0)
    return np.where(union > 0, inter / np.where(union > 0, union, 1), 0.0)


def match_detections(detections: pd.DataFrame, truth: pd.DataFrame, iou: float) -> tuple[np.ndarray, int]:
    """``(true_positive per detection, number of truth boxes)`` for one class on all recordings.

    ``truth`` has ``recording, t0_s, t1_s`` (present boxes of that class, recordings as prediction ids).
    """
    hit = np.zeros(len(detections), dtype=bool)
    boxes = {rid: rows for rid, rows in truth.groupby("recording", sort=False)}
    for rid, rows in detections.groupby("recording", sort=False):
        if rid not in boxes:
            continue
        b0, b1 = boxes[rid]["t0_s"].to_numpy(float), boxes[rid]["t1_s"].to_numpy(float)
        free = np.ones(len(b0), dtype=bool)
        order = rows.sort_values("score_max", ascending=False, kind="stable")
        for index, t0, t1 in zip(order.index, order["t0_s"], order["t1_s"], strict=True):
            overlap = np.where(free, _iou(t0, t1, b0, b1), -1.0)
            best = int(np.argmax(overlap)) if len(overlap) else -1
            if best >= 0 and overlap[best] >= iou:
                free[best] = False
                hit[detections.index.get_loc(index)] = True
    return hit, len(truth)


def _average_precision(scores: np.ndarray, hit: np.ndarray, n_truth: int) -> float:
    if n_truth == 0:
        return float("nan")
    order = np.argsort(-scores, kind="stable")
    tp = np.cumsum(hit[order])
    precision = tp / np.arange(1, len(order) + 1)
    return float(np.sum(precision * hit[order]) / n_truth)


def evaluate_detections(detections: pd.DataFrame, truth: pd.DataFrame, class_names: Sequence[str],
                        iou: float = 0.5) -> tuple[dict[str, Any], pd.DataFrame, pd.DataFrame]:
    """``(metrics, per-class table, detections with a true_positive column)`` (see the module doc).

    ``truth``: present boxes as ``recording, t0_s, t1_s, label`` with recordings already as prediction ids.
    """
    if not 0 < iou <= 1:
        raise LabelError(None, None, f"iou must be in (0, 1], got {iou}")
    detections = detections.reset_index(drop=True)
    flags = np.zeros(len(detections), dtype=bool)
    rows = []
    for name in class_names:
        mine = detections[detections["class"] == name]
        boxes = truth[truth["label"] == name]
        hit, n_truth = match_detections(mine, boxes, iou)
        flags[mine.index] = hit
        tp, fp = int(hit.sum()), int((~hit).sum())
        fn = n_truth - tp
        rows.append({"class": name, "n_truth": n_truth, "n_detections": len(mine), "tp": tp, "fp": fp, "fn": fn,
                     "precision": tp / (tp + fp) if tp + fp else np.nan,
                     "recall": tp / n_truth if n_truth else np.nan,
                     "f1": 2 * tp / (2 * tp + fp + fn) if tp + fp + fn else np.nan,
                     "ap": _average_precision(mine["score_max"].to_numpy(float), hit, n_truth)})
    table = pd.DataFrame(rows, columns=["class", "n_truth", "n_detections", "tp", "fp", "fn", "precision", "recall",
                                        "f1", "ap"])
    tp, fp, fn = (int(table[c].sum()) for c in ("tp", "fp", "fn"))
    scored = table[(table["n_truth"] > 0) | (table["n_detections"] > 0)]
    metrics = {"iou": iou, "n_detections": len(detections), "n_truth_boxes": int(table["n_truth"].sum()),
               "tp": tp, "fp": fp, "fn": fn,
               "precision_micro": tp / (tp + fp) if tp + fp else float("nan"),
               "recall_micro": tp / (tp + fn) if tp + fn else float("nan"),
               "f1_micro": 2 * tp / (2 * tp + fp + fn) if tp + fp + fn else float("nan"),
               "f1_macro": float(scored["f1"].fillna(0.0).mean()) if len(scored) else float("nan"),
               "map_macro": float(table["ap"].dropna().mean()) if table["ap"].notna().any() else float("nan")}
    return metrics, table, detections.assign(true_positive=flags)


def evaluate_detection_files(detections_path: str | Path, labels_path: str | Path, *, iou: float = 0.5,
                             label_format: str = "auto", detections: pd.DataFrame | None = None):
    """Event-level metrics of a detections file against box labels (an :class:`~wildtag.evaluation.Evaluation`)."""
    from wildtag.evaluation import Evaluation, match_labels

    detections_path = Path(detections_path)
    if detections is None:
        detections = (pd.read_parquet(detections_path) if detections_path.suffix == ".parquet"
                      else pd.read_csv(detections_path, keep_default_na=False, na_values=[""]))
    labels = read_labels(Path(labels_path), label_format)
    if labels.kind != "events":
        raise LabelError(str(labels_path), None, "detections are evaluated against boxes (Raven tables, event "
                                                 "tables, RFCx); these are clip labels: evaluate recordings.csv")
    beside = detections_path.with_name("recordings.csv")
    if beside.is_file():
        scored_table = pd.read_csv(beside)
        scored = scored_table["recording"].astype(str).tolist()
        class_names = [c for c in scored_table.columns if c != "recording"]
    else:
        scored = sorted(set(detections["recording"].astype(str)) | set(map(str, labels.recordings)))
        class_names = sorted(set(detections["class"].astype(str)) | set(labels.table["label"].astype(str)))
    predicted = RecordingIds(scored)
    events = labels.table
    prediction_of = match_labels(list(labels.recordings), predicted, events)
    present = events[events["present"].astype(bool)]
    truth = pd.DataFrame({"recording": present["recording_id"].astype(str).map(prediction_of),
                          "t0_s": present["t0_s"], "t1_s": present["t1_s"], "label": present["label"].astype(str)})
    truth = truth[truth["recording"].notna()]
    evaluated = set(prediction_of.values())
    detections = detections[detections["recording"].astype(str).isin(evaluated)]
    if not evaluated:
        raise LabelError(str(labels_path), None, "no labelled recording matches a scored one (matched by recording "
                                                 "id: the path relative to the input folder)")
    metrics, table, flagged = evaluate_detections(detections, truth, class_names, iou)
    metrics["n_recordings"] = len(evaluated)
    return Evaluation(metrics, table, len(set(scored) - evaluated), detections=flagged)


def write_plots(result: Any, folder: str | Path) -> list[Path]:
    """PNGs of an evaluation: PR curves per class, score histograms, confusion matrix (single-label)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    curves, histogram = _curves_and_histogram(result)
    if curves:
        fig, ax = plt.subplots(figsize=(6, 5))
        for name, (recall, precision) in list(curves.items())[:20]:
            ax.plot(recall, precision, label=name, drawstyle="steps-post")
        ax.set(xlabel="recall", ylabel="precision", xlim=(0, 1), ylim=(0, 1.02), title="precision-recall per class")
        ax.legend(fontsize=7, loc="lower left")
        written.append(_save(fig, folder / "pr_curves.png"))
    if histogram is not None:
        positive, negative, what = histogram
        fig, ax = plt.subplots(figsize=(6, 4))
        bins = np.linspace(0, 1, 41)
        ax.hist(negative, bins=bins, alpha=0.6, label=f"false ({len(negative)})")
        ax.hist(positive, bins=bins, alpha=0.6, label=f"true ({len(positive)})")
        ax.set(xlabel="score", ylabel=what, title=f"scores of true and false {what}")
        ax.legend()
        written.append(_save(fig, folder / "score_histograms.png"))
    confusion = _confusion(result)
    if confusion is not None:
        matrix, names = confusion
        fig, ax = plt.subplots(figsize=(1 + 0.4 * len(names), 1 + 0.4 * len(names)))
        ax.imshow(matrix, cmap="Blues")
        ax.set_xticks(range(len(names)), names, rotation=90, fontsize=7)
        ax.set_yticks(range(len(names)), names, fontsize=7)
        ax.set(xlabel="predicted (highest score)", ylabel="true", title="confusion matrix")
        for i, j in zip(*np.nonzero(matrix), strict=True):
            ax.text(j, i, str(matrix[i, j]), ha="center", va="center", fontsize=6)
        written.append(_save(fig, folder / "confusion_matrix.png"))
    return written


def _save(fig: Any, path: Path) -> Path:
    import matplotlib.pyplot as plt

    from wildtag.fileio import atomic_path

    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=110)
    plt.close(fig)
    return path


def _curves_and_histogram(result: Any) -> tuple[dict[str, tuple[np.ndarray, np.ndarray]], tuple | None]:
    """PR curves per class and (true scores, false scores, what) from a detection or score evaluation."""
    curves: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    if getattr(result, "detections", None) is not None:
        flagged = result.detections
        n_truth = dict(zip(result.per_class["class"], result.per_class["n_truth"], strict=True))
        for name, rows in flagged.groupby("class", sort=True):
            if n_truth.get(name, 0) == 0:
                continue
            order = rows.sort_values("score_max", ascending=False, kind="stable")
            tp = np.cumsum(order["true_positive"].to_numpy())
            curves[str(name)] = (np.r_[0, tp / n_truth[name]], np.r_[1, tp / np.arange(1, len(tp) + 1)])
        hit = flagged["true_positive"].to_numpy(bool)
        scores = flagged["score_max"].to_numpy(float)
        return curves, (scores[hit], scores[~hit], "detections")
    targets, scores, names = (getattr(result, k, None) for k in ("targets", "scores", "class_names"))
    if targets is None:
        return curves, None
    from sklearn.metrics import precision_recall_curve

    known = ~np.isnan(targets)
    for k, name in enumerate(names):
        column = known[:, k]
        if targets[column, k].sum() == 0:
            continue
        precision, recall, _ = precision_recall_curve(targets[column, k] > 0.5, scores[column, k])
        curves[name] = (recall[::-1], precision[::-1])
    positive = targets > 0.5
    return curves, (scores[positive & known], scores[~positive & known], "windows or recordings")


def _confusion(result: Any) -> tuple[np.ndarray, list[str]] | None:
    targets, scores, names = (getattr(result, k, None) for k in ("targets", "scores", "class_names"))
    if targets is None or not len(targets) or not np.all(np.nansum(targets > 0.5, axis=1) == 1):
        return None  # a confusion matrix means something for single-label sets only
    true = np.argmax(targets > 0.5, axis=1)
    predicted = np.argmax(scores, axis=1)
    matrix = np.zeros((len(names), len(names)), dtype=int)
    np.add.at(matrix, (true, predicted), 1)
    return matrix, list(names)
