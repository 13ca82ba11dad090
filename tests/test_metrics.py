from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import (
    average_precision_score,
    f1_score,
    label_ranking_average_precision_score,
    roc_auc_score,
)

from wildtag import metrics
from wildtag.metrics import (
    accuracy,
    average_precision,
    class_mean_average_precision,
    evaluate,
    f1_at_threshold,
    lrap,
    lwlrap,
    lwlrap_per_class,
    per_class_table,
    roc_auc,
    top_k_accuracy,
)


def brute_force_pair_precisions(y_true: np.ndarray, y_score: np.ndarray) -> list[tuple[int, int, float]]:
    """(row, class, precision) for every known positive label, one sample and one label at a time."""
    pairs = []
    for i in range(y_true.shape[0]):
        known = [k for k in range(y_true.shape[1]) if not np.isnan(y_true[i, k])]
        positives = [k for k in known if y_true[i, k] >= 0.5]
        for j in positives:
            at_or_above = [k for k in known if y_score[i, k] >= y_score[i, j]]
            hits = sum(1 for k in at_or_above if k in positives)
            pairs.append((i, j, hits / len(at_or_above)))
    return pairs


def random_labels(
    seed: int, n_samples: int = 60, n_classes: int = 7, nan_share: float = 0.0
) -> tuple[np.ndarray, np.ndarray]:
    """Multi-label truth (some rows empty) and coarse scores with many ties."""
    rng = np.random.default_rng(seed)
    y_true = (rng.random((n_samples, n_classes)) < 0.3).astype(np.float64)
    y_true[rng.random(n_samples) < 0.15] = 0.0
    y_true[rng.random((n_samples, n_classes)) < nan_share] = np.nan
    y_score = rng.integers(0, 5, size=(n_samples, n_classes)) / 4.0
    return y_true, y_score


@pytest.mark.parametrize("seed", [0, 1, 2, 3, 4])
@pytest.mark.parametrize("nan_share", [0.0, 0.1])
def test_lwlrap_matches_brute_force(seed: int, nan_share: float) -> None:
    y_true, y_score = random_labels(seed, nan_share=nan_share)
    pairs = brute_force_pair_precisions(y_true, y_score)
    assert lwlrap(y_true, y_score) == pytest.approx(np.mean([p for _, _, p in pairs]), abs=1e-12)

    precision, weight = lwlrap_per_class(y_true, y_score)
    for k in range(y_true.shape[1]):
        class_pairs = [p for _, j, p in pairs if j == k]
        assert weight[k] == pytest.approx(len(class_pairs) / len(pairs))
        if class_pairs:
            assert precision[k] == pytest.approx(np.mean(class_pairs), abs=1e-12)
        else:
            assert math.isnan(precision[k])


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_lwlrap_equals_weighted_sum_of_per_class(seed: int) -> None:
    y_true, y_score = random_labels(seed, nan_share=0.05)
    y_true[:, 0] = 0.0  # a class without positives: precision NaN, weight 0
    precision, weight = lwlrap_per_class(y_true, y_score)
    assert math.isnan(precision[0]) and weight[0] == 0.0
    assert weight.sum() == pytest.approx(1.0)
    assert np.nansum(precision * weight) == pytest.approx(lwlrap(y_true, y_score), abs=1e-12)


def test_lwlrap_in_blocks_equals_lwlrap_in_one_pass(monkeypatch: pytest.MonkeyPatch) -> None:
    y_true, y_score = random_labels(7, n_samples=50, nan_share=0.1)
    whole = lwlrap(y_true, y_score), lrap(y_true, y_score)
    monkeypatch.setattr(metrics, "_BLOCK_ENTRIES", 20)  # 2 rows per block for 7 classes, last block short
    assert (lwlrap(y_true, y_score), lrap(y_true, y_score)) == pytest.approx(whole, abs=1e-12)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_lwlrap_equals_sklearn_lrap_when_rows_have_equal_label_counts(seed: int) -> None:
    rng = np.random.default_rng(seed)
    y_true = np.zeros((40, 6))
    for row in y_true:
        row[rng.choice(6, size=2, replace=False)] = 1.0
    y_score = rng.integers(0, 4, size=(40, 6)).astype(np.float64)
    expected = label_ranking_average_precision_score(y_true, y_score)
    assert lwlrap(y_true, y_score) == pytest.approx(expected, abs=1e-12)


