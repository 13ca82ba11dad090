"""Linear-frequency STFT frontend: magnitude (or power) per FFT bin within a frequency band.

    >>> frontend = StftFrontend(48000, n_fft=1024, hop_length=480, f_min=1000.0, f_max=12000.0)
    >>> frontend.n_bins, frontend(torch.zeros(1, 48000)).shape
    (235, torch.Size([1, 1, 235, 101]))

Linear bins rather than mel: many animals do not hear on a human pitch scale (the RFCx 2021 winners).
"""

from __future__ import annotations

import torch
from torch import Tensor

from wildtag.features.base import FRONTENDS, Frontend, resolve_band


@FRONTENDS.register("stft")
class StftFrontend(Frontend):
    """``|STFT|**power`` (centred, Hann window, reflect padding), keeping the bins in ``[f_min, f_max]`` Hz.

    ``scale``: "db" (with a ``top_db`` floor per example), "log" (``log(x + 1e-6)``) or "none";
    ``normalize``: "per_bin" (each example and bin standardised over time), "batchnorm" or "none";
    ``freq_coord`` adds a second channel going linearly from -1 (lowest bin) to 1 (highest bin).
    """

    def __init__(
        self,
        sample_rate: int,
        n_fft: int = 1024,
        hop_length: int = 320,
        win_length: int | None = None,
        f_min: float = 0.0,
        f_max: float | None = None,
        power: float = 1.0,
        scale: str = "db",
        top_db: float | None = 80.0,
        normalize: str = "per_bin",
        freq_coord: bool = False,
    ):
        f_min, f_max = resolve_band(sample_rate, f_min, f_max)
        all_hz = torch.arange(n_fft // 2 + 1, dtype=torch.float64) * sample_rate / n_fft
        keep = torch.nonzero((all_hz >= f_min) & (all_hz <= f_max)).flatten()
        if len(keep) == 0:
            raise ValueError(
                f"no STFT bin lies within [{f_min}, {f_max}] Hz (bin spacing {sample_rate / n_fft:.1f} Hz); "
                "widen the band or raise n_fft"
            )
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
            freq_hz=all_hz[keep],
        )
        self.f_min, self.f_max = f_min, f_max
        self.first_bin = int(keep[0])
        self.last_bin = int(keep[-1])

    def project(self, spec: Tensor) -> Tensor:
        return spec[:, self.first_bin : self.last_bin + 1]
