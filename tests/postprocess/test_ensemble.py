import numpy as np
import pandas as pd
import pytest

from wildtag.config import ConfigError
from wildtag.labels import LabelError
from wildtag.metrics import lwlrap
from wildtag.postprocess.ensemble import combine, combine_arrays, fit_weights


def test_rank_average_equals_hand_computation():
    a = pd.DataFrame({"recording": ["x", "y", "z"], "c": [0.1, 0.9, 0.5]})
    b = pd.DataFrame({"recording": ["z", "x", "y"], "c": [10.0, 30.0, 20.0]})  # other order, other scale
    out = combine([a, b], ["recording"], ["c"], method="rank")
    # ranks in a: x=1, y=3, z=2; in b: x=3, y=2, z=1; divided by 3 and averaged
    expected = {"x": (1 / 3 + 3 / 3) / 2, "y": (3 / 3 + 2 / 3) / 2, "z": (2 / 3 + 1 / 3) / 2}
    assert dict(zip(out["recording"], out["c"], strict=True)) == pytest.approx(expected)


def test_missing_rows_are_an_error():
    a = pd.DataFrame({"recording": ["x", "y"], "c": [0.1, 0.9]})
    b = pd.DataFrame({"recording": ["x"], "c": [0.2]})
    with pytest.raises(LabelError, match="p2.csv: lacks 1 row"):
        combine([a, b], ["recording"], ["c"], names=["p1.csv", "p2.csv"])
    with pytest.raises(ConfigError, match="2 weights"):
        combine([a, a], ["recording"], ["c"], method="weighted", weights=[1.0])


def test_fitted_weights_beat_the_mean():
    rng = np.random.default_rng(1)
    y = (rng.random((200, 3)) < 0.3).astype(float)
    good = y + rng.normal(0, 0.3, y.shape)
    noise = rng.normal(0, 3.0, y.shape)  # a loud useless model spoils the plain mean
    stack = np.stack([good, noise])
    mean_score = lwlrap(y, combine_arrays(stack, "mean"))
    weights, fitted = fit_weights(stack, y, lwlrap, n_samples=50, n_refine=20)
    assert fitted > mean_score + 0.05
    assert weights[0] > weights[1]
    assert weights.sum() == pytest.approx(1.0)


def test_weighted_rank_average_equals_hand_computation():
    a = np.array([[0.9], [0.1], [0.5], [0.3]])
    b = np.array([[0.2], [0.8], [0.4], [0.6]])
    ranks_a, ranks_b = np.array([[4], [1], [3], [2]]) / 4, np.array([[1], [4], [2], [3]]) / 4
    out = combine_arrays(np.stack([a, b]), "rank", weights=[0.97, 0.03])
    np.testing.assert_allclose(out, 0.97 * ranks_a + 0.03 * ranks_b)
