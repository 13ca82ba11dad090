import numpy as np
import pytest

from wildtag.inference.aggregate import create_aggregator
from wildtag.inference.plan import window_spans, window_start_samples, window_starts
from wildtag.registry import UnknownNameError


@pytest.mark.parametrize(
    ("duration", "window", "hop", "expected"),
    [
        (12.0, 5.0, 2.5, [0.0, 2.5, 5.0, 7.0]),  # the last window is aligned to the end: [7, 12)
        (5.0, 5.0, 2.5, [0.0]),  # one window fits exactly: no mostly padded [2.5, 7.5)
        (10.0, 5.0, 5.0, [0.0, 5.0]),  # exact fit: no extra window
        (11.0, 5.0, 5.0, [0.0, 5.0, 6.0]),  # a 1-s tail: one more window ending at 11
        (3.0, 5.0, 1.0, [0.0]),  # shorter than a window: one padded window
        (5.0000000001, 5.0, 5.0, [0.0]),  # float noise does not add a window
        (7.4999999999, 5.0, 2.5, [0.0, 2.5]),
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
        if duration > window:  # no window runs past the end; shorter recordings are one padded window
            assert spans[-1, 1] <= duration + 1e-9
        else:
            assert len(spans) == 1
        assert np.all(np.diff(spans[:, 0]) > 0)
        assert np.all(np.diff(spans[:, 0]) <= hop + 1e-9)  # no gap between windows


def test_sample_plan_matches_the_plan_in_seconds():
    rng = np.random.default_rng(1)
    for _ in range(200):
        sr = int(rng.choice([8000, 16000, 22050]))
        n, window_n = int(rng.integers(1, 20 * sr)), int(rng.integers(sr // 4, 5 * sr))
        hop_n = int(rng.integers(sr // 8, window_n + 1))
        starts = window_start_samples(n, window_n, hop_n)
        np.testing.assert_allclose(starts / sr, window_starts(n / sr, window_n / sr, hop_n / sr), atol=1e-6)


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
