"""Spectrogram augmentations: batched torch transforms of ``(B, C, F, T)`` images on the model's device.

Registered names: ``time_stripes``, ``freq_stripes`` (SpecAugment masks), ``power`` (random contrast),
``time_jitter`` (roll along time), ``white_noise_db`` (Gaussian noise in the spectrogram's units).
See :mod:`.base` for the shared contract (``p`` per example, ``channels``, ``generator``, eval identity).

    >>> augment = create_spec_augment("freq_stripes", max_width_bins=4, channels=[0])
    >>> pipeline = SpecAugmentPipeline.from_specs([{"name": "power"}, {"name": "time_jitter"}])
"""

from .base import SPEC_AUGMENTS, SpecAugment, create_spec_augment, list_spec_augments
from .pipeline import SpecAugmentPipeline
from .power import PowerContrast
from .stripes import FreqStripes, TimeStripes
from .time_jitter import TimeJitter
from .white_noise import WhiteNoiseDb

__all__ = [
    "SPEC_AUGMENTS",
    "FreqStripes",
    "PowerContrast",
    "SpecAugment",
    "SpecAugmentPipeline",
    "TimeJitter",
    "TimeStripes",
    "WhiteNoiseDb",
    "create_spec_augment",
    "list_spec_augments",
]
