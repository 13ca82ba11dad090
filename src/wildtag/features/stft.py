"""Linear-frequency STFT frontend: magnitude (or power) per FFT bin within a frequency band.

    >>> frontend = StftFrontend(48000, n_fft=1024, hop_length=480, f_min=1000.0, f_max=12000.0)
    >>> frontend.n_bins, frontend(torch.zeros(1, 48000)).shape
    (235, torch.Size([1, 1, 235, 101]))

Linear bins rather than mel: many animals do not hear on a human pitch scale (the RFCx 2021 winners).
"""

from __future__ import annotations

import torch
from torch import Tensor

from wildtag.features.base import FRONTENDS, Frontend
from wildtag.features.settings import SpectrogramSettings, flat_signature


@FRONTENDS.register("stft")
class StftFrontend(Frontend):
    """``|STFT|**power`` (centred, Hann window, reflect padding), keeping the bins in ``[f_min, f_max]`` Hz.

    Takes a :class:`~wildtag.features.settings.SpectrogramSettings` and/or its fields as keywords
    (defaults: :attr:`DEFAULTS`, magnitude from 0 Hz).
    """

    DEFAULTS = SpectrogramSettings(f_min=0.0, power=1.0)
    __signature__ = flat_signature(DEFAULTS)

    def __init__(self, sample_rate: int, settings: SpectrogramSettings | None = None, **changes: object):
        settings = (settings or self.DEFAULTS).replace(**changes)
        f_min, f_max = settings.band(sample_rate)
        n_fft = settings.n_fft
        all_hz = torch.arange(n_fft // 2 + 1, dtype=torch.float64) * sample_rate / n_fft
        keep = torch.nonzero((all_hz >= f_min) & (all_hz <= f_max)).flatten()
        if len(keep) == 0:
            raise ValueError(
                f"no STFT bin lies within [{f_min}, {f_max}] Hz (bin spacing {sample_rate / n_fft:.1f} Hz); "
                "widen the band or raise n_fft"
            )
        super().__init__(sample_rate, settings, freq_hz=all_hz[keep])
        self.f_min, self.f_max = f_min, f_max
        self.first_bin = int(keep[0])
        self.last_bin = int(keep[-1])

    def project(self, spec: Tensor) -> Tensor:
        return spec[:, self.first_bin : self.last_bin + 1]