def test_lwlrap_differs_from_lrap_when_label_counts_differ() -> None:
    y_true = np.array([[1, 0, 0], [1, 1, 0]])
    y_score = np.array([[1.0, 0.0, 0.0], [0.1, 0.5, 0.9]])
    # Row 0: its one positive is first (1). Row 1: class 1 at rank 2 with 1 hit (1/2), class 0 at rank 3
    # with 2 hits (2/3). LWLRAP weighs the three pairs equally; LRAP weighs the two rows equally.
    assert lwlrap(y_true, y_score) == pytest.approx((1 + 1 / 2 + 2 / 3) / 3)
    assert lrap(y_true, y_score) == pytest.approx((1 + (1 / 2 + 2 / 3) / 2) / 2)
    assert lrap(y_true, y_score) == pytest.approx(label_ranking_average_precision_score(y_true, y_score))
    assert lwlrap(y_true, y_score) != pytest.approx(lrap(y_true, y_score))


def test_ranking_metrics_depend_only_on_score_order() -> None:
    y_true, y_score = random_labels(3)
    logits = np.random.default_rng(0).normal(size=y_score.shape) + 3 * y_score
    probabilities = 1 / (1 + np.exp(-logits))
    assert lwlrap(y_true, logits) == pytest.approx(lwlrap(y_true, probabilities), abs=1e-12)
    assert lrap(y_true, logits) == pytest.approx(lrap(y_true, probabilities), abs=1e-12)
    assert lwlrap(y_true, y_true) == 1.0  # scoring the truth itself is perfect


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_lrap_matches_sklearn_and_skips_rows_without_positives(seed: int) -> None:
    y_true, y_score = random_labels(seed)
    with_positive = y_true.sum(axis=1) > 0
    assert not with_positive.all()
    kept_true, kept_score = y_true[with_positive], y_score[with_positive]
    expected = label_ranking_average_precision_score(kept_true, kept_score)
    assert lrap(kept_true, kept_score) == pytest.approx(expected, abs=1e-12)
    assert lrap(y_true, y_score) == pytest.approx(expected, abs=1e-12)
    # scikit-learn scores an empty row as 1.0 instead of skipping it, so it is higher here.
    assert label_ranking_average_precision_score(y_true, y_score) > lrap(y_true, y_score)


def test_nan_labels_are_left_out_of_the_ranking() -> None:
    y_true = np.array([[1.0, np.nan, 0.0]])
    y_score = np.array([[0.5, 0.9, 0.1]])
    assert lwlrap(y_true, y_score) == 1.0  # the unknown label above the positive does not count
    assert lwlrap(np.nan_to_num(y_true), y_score) == 0.5
    assert lrap(y_true, y_score) == 1.0


def test_no_positives_gives_nan() -> None:
    y_true, y_score = np.zeros((3, 2)), np.ones((3, 2))
    assert math.isnan(lwlrap(y_true, y_score))
    assert math.isnan(lrap(y_true, y_score))
    assert math.isnan(average_precision(y_true, y_score))
    assert math.isnan(accuracy(y_true, y_score))


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_average_precision_and_roc_auc_match_sklearn_per_class(seed: int) -> None:
    y_true, y_score = random_labels(seed, n_samples=80)
    y_true[:, 1] = 0.0  # no positives: AP and AUC undefined
    y_true[:, 2] = 1.0  # no negatives: AUC undefined, AP defined
    ap = average_precision(y_true, y_score, average=None)
    auc = roc_auc(y_true, y_score, average=None)
    assert ap.shape == auc.shape == (y_true.shape[1],)
    assert math.isnan(ap[1]) and math.isnan(auc[1]) and math.isnan(auc[2])
    assert ap[2] == pytest.approx(1.0)
    for k in [0, 3, 4, 5, 6]:
        assert ap[k] == pytest.approx(average_precision_score(y_true[:, k], y_score[:, k]), abs=1e-12)
        assert auc[k] == pytest.approx(roc_auc_score(y_true[:, k], y_score[:, k]), abs=1e-12)
    assert average_precision(y_true, y_score) == pytest.approx(np.mean(ap[[0, 2, 3, 4, 5, 6]]))
    assert roc_auc(y_true, y_score) == pytest.approx(np.mean(auc[[0, 3, 4, 5, 6]]))
    assert class_mean_average_precision(y_true, y_score) == pytest.approx(average_precision(y_true, y_score))


