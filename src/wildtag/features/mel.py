"""Log-mel frontend: the STFT power projected onto a Slaney mel filter bank (librosa's, the reference).

The filter bank is computed here with numpy, equal to ``librosa.filters.mel(htk=False, norm="slaney")``
(tested): importing ``librosa.filters`` imports ``scipy.signal`` and numba, seconds of start-up that
``predict`` need not pay.

>>> frontend = LogMelFrontend(32000, n_mels=64, f_min=50.0, f_max=14000.0)
>>> frontend(torch.zeros(2, 32000)).shape
torch.Size([2, 1, 64, 101])
"""

from __future__ import annotations

import inspect

import numpy as np
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
        filters = slaney_mel_filters(sample_rate, settings.n_fft, n_mels, f_min, f_max)
        centres_hz = mel_frequencies(n_mels + 2, f_min, f_max)[1:-1]
        super().__init__(sample_rate, settings, freq_hz=torch.as_tensor(centres_hz, dtype=torch.float32))
        self.n_mels, self.f_min, self.f_max = int(n_mels), f_min, f_max
        self.register_buffer("mel_filters", torch.as_tensor(filters, dtype=torch.float32), persistent=False)

    def project(self, spec: Tensor) -> Tensor:
        return torch.matmul(self.mel_filters.float(), spec)


_F_SP = 200.0 / 3  # Slaney's mel scale: linear below 1 kHz (3 mels per 200 Hz), logarithmic above
_MIN_LOG_HZ = 1000.0
_MIN_LOG_MEL = _MIN_LOG_HZ / _F_SP
_LOG_STEP = np.log(6.4) / 27.0


def hz_to_mel(hz: np.ndarray | float) -> np.ndarray:
    """Slaney mels of frequencies in Hz (``librosa.hz_to_mel(htk=False)``)."""
    hz = np.asanyarray(hz, dtype=np.float64)
    mel = hz / _F_SP
    log = hz >= _MIN_LOG_HZ
    return np.where(log, _MIN_LOG_MEL + np.log(np.maximum(hz, _MIN_LOG_HZ) / _MIN_LOG_HZ) / _LOG_STEP, mel)


def mel_to_hz(mel: np.ndarray | float) -> np.ndarray:
    """Frequencies in Hz of Slaney mels (``librosa.mel_to_hz(htk=False)``)."""
    mel = np.asanyarray(mel, dtype=np.float64)
    return np.where(mel >= _MIN_LOG_MEL, _MIN_LOG_HZ * np.exp(_LOG_STEP * (mel - _MIN_LOG_MEL)), _F_SP * mel)


def mel_frequencies(n: int, f_min: float, f_max: float) -> np.ndarray:
    """``n`` frequencies evenly spaced in Slaney mels from ``f_min`` to ``f_max`` (``librosa.mel_frequencies``)."""
    return mel_to_hz(np.linspace(hz_to_mel(f_min), hz_to_mel(f_max), n))


def slaney_mel_filters(sample_rate: int, n_fft: int, n_mels: int, f_min: float, f_max: float) -> np.ndarray:
    """Triangular filters ``(n_mels, n_fft // 2 + 1)`` float32, area-normalised (``norm="slaney"``)."""
    fft_hz = np.fft.rfftfreq(n_fft, 1.0 / sample_rate)
    edges = mel_frequencies(n_mels + 2, f_min, f_max)
    widths = np.diff(edges)
    ramps = np.subtract.outer(edges, fft_hz)
    weights = np.zeros((n_mels, len(fft_hz)), dtype=np.float32)  # float32 throughout, as librosa rounds
    weights[:] = np.maximum(0.0, np.minimum(-ramps[:-2] / widths[:-1, None], ramps[2:] / widths[1:, None]))
    weights *= (2.0 / (edges[2:] - edges[:-2]))[:, None]
    return weights
