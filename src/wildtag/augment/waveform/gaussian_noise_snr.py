"""White Gaussian noise at a random signal-to-noise ratio in dB."""

from __future__ import annotations

import numpy as np

from wildtag.augment.base import Params, check_range
from wildtag.augment.waveform.base import WAVEFORM_AUGMENTS, WaveformAugment


@WAVEFORM_AUGMENTS.register("gaussian_noise_snr")
class GaussianNoiseSNR(WaveformAugment):
    """Add white noise whose RMS is the signal's RMS lowered by ``snr`` dB, ``snr`` drawn uniformly.

    Own code rather than audiomentations' ``AddGaussianSNR``, which draws the noise from the global
    ``np.random``. A silent input gets no noise (its SNR is undefined).

    >>> GaussianNoiseSNR(min_snr_db=20, max_snr_db=20, p=1.0)(x, 16000, rng)  # noise 20 dB below x
    """

    def __init__(self, min_snr_db: float = 5.0, max_snr_db: float = 40.0, p: float = 0.5):
        super().__init__(p)
        check_range("min_snr_db", min_snr_db, "max_snr_db", max_snr_db, -60.0, 120.0)
        self.min_snr_db = min_snr_db
        self.max_snr_db = max_snr_db

    def randomize_parameters(self, samples: np.ndarray, sample_rate: int, rng: np.random.Generator) -> Params:
        """``snr_db`` and ``unit_noise`` (standard normal, one value per sample)."""
        snr_db = float(rng.uniform(self.min_snr_db, self.max_snr_db))
        return {"snr_db": snr_db, "unit_noise": rng.standard_normal(len(samples), dtype=np.float32)}

    def apply(self, samples: np.ndarray, sample_rate: int, params: Params) -> np.ndarray:
        signal_rms = float(np.sqrt(np.mean(np.square(samples, dtype=np.float64))))
        noise_rms = signal_rms / 10.0 ** (params["snr_db"] / 20.0)
        return samples + params["unit_noise"] * np.float32(noise_rms)