@pytest.mark.parametrize("seed", [0, 1])
def test_micro_averages_match_sklearn(seed: int) -> None:
    y_true, y_score = random_labels(seed, n_samples=80)
    expected_ap = average_precision_score(y_true, y_score, average="micro")
    expected_auc = roc_auc_score(y_true, y_score, average="micro")
    assert average_precision(y_true, y_score, average="micro") == pytest.approx(expected_ap, abs=1e-12)
    assert roc_auc(y_true, y_score, average="micro") == pytest.approx(expected_auc, abs=1e-12)


def test_nan_labels_are_masked_per_class_in_ap_and_auc() -> None:
    y_true, y_score = random_labels(5, n_samples=80, nan_share=0.2)
    ap = average_precision(y_true, y_score, average=None)
    auc = roc_auc(y_true, y_score, average=None)
    for k in range(y_true.shape[1]):
        known = ~np.isnan(y_true[:, k])
        assert ap[k] == pytest.approx(average_precision_score(y_true[known, k], y_score[known, k]))
        assert auc[k] == pytest.approx(roc_auc_score(y_true[known, k], y_score[known, k]))
    known = ~np.isnan(y_true)
    expected_micro = average_precision_score(y_true[known], y_score[known])
    assert average_precision(y_true, y_score, average="micro") == pytest.approx(expected_micro)


def test_soft_labels_count_as_positive_from_one_half() -> None:
    y_score = np.array([[0.9], [0.8], [0.1]])
    soft = average_precision(np.array([[0.5], [0.3], [1.0]]), y_score, average=None)
    hard = average_precision(np.array([[1.0], [0.0], [1.0]]), y_score, average=None)
    assert soft[0] == hard[0] == pytest.approx((1 / 1 + 2 / 3) / 2)


def test_padded_cmap_matches_sklearn_on_padded_arrays() -> None:
    y_true, y_score = random_labels(4, n_samples=30)
    y_score = y_score.clip(0, 1)
    y_true[:, 3] = 0.0  # padding gives this class positives, so it counts
    padded_true = np.vstack([y_true, np.ones((5, y_true.shape[1]))])
    padded_score = np.vstack([y_score, np.ones((5, y_true.shape[1]))])
    expected = average_precision_score(padded_true, padded_score, average="macro")
    assert class_mean_average_precision(y_true, y_score, padding_rows=5) == pytest.approx(expected)
    with pytest.raises(ValueError, match="padding_rows"):
        class_mean_average_precision(y_true, y_score, padding_rows=-1)


def test_accuracy_and_top_k_on_a_worked_example() -> None:
    y_true = np.array(
        [
            [1, 0, 0, 0],  # best score: right
            [0, 1, 0, 0],  # second best
            [0, 0, 0, 1],  # third best
            [0, 0, 0, 0],  # no positive: skipped
            [0, 0, 0.9, 0.1],  # soft label, true class 2, which ties class 0 for first: class 0 wins the tie
        ]
    )
    y_score = np.array(
        [
            [0.7, 0.1, 0.1, 0.1],
            [0.5, 0.3, 0.1, 0.1],
            [0.3, 0.4, 0.2, 0.25],
            [0.9, 0.0, 0.0, 0.1],
            [0.4, 0.2, 0.4, 0.0],
        ]
    )
    assert accuracy(y_true, y_score) == pytest.approx(1 / 4)
    assert top_k_accuracy(y_true, y_score, k=1) == pytest.approx(1 / 4)
    assert top_k_accuracy(y_true, y_score, k=2) == pytest.approx(3 / 4)
    assert top_k_accuracy(y_true, y_score, k=3) == pytest.approx(4 / 4)
    assert top_k_accuracy(y_true, y_score, k=10) == 1.0
    for bad_k in (0, -1, 1.5, True):
        with pytest.raises(ValueError, match="k must be a positive integer"):
            top_k_accuracy(y_true, y_score, k=bad_k)


