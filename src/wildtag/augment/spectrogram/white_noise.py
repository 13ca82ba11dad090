"""White noise on the spectrogram: add Gaussian noise whose standard deviation is drawn per example.

The standard deviation is drawn uniformly from ``[0, max_db]`` in the spectrogram's own units, which are
decibels for a ``scale="db"`` frontend without normalisation (the RFCx 2021 setting: up to 3 dB). After a
per-bin normalisation the units are standard deviations instead; choose ``max_db`` accordingly.

The noise itself is drawn on the spectrogram's device, from a generator seeded by ``self.generator``, so it
is reproducible without building a large tensor on the CPU.

    >>> noise = WhiteNoiseDb(max_db=3.0, p=0.5, channels=[0])
    >>> noise(torch.randn(4, 2, 64, 128)).shape
    torch.Size([4, 2, 64, 128])
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor

from wildtag.augment.base import Params

from .base import SPEC_AUGMENTS, SpecAugment, draw_seed, uniform


@SPEC_AUGMENTS.register("white_noise_db")
class WhiteNoiseDb(SpecAugment):
    """Add N(0, std^2) to every cell, ``std ~ U[0, max_db]`` per example."""

    def __init__(
        self,
        max_db: float = 3.0,
        p: float = 0.5,
        channels: Sequence[int] | None = None,
        generator: torch.Generator | None = None,
    ):
        super().__init__(p, channels, generator)
        if not max_db >= 0:
            raise ValueError(f"max_db must be >= 0, got {max_db!r}")
        self.max_db = float(max_db)

    def randomize_parameters(self, x: Tensor, generator: torch.Generator | None) -> Params:
        """``std`` (n,) float32 and ``seed`` (1,) int64 for the noise generator."""
        return {"std": uniform(len(x), 0.0, self.max_db, generator), "seed": torch.tensor([draw_seed(generator)])}

    def apply(self, x: Tensor, params: Params) -> Tensor:
        noise_generator = torch.Generator(device=x.device).manual_seed(int(params["seed"][0]))
        noise = torch.randn(x.shape, generator=noise_generator, device=x.device, dtype=torch.float32)
        return x + (noise * params["std"].float().view(-1, 1, 1, 1)).to(x.dtype)

    def extra_repr(self) -> str:
        return f"max_db={self.max_db}, {super().extra_repr()}"
