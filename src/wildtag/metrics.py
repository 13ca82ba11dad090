"""Tagging metrics for multi-label and single-label scores: LWLRAP, LRAP, mAP/cmAP, ROC-AUC, accuracy, F1.

Every function takes ``y_true`` and ``y_score`` of shape ``(n_samples, n_classes)``:

* ``y_true`` holds 1 (present), 0 (absent), soft values in [0, 1] (positive when >= 0.5) or NaN (unknown).
  An unknown entry is left out of every metric: of its class's AP/AUC/F1, and of its sample's ranking
  for LWLRAP/LRAP (the label is neither a positive nor a competitor there).
* ``y_score`` holds any real scores, probabilities or logits. Ranking metrics use only their order;
  :func:`f1_at_threshold` compares them with the threshold directly, so pass probabilities there.

Ties follow scikit-learn: a label tied with a positive counts as ranked at or above it (pessimistic), so
:func:`lrap` equals ``sklearn.metrics.label_ranking_average_precision_score`` on rows with positives, and
:func:`average_precision` / :func:`roc_auc` equal scikit-learn's per class.

    >>> import numpy as np
    >>> y_true = np.array([[1, 0, 0], [0, 1, 1]])
    >>> y_score = np.array([[0.9, 0.2, 0.1], [0.8, 0.7, 0.1]])
    >>> round(lwlrap(y_true, y_score), 4)  # pairs: 1/1, 1/2, 2/3
    0.7222
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike

__all__ = [
    "accuracy",
    "average_precision",
    "class_mean_average_precision",
    "evaluate",
    "f1_at_threshold",
    "lrap",
    "lwlrap",
    "lwlrap_per_class",
    "per_class_table",
    "roc_auc",
    "top_k_accuracy",
]

_AVERAGES = ("macro", "micro", None)
# Rows are ranked in blocks of about this many entries, to bound memory on large evaluation sets.
_BLOCK_ENTRIES = 1 << 21


# --------------------------------------------------------------------------------------------- inputs
def _check_inputs(y_true: ArrayLike, y_score: ArrayLike) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Validate the pair; return (positive mask, known mask, float scores), all (n_samples, n_classes)."""
    true = np.asarray(y_true, dtype=np.float64)
    score = np.asarray(y_score, dtype=np.float64)
    for name, array in (("y_true", true), ("y_score", score)):
        if array.ndim != 2:
            raise ValueError(
                f"{name} must be 2-D (n_samples, n_classes); got shape {array.shape}. "
                "For one class per sample, one-hot encode the labels."
            )
    if true.shape != score.shape:
        raise ValueError(f"y_true and y_score must have the same shape; got {true.shape} and {score.shape}")
    if true.shape[0] == 0 or true.shape[1] == 0:
        raise ValueError(f"need at least one sample and one class; got shape {true.shape}")
    bad = ~np.isnan(true) & ((true < 0) | (true > 1))
    if bad.any():
        row, col = np.argwhere(bad)[0]
        raise ValueError(
            "y_true must hold 0, 1, soft values in [0, 1] or NaN; "
            f"row {row}, column {col} holds {true[row, col]}"
        )
    if np.isnan(score).any():
        row, col = np.argwhere(np.isnan(score))[0]
        raise ValueError(f"y_score holds NaN at row {row}, column {col}")
    known = ~np.isnan(true)
    positive = known & (np.nan_to_num(true) >= 0.5)
    return positive, known, score


def _check_average(average: str | None) -> None:
    if average not in _AVERAGES:
        raise ValueError(f"average must be one of {_AVERAGES}; got {average!r}")


def _nanmean(values: np.ndarray) -> float:
    """Mean over the finite entries; NaN (without a warning) when there are none."""
    finite = values[~np.isnan(values)]
    return float(finite.mean()) if finite.size else math.nan