def test_f1_on_a_worked_example() -> None:
    y_true = np.array([[1, 0, 0], [1, 1, 0], [0, 1, np.nan], [0, 0, 0]])
    y_score = np.array([[0.9, 0.6, 0.1], [0.4, 0.7, 0.2], [0.5, 0.2, 0.9], [0.1, 0.1, 0.3]])
    # class 0: TP 1 (row 0), FN 1 (row 1), FP 1 (row 2) -> F1 2/4
    # class 1: TP 1 (row 1), FN 1 (row 2), FP 1 (row 0) -> F1 2/4
    # class 2: no positives, no predictions on known rows (row 2 is unknown) -> undefined, skipped
    assert f1_at_threshold(y_true, y_score) == pytest.approx(0.5)
    assert f1_at_threshold(y_true, y_score, average="micro") == pytest.approx(4 / 8)
    # at 0.35, class 0: TP 2, FP 1, FN 0 -> 4/5; class 1 unchanged (1/2); class 2 still undefined
    assert f1_at_threshold(y_true, y_score, threshold=0.35) == pytest.approx((4 / 5 + 1 / 2) / 2)
    # at 0.25 row 3 is a false alarm for class 2, which has no positives: it counts, with F1 0
    assert f1_at_threshold(y_true, y_score, threshold=0.25) == pytest.approx((4 / 5 + 1 / 2 + 0) / 3)
    with pytest.raises(ValueError, match="average must be 'macro' or 'micro'"):
        f1_at_threshold(y_true, y_score, average="weighted")


def test_f1_matches_sklearn_with_nan_zero_division() -> None:
    y_true, y_score = random_labels(6, n_samples=50)
    y_true[:, 4] = 0.0
    predicted = (y_score >= 0.5).astype(int)
    for average in ("macro", "micro"):
        expected = f1_score(y_true, predicted, average=average, zero_division=np.nan)
        assert f1_at_threshold(y_true, y_score, 0.5, average) == pytest.approx(expected)


def test_per_class_table_rows_and_values() -> None:
    y_true = np.array([[1, 0, 0], [0, 1, 0], [1, 1, 0], [0, 0, np.nan]])
    y_score = np.array([[0.9, 0.2, 0.3], [0.8, 0.6, 0.1], [0.7, 0.4, 0.2], [0.1, 0.3, 0.8]])
    table = per_class_table(y_true, y_score, ["owl", "wren", "frog"])
    assert list(table.columns) == [
        "class", "n_positive", "n_negative", "ap", "roc_auc", "lwlrap", "precision", "recall", "f1",
    ]  # fmt: skip
    assert table["class"].tolist() == ["owl", "wren", "frog"]
    assert table["n_positive"].tolist() == [2, 2, 0]
    assert table["n_negative"].tolist() == [2, 2, 3]
    owl = table.iloc[0]
    # owl positives at 0.9 and 0.7, negatives at 0.8 and 0.1: AP (1 + 2/3) / 2, AUC 3 of 4 pairs ordered
    assert owl["ap"] == pytest.approx(5 / 6)
    assert owl["roc_auc"] == pytest.approx(3 / 4)
    # predicted rows 0, 1, 2 (>= 0.5): TP 2, FP 1, FN 0
    assert (owl["precision"], owl["recall"], owl["f1"]) == pytest.approx((2 / 3, 1.0, 4 / 5))
    frog = table.iloc[2]
    assert math.isnan(frog["ap"]) and math.isnan(frog["roc_auc"]) and math.isnan(frog["lwlrap"])
    assert math.isnan(frog["precision"]) and math.isnan(frog["recall"])
    precision, _ = lwlrap_per_class(y_true, y_score)
    np.testing.assert_allclose(table["lwlrap"].to_numpy(), precision)
    with pytest.raises(ValueError, match="class_names has 2 names but the scores have 3 classes"):
        per_class_table(y_true, y_score, ["owl", "wren"])


