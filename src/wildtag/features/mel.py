"""Log-mel frontend: the STFT power projected onto a Slaney mel filter bank (librosa's, the reference).

>>> frontend = LogMelFrontend(32000, n_mels=64, f_min=50.0, f_max=14000.0)
>>> frontend(torch.zeros(2, 32000)).shape
torch.Size([2, 1, 64, 101])
"""

from __future__ import annotations

import librosa
import torch
from torch import Tensor

from wildtag.features.base import FRONTENDS, Frontend, resolve_band


@FRONTENDS.register("logmel")
class LogMelFrontend(Frontend):
    """Mel spectrogram: ``|STFT|**power`` times ``librosa.filters.mel(htk=False, norm="slaney")``.

    ``freq_hz`` holds the centre frequency of each mel band. Scaling, normalisation and ``freq_coord``
    are as in :class:`~wildtag.features.stft.StftFrontend`.
    """

    def __init__(
        self,
        sample_rate: int,
        n_fft: int = 1024,
        hop_length: int = 320,
        n_mels: int = 128,
        f_min: float = 50.0,
        f_max: float | None = None,
        power: float = 2.0,
        scale: str = "db",
        top_db: float | None = 80.0,
        normalize: str = "per_bin",
        freq_coord: bool = False,
        win_length: int | None = None,
    ):
        if not n_mels > 0:
            raise ValueError(f"n_mels must be > 0, got {n_mels!r}")
        f_min, f_max = resolve_band(sample_rate, f_min, f_max)
        filters = librosa.filters.mel(
            sr=sample_rate, n_fft=n_fft, n_mels=n_mels, fmin=f_min, fmax=f_max, htk=False, norm="slaney"
        )
        centres_hz = librosa.mel_frequencies(n_mels=n_mels + 2, fmin=f_min, fmax=f_max, htk=False)[1:-1]
        super().__init__(
            sample_rate,
            n_fft=n_fft,
            hop_length=hop_length,
            win_length=win_length,
            power=power,
            scale=scale,
            top_db=top_db,
            normalize=normalize,
            freq_coord=freq_coord,
            freq_hz=torch.as_tensor(centres_hz, dtype=torch.float32),
        )
        self.n_mels, self.f_min, self.f_max = int(n_mels), f_min, f_max
        self.register_buffer("mel_filters", torch.as_tensor(filters, dtype=torch.float32), persistent=False)

    def project(self, spec: Tensor) -> Tensor:
        return torch.matmul(self.mel_filters.float(), spec)
