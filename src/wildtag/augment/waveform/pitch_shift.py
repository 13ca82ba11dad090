"""Pitch shift in semitones, keeping the duration (audiomentations / Signalsmith Stretch)."""

from __future__ import annotations

import numpy as np
from audiomentations import PitchShift as _PitchShift

from wildtag.augment.base import Params, check_range
from wildtag.augment.waveform._audiomentations import apply_with_parameters
from wildtag.augment.waveform.base import WAVEFORM_AUGMENTS, WaveformAugment, fit_length


@WAVEFORM_AUGMENTS.register("pitch_shift")
class PitchShift(WaveformAugment):
    """Shift the pitch by a number of semitones drawn uniformly from ``[min_semitones, max_semitones]``.

    +12 semitones doubles every frequency; the length is unchanged. Beware of frequency-bound classes:
    a shifted call may look like another species.

    >>> PitchShift(min_semitones=-2, max_semitones=2, p=0.25)(x, 32000, rng)
    """

    def __init__(self, min_semitones: float = -4.0, max_semitones: float = 4.0, p: float = 0.5):
        super().__init__(p)
        check_range("min_semitones", min_semitones, "max_semitones", max_semitones, -24.0, 24.0)
        self.min_semitones = min_semitones
        self.max_semitones = max_semitones

    def randomize_parameters(self, samples: np.ndarray, sample_rate: int, rng: np.random.Generator) -> Params:
        return {"num_semitones": float(rng.uniform(self.min_semitones, self.max_semitones))}

    def apply(self, samples: np.ndarray, sample_rate: int, params: Params) -> np.ndarray:
        shifted = apply_with_parameters(_PitchShift(p=1.0), samples, sample_rate, **params)
        return fit_length(shifted, len(samples))
