"""Multi-channel frontend: a linear-frequency STFT channel and a log-mel channel from one STFT.

    wave --STFT--> |X|**power --+-- StftFrontend steps (band, scale, normalise) --resize F--> channel 0
                                +-- LogMelFrontend steps (mel, scale, normalise) ----------> channel 1
                                                            [+ frequency coordinate channel 2]

Channel 0 is exactly what :class:`~wildtag.features.stft.StftFrontend` gives with the same settings,
linearly interpolated along frequency to ``n_mels`` rows; channel 1 is exactly
:class:`~wildtag.features.mel.LogMelFrontend`'s output. The two views are not aligned in frequency:
channel 0's rows are evenly spaced in Hz (``stft_freq_hz``), channel 1's are mel band centres
(``freq_hz``, which a box crop uses).

    >>> frontend = StftMelFrontend(32000, n_fft=1024, hop_length=320, n_mels=64)
    >>> frontend(torch.zeros(2, 32000)).shape
    torch.Size([2, 2, 64, 101])
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from wildtag.features.base import FRONTENDS, Frontend
from wildtag.features.mel import N_MELS, LogMelFrontend
from wildtag.features.settings import SpectrogramSettings, flat_signature
from wildtag.features.stft import StftFrontend


@FRONTENDS.register("stft_mel")
class StftMelFrontend(Frontend):
    """Two channels, linear STFT and log-mel, computed from one STFT (see the module docstring).

    Settings are those of :class:`~wildtag.features.mel.LogMelFrontend` and apply to both channels:
    the STFT channel keeps the bins within ``[f_min, f_max]`` Hz. ``out_channels`` is 2, or 3 with
    ``freq_coord``. With ``normalize="batchnorm"`` each channel has its own per-bin BatchNorm.
    """

    DEFAULTS = LogMelFrontend.DEFAULTS
    __signature__ = flat_signature(DEFAULTS, N_MELS)

    def __init__(
        self, sample_rate: int, settings: SpectrogramSettings | None = None, n_mels: int = 128, **changes: object
    ):
        settings = (settings or self.DEFAULTS).replace(**changes)
        channel = settings.replace(freq_coord=False)
        stft = StftFrontend(sample_rate, channel)  # first: its band check is the more telling error
        mel = LogMelFrontend(sample_rate, channel, n_mels=n_mels)
        # The two channel frontends normalise, each with its own BatchNorm if any.
        super().__init__(sample_rate, settings.replace(normalize="none"), freq_hz=mel.freq_hz)
        self.settings, self.normalize = settings, settings.normalize
        self.mel, self.stft = mel, stft
        self.n_mels, self.f_min, self.f_max = mel.n_mels, mel.f_min, mel.f_max
        self.out_channels = 3 if settings.freq_coord else 2
        stft_freq_hz = torch.linspace(
            float(stft.freq_hz[0]), float(stft.freq_hz[-1]), self.n_bins, dtype=torch.float32
        )
        self.register_buffer("stft_freq_hz", stft_freq_hz, persistent=False)

    def forward(self, wave: Tensor) -> Tensor:
        """Images ``(B, 2 or 3, n_mels, T)`` float32 of waveforms ``(B, N)`` (or ``(B, 1, N)``)."""
        wave = self._check_wave(wave)
        with torch.autocast(device_type=wave.device.type, enabled=False):
            power = self.mel._stft_power(wave.float())  # the one STFT; both channels share its settings
            mel = self.mel._normalize(self.mel._scale(self.mel.project(power)).unsqueeze(1))
            linear = self.stft._normalize(self.stft._scale(self.stft.project(power)).unsqueeze(1))
            # Resize along frequency only: (B, 1, F_stft, T) -> (B, T, F_stft) -> (B, T, n_mels).
            linear = F.interpolate(
                linear[:, 0].transpose(1, 2), size=self.n_bins, mode="linear", align_corners=True
            )
            channels = [linear.transpose(1, 2).unsqueeze(1), mel]
            if self.freq_coord:
                channels.append(self._freq_coord(mel))
        return torch.cat(channels, dim=1)
