"""Circular (or zero-filled) time shift by a random fraction of the window."""

from __future__ import annotations

import numpy as np
from audiomentations import Shift as _Shift

from wildtag.augment.base import Params, check_number
from wildtag.augment.waveform._audiomentations import apply_with_parameters
from wildtag.augment.waveform.base import WAVEFORM_AUGMENTS, WaveformAugment

_MIN_FADE_S = 0.00025  # audiomentations' smallest fade


@WAVEFORM_AUGMENTS.register("time_shift")
class TimeShift(WaveformAugment):
    """Shift by ``f * len(x)`` samples, ``f`` drawn uniformly in ``+-max_shift_fraction``.

    With ``rollover`` the samples pushed past one end come back at the other (``np.roll``); without it
    the gap is zeros. ``fade_duration_s`` fades in/out at the seam so it does not click (0: no fade).
    Beware: a shift can cut a short call in two or, without rollover, push it out of the window.

        shift +1/4, rollover:  |abcd| -> |dabc|        no rollover:  |abcd| -> |.abc|

    >>> TimeShift(max_shift_fraction=0.1, p=0.5)(x, 32000, rng)
    """

    def __init__(
        self,
        max_shift_fraction: float = 0.5,
        rollover: bool = True,
        fade_duration_s: float = 0.005,
        p: float = 0.5,
    ):
        super().__init__(p)
        check_number("max_shift_fraction", max_shift_fraction, 0.0, 1.0)
        if not isinstance(rollover, bool):
            raise ValueError(f"rollover must be True or False, got {rollover!r}")
        check_number("fade_duration_s", fade_duration_s, 0.0, 1.0)
        if 0.0 < fade_duration_s < _MIN_FADE_S:
            raise ValueError(
                f"fade_duration_s must be 0 (no fade) or >= {_MIN_FADE_S}, got {fade_duration_s!r}"
            )
        self.max_shift_fraction = max_shift_fraction
        self.rollover = rollover
        self.fade_duration_s = fade_duration_s

    def randomize_parameters(self, samples: np.ndarray, sample_rate: int, rng: np.random.Generator) -> Params:
        """``shift_amount``: the shift as a fraction of the length, positive to the right."""
        return {"shift_amount": float(rng.uniform(-self.max_shift_fraction, self.max_shift_fraction))}

    def apply(self, samples: np.ndarray, sample_rate: int, params: Params) -> np.ndarray:
        shift = _Shift(
            min_shift=-1.0,
            max_shift=1.0,
            shift_unit="fraction",
            rollover=self.rollover,
            fade_duration=self.fade_duration_s,
            p=1.0,
        )
        return apply_with_parameters(shift, samples, sample_rate, **params)