# ---------------------------------------------------------------------------------- label ranking
def _ranking_sums(
    positive: np.ndarray, known: np.ndarray, score: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Precision of every (sample, positive label) pair, summed per class and per sample.

    The precision of a positive label is (positives scored >= it) / (known labels scored >= it), both
    counted within its sample. Rows are sorted once (O(N K log K)), so dense label sets cost no more than
    sparse ones. Returns (class_sum, class_count, row_sum, row_count).
    """
    n_samples, n_classes = score.shape
    class_sum = np.zeros(n_classes)
    class_count = np.zeros(n_classes)
    row_sum = np.zeros(n_samples)
    row_count = np.zeros(n_samples)
    columns = np.arange(n_classes)
    block = max(1, _BLOCK_ENTRIES // n_classes)
    for start in range(0, n_samples, block):
        rows = slice(start, start + block)
        order = np.argsort(-score[rows], axis=1, kind="stable")
        sorted_score = np.take_along_axis(score[rows], order, axis=1)
        sorted_pos = np.take_along_axis(positive[rows], order, axis=1)
        sorted_known = np.take_along_axis(known[rows], order, axis=1)
        # Every label of a tie group shares the counts at the group's last position (ties rank "at or above").
        group_end = np.ones(sorted_score.shape, dtype=bool)
        group_end[:, :-1] = sorted_score[:, :-1] != sorted_score[:, 1:]
        end_index = np.where(group_end, columns, n_classes)
        end_index = np.minimum.accumulate(end_index[:, ::-1], axis=1)[:, ::-1]
        hits = np.take_along_axis(np.cumsum(sorted_pos, axis=1), end_index, axis=1)
        rank = np.take_along_axis(np.cumsum(sorted_known, axis=1), end_index, axis=1)
        precision = np.where(sorted_pos, hits / np.maximum(rank, 1), 0.0)
        class_sum += np.bincount(order[sorted_pos], weights=precision[sorted_pos], minlength=n_classes)
        class_count += np.bincount(order[sorted_pos], minlength=n_classes)
        row_sum[rows] = precision.sum(axis=1)
        row_count[rows] = sorted_pos.sum(axis=1)
    return class_sum, class_count, row_sum, row_count


def _lwlrap_from_sums(class_sum: np.ndarray, class_count: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    total = class_count.sum()
    with np.errstate(invalid="ignore", divide="ignore"):
        per_class = np.where(class_count > 0, class_sum / class_count, np.nan)
    weight = class_count / total if total > 0 else np.zeros_like(class_count)
    return per_class, weight


def _lwlrap_value(class_sum: np.ndarray, class_count: np.ndarray) -> float:
    total = class_count.sum()
    return float(class_sum.sum() / total) if total > 0 else math.nan


def _lrap_from_sums(row_sum: np.ndarray, row_count: np.ndarray) -> float:
    scored = row_count > 0
    return float(np.mean(row_sum[scored] / row_count[scored])) if scored.any() else math.nan


def lwlrap_per_class(y_true: ArrayLike, y_score: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    """Per-class label-ranking precision and each class's share of all (sample, positive label) pairs.

    A class without positives gets precision NaN and weight 0, so ``np.nansum(precision * weight)``
    equals :func:`lwlrap`.

        >>> precision, weight = lwlrap_per_class([[1, 0], [1, 1]], [[0.2, 0.9], [0.5, 0.1]])
        >>> precision.tolist(), weight.tolist()
        ([0.75, 1.0], [0.6666666666666666, 0.3333333333333333])
    """
    positive, known, score = _check_inputs(y_true, y_score)
    class_sum, class_count, _, _ = _ranking_sums(positive, known, score)
    return _lwlrap_from_sums(class_sum, class_count)


def lwlrap(y_true: ArrayLike, y_score: ArrayLike) -> float:
    """Label-weighted label-ranking average precision (the FAT2019 and RFCx 2021 Kaggle metric).

    The mean, over every (sample, positive label) pair, of the fraction of the sample's labels scored at
    or above that label which are positive. Unlike :func:`lrap`, every positive label weighs the same,
    so samples with many labels count more. NaN when there are no positives at all.

        >>> lwlrap([[1, 0, 0], [0, 1, 1]], [[0.9, 0.2, 0.1], [0.8, 0.7, 0.1]])  # doctest: +ELLIPSIS
        0.7222...
    """
    positive, known, score = _check_inputs(y_true, y_score)
    class_sum, class_count, _, _ = _ranking_sums(positive, known, score)
    return _lwlrap_value(class_sum, class_count)


def lrap(y_true: ArrayLike, y_score: ArrayLike) -> float:
    """Label-ranking average precision averaged over samples; rows without positives are skipped.

    Equals ``sklearn.metrics.label_ranking_average_precision_score`` when every row has a positive
    (scikit-learn scores a row without positives as 1.0 instead of skipping it).

        >>> lrap([[1, 0, 0], [0, 1, 1]], [[0.9, 0.2, 0.1], [0.8, 0.7, 0.1]])  # (1 + (1/2 + 2/3) / 2) / 2
        0.7916666666666666
    """
    positive, known, score = _check_inputs(y_true, y_score)
    _, _, row_sum, row_count = _ranking_sums(positive, known, score)
    return _lrap_from_sums(row_sum, row_count)


# ----------------------------------------------------------------------------- per-class AP / AUC
def _ap_auc(positive: np.ndarray, score: np.ndarray) -> tuple[float, float]:
    """Average precision and ROC-AUC of one binary problem, both defined as scikit-learn defines them.

    AP sums, over the distinct scores of positives t (descending), recall step * precision at ``>= t``;
    AUC is the chance that a positive outscores a negative, ties counting one half. Both come from one
    sort plus binary searches, which is faster than an argsort on long columns.
    """
    sorted_all = np.sort(score)
    sorted_pos = np.sort(score[positive])
    n_positive, n_negative = sorted_pos.size, sorted_all.size - sorted_pos.size
    if n_positive == 0:
        return math.nan, math.nan
    thresholds = sorted_pos[np.r_[sorted_pos[1:] != sorted_pos[:-1], True]][::-1]
    true_pos = n_positive - np.searchsorted(sorted_pos, thresholds, side="left")
    predicted = sorted_all.size - np.searchsorted(sorted_all, thresholds, side="left")
    ap = float(np.sum(np.diff(true_pos, prepend=0) / n_positive * true_pos / predicted))
    if n_negative == 0:
        return ap, math.nan
    # For each positive: negatives strictly below it, and negatives tied with it (all minus positives).
    all_low, all_high = (np.searchsorted(sorted_all, sorted_pos, side=side) for side in ("left", "right"))
    pos_low, pos_high = (np.searchsorted(sorted_pos, sorted_pos, side=side) for side in ("left", "right"))
    below = all_low - pos_low
    tied = (all_high - all_low) - (pos_high - pos_low)
    auc = float(np.sum(below + 0.5 * tied) / (n_positive * n_negative))
    return ap, auc


def _per_class_ap_auc(
    positive: np.ndarray, known: np.ndarray, score: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Per-class (AP, AUC) over each class's known entries; NaN where undefined."""
    pairs = []
    for k in range(score.shape[1]):
        column_known = known[:, k]
        if column_known.all():
            pairs.append(_ap_auc(positive[:, k], score[:, k]))
        else:
            pairs.append(_ap_auc(positive[column_known, k], score[column_known, k]))
    ap, auc = np.array(pairs, dtype=np.float64).reshape(-1, 2).T
    return ap, auc


def _pooled(positive: np.ndarray, known: np.ndarray, score: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Every known entry of every class as one binary problem (for micro averages)."""
    if known.all():
        return positive.ravel(), score.ravel()
    return positive[known], score[known]


def _averaged(
    positive: np.ndarray, known: np.ndarray, score: np.ndarray, average: str | None, which: int
) -> float | np.ndarray:
    """AP (which=0) or AUC (which=1), averaged as asked."""
    _check_average(average)
    if average == "micro":
        return _ap_auc(*_pooled(positive, known, score))[which]
    per_class = _per_class_ap_auc(positive, known, score)[which]
    return per_class if average is None else _nanmean(per_class)


def average_precision(
    y_true: ArrayLike, y_score: ArrayLike, average: str | None = "macro"
) -> float | np.ndarray:
    """Average precision (area under the precision-recall curve, step-wise, as scikit-learn).

    ``average="macro"`` is the mean over classes with at least one positive, ``"micro"`` pools every
    known entry of every class, ``None`` returns one value per class (NaN for a class without positives).

        >>> y_true, y_score = [[1, 0], [0, 0], [1, 1]], [[0.9, 0.8], [0.7, 0.2], [0.3, 0.4]]
        >>> average_precision(y_true, y_score)  # (5/6 + 1/2) / 2
        0.6666666666666666
    """
    positive, known, score = _check_inputs(y_true, y_score)
    return _averaged(positive, known, score, average, which=0)


def class_mean_average_precision(y_true: ArrayLike, y_score: ArrayLike, *, padding_rows: int = 0) -> float:
    """cmAP: macro AP over classes with positives, as BirdSet reports it.

    ``padding_rows=5`` gives BirdCLEF 2023's "padded cmAP": that many rows of all-ones truth and all-ones
    scores are appended first, so every class has positives and rare classes are smoothed towards 1.
    Padding assumes scores are probabilities in [0, 1].

        >>> class_mean_average_precision([[1, 0], [0, 1]], [[0.9, 0.8], [0.7, 0.2]])
        0.75
    """
    positive, known, score = _check_inputs(y_true, y_score)
    if padding_rows < 0:
        raise ValueError(f"padding_rows must be >= 0; got {padding_rows}")
    if padding_rows:
        pad = np.ones((padding_rows, score.shape[1]), dtype=bool)
        positive, known = np.vstack([positive, pad]), np.vstack([known, pad])
        score = np.vstack([score, pad.astype(np.float64)])
    return _nanmean(_per_class_ap_auc(positive, known, score)[0])


def roc_auc(y_true: ArrayLike, y_score: ArrayLike, average: str | None = "macro") -> float | np.ndarray:
    """Area under the ROC curve, per class over its known entries.

    ``"macro"`` averages the classes that have both positives and negatives, ``"micro"`` pools every
    known entry, ``None`` returns one value per class (NaN where a class lacks positives or negatives).

        >>> roc_auc([[1, 0], [0, 1], [0, 1]], [[0.9, 0.1], [0.2, 0.4], [0.3, 0.6]])
        1.0
    """
    positive, known, score = _check_inputs(y_true, y_score)
    return _averaged(positive, known, score, average, which=1)


# -------------------------------------------------------------------------------- single label
def _check_k(k: int) -> None:
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
        raise ValueError(f"k must be a positive integer; got {k!r}")


def _top_k_accuracy(y_true: np.ndarray, positive: np.ndarray, score: np.ndarray, k: int) -> float:
    """Top-k accuracy over the rows that have a positive; their true class is the argmax of y_true."""
    has_positive = positive.any(axis=1)
    if not has_positive.any():
        return math.nan
    score = score[has_positive]
    true_class = np.argmax(np.nan_to_num(y_true[has_positive], nan=-np.inf), axis=1)
    true_score = np.take_along_axis(score, true_class[:, None], axis=1)
    lower_index = np.arange(score.shape[1]) < true_class[:, None]
    ranked_above = (score > true_score) | ((score == true_score) & lower_index)
    return float(np.mean(ranked_above.sum(axis=1) < k))


def top_k_accuracy(y_true: ArrayLike, y_score: ArrayLike, k: int) -> float:
    """Share of samples whose true class (argmax of ``y_true``) is among the ``k`` best scores.

    Scores are ordered as ``np.argmax`` orders them: ties go to the lower class index, so
    ``top_k_accuracy(..., k=1) == accuracy(...)``. Rows without a positive are skipped; NaN if none is left.

        >>> top_k_accuracy([[0, 1, 0], [0, 0, 1]], [[0.5, 0.3, 0.2], [0.1, 0.6, 0.3]], k=2)
        1.0
    """
    _check_k(k)
    positive, _, score = _check_inputs(y_true, y_score)
    return _top_k_accuracy(np.asarray(y_true, dtype=np.float64), positive, score, k)


def accuracy(y_true: ArrayLike, y_score: ArrayLike) -> float:
    """Single-label accuracy: share of samples with ``argmax(y_score) == argmax(y_true)``.

    Rows without a positive are skipped; NaN if none is left.

        >>> accuracy([[0, 1, 0], [0, 0, 1]], [[0.5, 0.3, 0.2], [0.1, 0.2, 0.7]])
        0.5
    """
    return top_k_accuracy(y_true, y_score, k=1)


# ----------------------------------------------------------------------------------- threshold
def _confusion(
    positive: np.ndarray, known: np.ndarray, score: np.ndarray, threshold: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per-class true positives, false positives and false negatives over known entries."""
    predicted = (score >= threshold) & known
    true_pos = (predicted & positive).sum(axis=0)
    false_pos = (predicted & ~positive).sum(axis=0)
    false_neg = (~predicted & positive).sum(axis=0)
    return true_pos, false_pos, false_neg


def _ratio(numerator: np.ndarray, denominator: np.ndarray) -> np.ndarray:
    """numerator / denominator as floats, NaN where the denominator is 0."""
    denominator = np.asarray(denominator, dtype=np.float64)
    out = np.full(denominator.shape, np.nan)
    np.divide(numerator, denominator, out=out, where=denominator > 0)
    return out


def f1_at_threshold(
    y_true: ArrayLike, y_score: ArrayLike, threshold: float = 0.5, average: str = "macro"
) -> float:
    """F1 of the decisions ``y_score >= threshold`` (scores compared as given: pass probabilities).

    ``"macro"`` averages per-class F1 = 2 TP / (2 TP + FP + FN) over the classes where it is defined
    (a class with no positives but false alarms scores 0; one with neither is skipped, as scikit-learn's
    ``zero_division=np.nan``); ``"micro"`` pools the counts of all classes.

        >>> f1_at_threshold([[1, 0], [1, 1]], [[0.9, 0.7], [0.2, 0.8]], average="micro")  # TP 2, FP 1, FN 1
        0.6666666666666666
    """
    positive, known, score = _check_inputs(y_true, y_score)
    return _f1(positive, known, score, threshold, average)


def _f1(positive: np.ndarray, known: np.ndarray, score: np.ndarray, threshold: float, average: str) -> float:
    if average not in ("macro", "micro"):
        raise ValueError(f"average must be 'macro' or 'micro'; got {average!r}")
    true_pos, false_pos, false_neg = _confusion(positive, known, score, threshold)
    if average == "micro":
        true_pos, false_pos, false_neg = true_pos.sum(), false_pos.sum(), false_neg.sum()
    f1 = _ratio(2 * true_pos, 2 * true_pos + false_pos + false_neg)
    return float(f1) if average == "micro" else _nanmean(f1)


# ------------------------------------------------------------------------------------- summary
def per_class_table(
    y_true: ArrayLike, y_score: ArrayLike, class_names: Sequence[str], threshold: float = 0.5
) -> pd.DataFrame:
    """One row per class: counts, AP, ROC-AUC, LWLRAP precision and precision/recall/F1 at ``threshold``.

    Columns: ``class, n_positive, n_negative, ap, roc_auc, lwlrap, precision, recall, f1``; undefined
    values are NaN (e.g. AP of a class without positives, precision of a class never predicted).
    """
    positive, known, score = _check_inputs(y_true, y_score)
    names = _check_class_names(class_names, score.shape[1])
    class_sum, class_count, _, _ = _ranking_sums(positive, known, score)
    true_pos, false_pos, false_neg = _confusion(positive, known, score, threshold)
    ap, auc = _per_class_ap_auc(positive, known, score)
    return pd.DataFrame(
        {
            "class": pd.Series(names, dtype="str"),
            "n_positive": positive.sum(axis=0),
            "n_negative": (known & ~positive).sum(axis=0),
            "ap": ap,
            "roc_auc": auc,
            "lwlrap": _lwlrap_from_sums(class_sum, class_count)[0],
            "precision": _ratio(true_pos, true_pos + false_pos),
            "recall": _ratio(true_pos, true_pos + false_neg),
            "f1": _ratio(2 * true_pos, 2 * true_pos + false_pos + false_neg),
        }
    )


def _check_class_names(class_names: Sequence[str] | None, n_classes: int) -> list[str]:
    if class_names is None:
        return [str(k) for k in range(n_classes)]
    names = [str(name) for name in class_names]
    if len(names) != n_classes:
        raise ValueError(f"class_names has {len(names)} names but the scores have {n_classes} classes")
    return names


def _json_float(value: float) -> float | None:
    value = float(value)
    return None if math.isnan(value) else value


def evaluate(
    y_true: ArrayLike,
    y_score: ArrayLike,
    class_names: Sequence[str] | None = None,
    *,
    threshold: float = 0.5,
    top_k: Sequence[int] = (1, 3, 5),
    single_label: bool | None = None,
) -> dict[str, Any]:
    """All scalar metrics in one JSON-serialisable dict (plain floats and ints; undefined values are None).

    Keys: ``lwlrap, lrap, map_macro, map_micro, cmap, roc_auc_macro, f1_macro, f1_micro, n_samples,
    n_classes, n_classes_scored`` (classes with at least one positive), and for single-label sets
    (auto-detected when every row has exactly one positive) ``accuracy`` and ``top_k_accuracy@{k}``
    for each ``k`` in ``top_k``. ``class_names``, when given, is checked against the number of classes.

        >>> metrics = evaluate([[1, 0], [0, 1]], [[0.8, 0.1], [0.3, 0.6]])
        >>> metrics["lwlrap"], metrics["accuracy"], metrics["n_classes_scored"]
        (1.0, 1.0, 2)
    """
    for k in top_k:
        _check_k(k)
    positive, known, score = _check_inputs(y_true, y_score)
    _check_class_names(class_names, score.shape[1])
    class_sum, class_count, row_sum, row_count = _ranking_sums(positive, known, score)
    per_class_ap, per_class_auc = _per_class_ap_auc(positive, known, score)
    metrics: dict[str, Any] = {
        "lwlrap": _lwlrap_value(class_sum, class_count),
        "lrap": _lrap_from_sums(row_sum, row_count),
        "map_macro": _nanmean(per_class_ap),
        "map_micro": _ap_auc(*_pooled(positive, known, score))[0],
        "cmap": _nanmean(per_class_ap),
        "roc_auc_macro": _nanmean(per_class_auc),
        "f1_macro": _f1(positive, known, score, threshold, "macro"),
        "f1_micro": _f1(positive, known, score, threshold, "micro"),
    }
    if single_label is None:
        single_label = bool(np.all(positive.sum(axis=1) == 1))
    if single_label:
        true = np.asarray(y_true, dtype=np.float64)
        metrics["accuracy"] = _top_k_accuracy(true, positive, score, 1)
        for k in top_k:
            metrics[f"top_k_accuracy@{k}"] = _top_k_accuracy(true, positive, score, k)
    metrics = {name: _json_float(value) for name, value in metrics.items()}
    metrics["n_samples"] = int(score.shape[0])
    metrics["n_classes"] = int(score.shape[1])
    metrics["n_classes_scored"] = int(np.count_nonzero(class_count))
    return metrics


def row_f1_with_nocall(y_true: ArrayLike, y_pred: ArrayLike) -> float:
    """BirdCLEF 2021 row-wise F1: each row's predicted set against its true set, ``nocall`` as a label.

    ``y_true`` and ``y_pred`` are (N, K) 0/1 arrays. A row with no class set (true or predicted) stands
    for the one-element set ``{nocall}``; each row scores ``2 |P & T| / (|P| + |T|)`` and the metric is
    the mean over rows.

        >>> row_f1_with_nocall([[1, 0], [0, 0]], [[1, 1], [0, 0]])
        0.8333333333333333
    """
    true = np.asarray(y_true, dtype=bool)
    pred = np.asarray(y_pred, dtype=bool)
    if true.ndim != 2 or true.shape != pred.shape:
        raise ValueError(f"y_true and y_pred must be (N, K) arrays of one shape, got {true.shape} and {pred.shape}")
    if true.shape[0] == 0:
        raise ValueError("row_f1_with_nocall needs at least one row")
    true_nocall = ~true.any(axis=1)
    pred_nocall = ~pred.any(axis=1)
    hits = (true & pred).sum(axis=1) + (true_nocall & pred_nocall)
    sizes = true.sum(axis=1) + true_nocall + pred.sum(axis=1) + pred_nocall
    return float(np.mean(2.0 * hits / sizes))