def test_evaluate_multi_label_keys_values_and_json() -> None:
    y_true, y_score = random_labels(8, nan_share=0.05)
    result = evaluate(y_true, y_score, [f"c{k}" for k in range(7)])
    assert set(result) == {
        "lwlrap", "lrap", "map_macro", "map_micro", "cmap", "roc_auc_macro", "f1_macro", "f1_micro",
        "n_samples", "n_classes", "n_classes_scored",
    }  # fmt: skip
    assert result["lwlrap"] == pytest.approx(lwlrap(y_true, y_score))
    assert result["lrap"] == pytest.approx(lrap(y_true, y_score))
    assert result["map_micro"] == pytest.approx(average_precision(y_true, y_score, average="micro"))
    assert result["roc_auc_macro"] == pytest.approx(roc_auc(y_true, y_score))
    assert result["f1_micro"] == pytest.approx(f1_at_threshold(y_true, y_score, average="micro"))
    assert (result["n_samples"], result["n_classes"], result["n_classes_scored"]) == (60, 7, 7)
    assert all(type(v) in (float, int) for v in result.values())
    assert json.loads(json.dumps(result)) == result


def test_evaluate_single_label_detection_and_nan_as_none() -> None:
    y_true = np.array([[1, 0, 0], [0, 1, 0], [0, 1, 0], [1, 0, 0]])
    y_score = np.array([[2.0, 1.0, 0.0], [0.5, 1.5, 0.2], [3.0, 0.2, 0.1], [1.0, 0.0, 2.0]])
    result = evaluate(y_true, y_score, top_k=(1, 2))
    assert result["accuracy"] == pytest.approx(2 / 4)
    assert result["top_k_accuracy@1"] == pytest.approx(2 / 4)
    assert result["top_k_accuracy@2"] == pytest.approx(4 / 4)
    assert result["n_classes_scored"] == 2  # class 2 never occurs
    assert result["roc_auc_macro"] == pytest.approx(roc_auc(y_true, y_score))
    json.dumps(result, allow_nan=False)

    forced_off = evaluate(y_true, y_score, single_label=False)
    assert "accuracy" not in forced_off and "top_k_accuracy@1" not in forced_off

    multi = np.array([[0, 1, 1], [0, 1, 0]])  # row 0: argmax of the truth is class 1, scored second
    assert "accuracy" not in evaluate(multi, y_score[:2])
    assert evaluate(multi, y_score[:2], single_label=True)["accuracy"] == pytest.approx(1 / 2)

    no_negatives = evaluate(np.ones((2, 2)), np.array([[0.1, 0.2], [0.3, 0.4]]))
    assert no_negatives["roc_auc_macro"] is None
    assert json.loads(json.dumps(no_negatives, allow_nan=False))["roc_auc_macro"] is None


@pytest.mark.parametrize(
    ("y_true", "y_score", "message"),
    [
        (np.zeros(4), np.zeros(4), r"y_true must be 2-D \(n_samples, n_classes\); got shape \(4,\)"),
        (np.zeros((4, 3)), np.zeros((4, 2)), r"same shape; got \(4, 3\) and \(4, 2\)"),
        (np.zeros((0, 3)), np.zeros((0, 3)), "at least one sample"),
        (np.array([[0, 1], [2, 0]]), np.zeros((2, 2)), "row 1, column 0 holds 2.0"),
        (np.zeros((2, 2)), np.array([[0, 1], [0, np.nan]]), "y_score holds NaN at row 1, column 1"),
    ],
)
def test_bad_inputs_raise_clear_errors(y_true: np.ndarray, y_score: np.ndarray, message: str) -> None:
    for metric in (lwlrap, lrap, average_precision, roc_auc, accuracy, f1_at_threshold, evaluate):
        with pytest.raises(ValueError, match=message):
            metric(y_true, y_score)


def test_unknown_average_raises() -> None:
    y_true, y_score = random_labels(0)
    with pytest.raises(ValueError, match="average must be one of"):
        average_precision(y_true, y_score, average="weighted")
    with pytest.raises(ValueError, match="average must be one of"):
        roc_auc(y_true, y_score, average="samples")


def test_inputs_may_be_lists_and_dataframes() -> None:
    y_true = pd.DataFrame({"a": [1, 0], "b": [0, 1]})
    assert lwlrap(y_true, [[0.9, 0.1], [0.2, 0.8]]) == 1.0
