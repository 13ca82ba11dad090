"""Log-mel frontend: the STFT power projected onto a Slaney mel filter bank (librosa's, the reference).

>>> frontend = LogMelFrontend(32000, n_mels=64, f_min=50.0, f_max=14000.0)
>>> frontend(torch.zeros(2, 32000)).shape
torch.Size([2, 1, 64, 101])
"""

from __future__ import annotations

import inspect

import librosa
import torch
from torch import Tensor

from wildtag.features.base import FRONTENDS, Frontend
from wildtag.features.settings import SpectrogramSettings, flat_signature

N_MELS = inspect.Parameter("n_mels", inspect.Parameter.POSITIONAL_OR_KEYWORD, default=128, annotation=int)


@FRONTENDS.register("logmel")
class LogMelFrontend(Frontend):
    """Mel spectrogram: ``|STFT|**power`` times ``librosa.filters.mel(htk=False, norm="slaney")``.

    ``freq_hz`` holds the centre frequency of each of the ``n_mels`` bands. The other settings are a
    :class:`~wildtag.features.settings.SpectrogramSettings` and/or its fields as keywords (defaults:
    :attr:`DEFAULTS`, power from 50 Hz).
    """

    DEFAULTS = SpectrogramSettings()
    __signature__ = flat_signature(DEFAULTS, N_MELS)

    def __init__(
        self, sample_rate: int, settings: SpectrogramSettings | None = None, n_mels: int = 128, **changes: object
    ):
        if not n_mels > 0:
            raise ValueError(f"n_mels must be > 0, got {n_mels!r}")
        settings = (settings or self.DEFAULTS).replace(**changes)
        f_min, f_max = settings.band(sample_rate)
        filters = librosa.filters.mel(
            sr=sample_rate, n_fft=settings.n_fft, n_mels=n_mels, fmin=f_min, fmax=f_max, htk=False, norm="slaney"
        )
        centres_hz = librosa.mel_frequencies(n_mels=n_mels + 2, fmin=f_min, fmax=f_max, htk=False)[1:-1]
        super().__init__(sample_rate, settings, freq_hz=torch.as_tensor(centres_hz, dtype=torch.float32))
        self.n_mels, self.f_min, self.f_max = int(n_mels), f_min, f_max
        self.register_buffer("mel_filters", torch.as_tensor(filters, dtype=torch.float32), persistent=False)

    def project(self, spec: Tensor) -> Tensor:
        return torch.matmul(self.mel_filters.float(), spec)
