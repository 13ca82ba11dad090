"""Tanh soft clipping ("overdrive"): adds harmonics and changes the timbre at the same loudness."""

from __future__ import annotations

import numpy as np
from audiomentations import TanhDistortion as _TanhDistortion

from wildtag.augment.base import Params, check_range
from wildtag.augment.waveform._audiomentations import apply_with_parameters
from wildtag.augment.waveform.base import WAVEFORM_AUGMENTS, WaveformAugment


@WAVEFORM_AUGMENTS.register("tanh_distortion")
class TanhDistortion(WaveformAugment):
    """Overdrive by ``tanh(gain * x)``, rescaled to the input RMS; the amount is drawn uniformly.

    The amount ``d`` in [0, 1] sets the pre-gain so that the ``100 - 99 d`` percentile of ``|x|`` maps
    to 0.5: larger ``d`` squashes more of the signal.

    >>> TanhDistortion(min_distortion=0.1, max_distortion=0.5, p=0.25)(x, 32000, rng)
    """

    def __init__(self, min_distortion: float = 0.01, max_distortion: float = 0.7, p: float = 0.5):
        super().__init__(p)
        check_range("min_distortion", min_distortion, "max_distortion", max_distortion, 0.0, 1.0)
        self.min_distortion = min_distortion
        self.max_distortion = max_distortion

    def randomize_parameters(self, samples: np.ndarray, sample_rate: int, rng: np.random.Generator) -> Params:
        return {"distortion_amount": float(rng.uniform(self.min_distortion, self.max_distortion))}

    def apply(self, samples: np.ndarray, sample_rate: int, params: Params) -> np.ndarray:
        return apply_with_parameters(_TanhDistortion(p=1.0), samples, sample_rate, **params)
