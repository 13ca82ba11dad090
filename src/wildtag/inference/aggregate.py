"""Per-recording scores from window scores: max, mean, top-k mean. Registered by name."""

from __future__ import annotations

import numpy as np

from wildtag.registry import Registry

AGGREGATORS: Registry = Registry("aggregator")


@AGGREGATORS.register("max")
class MaxAggregator:
    """Highest window score per class: 'was it heard anywhere in the recording'."""

    def __call__(self, window_scores: np.ndarray) -> np.ndarray:
        return window_scores.max(axis=0)


@AGGREGATORS.register("mean")
class MeanAggregator:
    """Mean window score per class: how much of the recording it fills."""

    def __call__(self, window_scores: np.ndarray) -> np.ndarray:
        return window_scores.mean(axis=0)


@AGGREGATORS.register("topk_mean")
class TopKMeanAggregator:
    """Mean of the ``k`` highest window scores per class: robust to one spurious window."""

    def __init__(self, k: int = 3):
        if k < 1:
            raise ValueError(f"topk_mean needs k >= 1, got {k}")
        self.k = k

    def __call__(self, window_scores: np.ndarray) -> np.ndarray:
        k = min(self.k, window_scores.shape[0])
        top = np.partition(window_scores, window_scores.shape[0] - k, axis=0)[-k:]
        return top.mean(axis=0)


def create_aggregator(name: str, **kwargs) -> MaxAggregator | MeanAggregator | TopKMeanAggregator:
    """The aggregator registered as ``name`` (``max``, ``mean``, ``topk_mean``)."""
    return AGGREGATORS.create(name, **kwargs)
