"""Hard clipping at random percentiles: an overloaded recorder."""

from __future__ import annotations

import numpy as np
from audiomentations import ClippingDistortion as _ClippingDistortion

from wildtag.augment.base import Params, check_range
from wildtag.augment.waveform._audiomentations import apply_with_parameters
from wildtag.augment.waveform.base import WAVEFORM_AUGMENTS, WaveformAugment


@WAVEFORM_AUGMENTS.register("clipping_distortion")
class ClippingDistortion(WaveformAugment):
    """Clip a whole percentage ``q`` of the samples, ``q`` drawn from ``[min, max]_percentile_threshold``.

    Half of ``q`` is clipped at each end: with ``q = 20`` the samples below the 10th percentile are set
    to it, and those above the 90th to that. The peak therefore drops; nothing is rescaled.

    >>> ClippingDistortion(max_percentile_threshold=10, p=0.25)(x, 32000, rng)
    """

    def __init__(self, min_percentile_threshold: int = 0, max_percentile_threshold: int = 40, p: float = 0.5):
        super().__init__(p)
        names = ("min_percentile_threshold", "max_percentile_threshold")
        values = (min_percentile_threshold, max_percentile_threshold)
        check_range(names[0], values[0], names[1], values[1], 0, 100)
        for name, value in zip(names, values, strict=True):
            if value != int(value):
                raise ValueError(f"{name} must be a whole number of percent, got {value!r}")
        self.min_percentile_threshold = int(min_percentile_threshold)
        self.max_percentile_threshold = int(max_percentile_threshold)

    def randomize_parameters(self, samples: np.ndarray, sample_rate: int, rng: np.random.Generator) -> Params:
        low, high = self.min_percentile_threshold, self.max_percentile_threshold
        return {"percentile_threshold": int(rng.integers(low, high, endpoint=True))}

    def apply(self, samples: np.ndarray, sample_rate: int, params: Params) -> np.ndarray:
        return apply_with_parameters(_ClippingDistortion(p=1.0), samples, sample_rate, **params)
