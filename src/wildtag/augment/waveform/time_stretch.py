"""Time stretch keeping the pitch (audiomentations / Signalsmith Stretch), back to the input length."""

from __future__ import annotations

import numpy as np
from audiomentations import TimeStretch as _TimeStretch

from wildtag.augment.base import Params, check_range
from wildtag.augment.waveform._audiomentations import apply_with_parameters
from wildtag.augment.waveform.base import WAVEFORM_AUGMENTS, WaveformAugment, fit_length


@WAVEFORM_AUGMENTS.register("time_stretch")
class TimeStretch(WaveformAugment):
    """Play faster (``rate > 1``) or slower (``rate < 1``) at the same pitch, ``rate`` drawn uniformly.

    The stretched signal is cropped at the end, or padded with zeros at the end, to the input length:

        rate 2:  |aaaabbbb| -> |ab......|        rate 0.5:  |aabb| -> |aaaa|  (bb cropped)

    >>> TimeStretch(min_rate=0.9, max_rate=1.1, p=0.25)(x, 32000, rng)
    """

    def __init__(self, min_rate: float = 0.8, max_rate: float = 1.25, p: float = 0.5):
        super().__init__(p)
        check_range("min_rate", min_rate, "max_rate", max_rate, 0.1, 10.0)
        self.min_rate = min_rate
        self.max_rate = max_rate

    def randomize_parameters(self, samples: np.ndarray, sample_rate: int, rng: np.random.Generator) -> Params:
        return {"rate": float(rng.uniform(self.min_rate, self.max_rate))}

    def apply(self, samples: np.ndarray, sample_rate: int, params: Params) -> np.ndarray:
        stretch = _TimeStretch(p=1.0, leave_length_unchanged=True)
        return fit_length(apply_with_parameters(stretch, samples, sample_rate, **params), len(samples))
