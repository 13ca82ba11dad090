"""Run an audiomentations transform with parameters drawn by wildtag, never by its global ``random``."""

from __future__ import annotations

import numpy as np
from audiomentations.core.transforms_interface import BaseWaveformTransform


def apply_with_parameters(
    transform: BaseWaveformTransform, samples: np.ndarray, sample_rate: int, **parameters: object
) -> np.ndarray:
    """Apply ``transform`` with its random ``parameters`` fixed to the given values.

    audiomentations draws parameters from the global ``random`` module; here they come from the
    caller's generator and are frozen (its documented ``freeze_parameters`` mechanism), so the output
    depends on nothing else. ``transform`` should be a fresh instance: it is mutated.

    >>> apply_with_parameters(Gain(p=1.0), x, 16000, amplitude_ratio=2.0)  # == 2 * x
    """
    transform.parameters = {"should_apply": True, **parameters}
    transform.freeze_parameters()
    return transform(samples, sample_rate)
