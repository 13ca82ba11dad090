"""Synthetic room reverb: convolution with an exponentially decaying noise impulse response."""

from __future__ import annotations

import math

import numpy as np
from scipy.signal import fftconvolve

from wildtag.augment.base import Params, check_range
from wildtag.augment.waveform.base import WAVEFORM_AUGMENTS, WaveformAugment

_LN_1000 = math.log(1000.0)  # a 60 dB drop in amplitude
_EARLY_DELAY_S = (0.002, 0.05)


def decaying_noise_ir(
    rt60_s: float, sample_rate: int, rng: np.random.Generator, early_reflections: bool = True
) -> np.ndarray:
    """A float32 impulse response of ``ceil(rt60_s * sample_rate)`` samples and unit energy.

    Gaussian noise under an envelope falling 60 dB over ``rt60_s`` (the late, diffuse reverb), plus,
    with ``early_reflections``, 3-7 sparse taps 2-50 ms in, 3-8 times the tail's level there (the first
    wall and ground bounces). It holds no direct path: the dry signal supplies it.
    """
    n = max(1, math.ceil(rt60_s * sample_rate))
    envelope = np.exp(-_LN_1000 / rt60_s * (np.arange(n) / sample_rate))
    ir = rng.standard_normal(n) * envelope
    if early_reflections:
        count = int(rng.integers(3, 8))
        delays = (rng.uniform(*_EARLY_DELAY_S, size=count) * sample_rate).astype(np.int64)
        delays = np.minimum(delays, n - 1)
        gains = rng.uniform(3.0, 8.0, size=count) * rng.choice([-1.0, 1.0], size=count)
        np.add.at(ir, delays, gains * envelope[delays])
    ir /= np.sqrt(np.sum(np.square(ir)))
    return ir.astype(np.float32)


def _rms(x: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.square(x, dtype=np.float64))))


@WAVEFORM_AUGMENTS.register("reverb")
class Reverb(WaveformAugment):
    """Mix in a reverberant copy: ``(1 - wet) * x + wet * (x * ir)``, rescaled to the RMS of ``x``.

    The reverberation time ``rt60_s`` (time for a 60 dB decay) and ``wet`` are drawn uniformly from
    their ranges, the impulse response from :func:`decaying_noise_ir`. The tail past the window's end is
    dropped, so the length is kept.

    >>> Reverb(min_rt60_s=0.3, max_rt60_s=0.8, p=0.25)(x, 32000, rng)
    """

    def __init__(
        self,
        min_rt60_s: float = 0.2,
        max_rt60_s: float = 1.2,
        min_wet: float = 0.1,
        max_wet: float = 0.5,
        early_reflections: bool = True,
        p: float = 0.5,
    ):
        super().__init__(p)
        check_range("min_rt60_s", min_rt60_s, "max_rt60_s", max_rt60_s, 0.01, 10.0)
        check_range("min_wet", min_wet, "max_wet", max_wet, 0.0, 1.0)
        if not isinstance(early_reflections, bool):
            raise ValueError(f"early_reflections must be True or False, got {early_reflections!r}")
        self.min_rt60_s = min_rt60_s
        self.max_rt60_s = max_rt60_s
        self.min_wet = min_wet
        self.max_wet = max_wet
        self.early_reflections = early_reflections

    def randomize_parameters(self, samples: np.ndarray, sample_rate: int, rng: np.random.Generator) -> Params:
        """``rt60_s``, ``wet`` and the impulse response ``ir`` drawn with that ``rt60_s``."""
        rt60_s = float(rng.uniform(self.min_rt60_s, self.max_rt60_s))
        wet = float(rng.uniform(self.min_wet, self.max_wet))
        return {"rt60_s": rt60_s, "wet": wet, "ir": decaying_noise_ir(rt60_s, sample_rate, rng, self.early_reflections)}

    def apply(self, samples: np.ndarray, sample_rate: int, params: Params) -> np.ndarray:
        wet = params["wet"]
        dry_rms = _rms(samples)
        if dry_rms == 0.0:
            return samples
        reverberant = fftconvolve(samples, params["ir"])[: len(samples)]
        reverberant *= dry_rms / max(_rms(reverberant), 1e-12)
        mixed = (1.0 - wet) * samples + wet * reverberant
        return mixed * (dry_rms / max(_rms(mixed), 1e-12))
