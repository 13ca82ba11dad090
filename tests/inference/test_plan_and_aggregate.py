import numpy as np
import pytest

from wildtag.inference.aggregate import create_aggregator
from wildtag.inference.plan import window_spans, window_starts
from wildtag.registry import UnknownNameError


@pytest.mark.parametrize(
    ("duration", "window", "hop", "expected"),
    [
        (12.0, 5.0, 2.5, [0.0, 2.5, 5.0, 7.5]),  # last window runs past the end, covering 10-12
        (10.0, 5.0, 5.0, [0.0, 5.0]),  # exact fit: no extra window
        (3.0, 5.0, 1.0, [0.0]),  # shorter than a window: one padded window
        (5.0000000001, 5.0, 5.0, [0.0]),  # float noise does not add a window
    ],
)
def test_window_starts(duration, window, hop, expected):
    np.testing.assert_allclose(window_starts(duration, window, hop), expected)


def test_windows_cover_the_whole_recording():
    rng = np.random.default_rng(0)
    for _ in range(200):
        duration, window = rng.uniform(0.1, 100), rng.uniform(0.5, 10)
        hop = rng.uniform(0.1, window)
        spans = window_spans(duration, window, hop)
        assert spans[0, 0] == 0 and spans[-1, 1] >= duration - 1e-9
        assert spans[-1, 0] < max(duration, 1e-9)
        assert np.all(np.diff(spans[:, 0]) > 0)


def test_bad_hop_raises():
    with pytest.raises(ValueError, match="positive"):
        window_starts(10, 5, 0)


def test_aggregators():
    scores = np.array([[0.1, 0.9], [0.5, 0.2], [0.3, 0.4], [0.7, 0.0]])
    np.testing.assert_allclose(create_aggregator("max")(scores), [0.7, 0.9])
    np.testing.assert_allclose(create_aggregator("mean")(scores), [0.4, 0.375])
    np.testing.assert_allclose(create_aggregator("topk_mean", k=2)(scores), [0.6, 0.65])
    np.testing.assert_allclose(create_aggregator("topk_mean", k=10)(scores), [0.4, 0.375])  # k > windows


def test_unknown_aggregator_suggests_a_name():
    with pytest.raises(UnknownNameError, match="topk_mean"):
        create_aggregator("topk_maen")
