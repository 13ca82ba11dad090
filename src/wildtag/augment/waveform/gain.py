"""Random gain in dB: the same call at another distance or recorder sensitivity."""

from __future__ import annotations

import numpy as np
from audiomentations import Gain as _Gain

from wildtag.augment.base import Params, check_range
from wildtag.augment.waveform._audiomentations import apply_with_parameters
from wildtag.augment.waveform.base import WAVEFORM_AUGMENTS, WaveformAugment


@WAVEFORM_AUGMENTS.register("gain")
class Gain(WaveformAugment):
    """Multiply by ``10 ** (g / 20)`` with ``g`` drawn uniformly from ``[min_gain_db, max_gain_db]``.

    The output may leave [-1, 1]; nothing downstream assumes it does not.

    >>> Gain(min_gain_db=6, max_gain_db=6, p=1.0)(x, 16000, rng)  # about 2 * x
    """

    def __init__(self, min_gain_db: float = -12.0, max_gain_db: float = 12.0, p: float = 0.5):
        super().__init__(p)
        check_range("min_gain_db", min_gain_db, "max_gain_db", max_gain_db, -120.0, 120.0)
        self.min_gain_db = min_gain_db
        self.max_gain_db = max_gain_db

    def randomize_parameters(self, samples: np.ndarray, sample_rate: int, rng: np.random.Generator) -> Params:
        return {"gain_db": float(rng.uniform(self.min_gain_db, self.max_gain_db))}

    def apply(self, samples: np.ndarray, sample_rate: int, params: Params) -> np.ndarray:
        ratio = float(10.0 ** (params["gain_db"] / 20.0))
        return apply_with_parameters(_Gain(p=1.0), samples, sample_rate, amplitude_ratio=ratio)
