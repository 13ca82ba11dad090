"""Random contrast: raise the min-max normalised image to a random power, then restore its range.

Per example and channel, ``x01 = (x - min) / (max - min)`` and ``x' = min + x01 ** power * (max - min)``:
the minimum and maximum stay where they are, a power above 1 darkens the mid-tones (quiet background
recedes), below 1 brightens them. ``power`` is drawn log-uniformly from ``[min_power, max_power]`` so that
darkening by ``k`` and brightening by ``1/k`` are equally likely when the range is symmetric about 1.
A constant image is left as it is. Computed in float32 whatever the input dtype.

    >>> power = PowerContrast(min_power=0.5, max_power=3.0, p=0.5, channels=[0])
    >>> power(torch.randn(4, 2, 64, 128)).shape
    torch.Size([4, 2, 64, 128])
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import Tensor

from wildtag.augment.base import Params

from .base import SPEC_AUGMENTS, SpecAugment, uniform

_TINY = 1e-12


@SPEC_AUGMENTS.register("power")
class PowerContrast(SpecAugment):
    """Contrast transform ``x01 ** power`` with a random power per example (BirdCLEF 2021)."""

    def __init__(
        self,
        min_power: float = 0.5,
        max_power: float = 3.0,
        p: float = 0.5,
        channels: Sequence[int] | None = None,
        generator: torch.Generator | None = None,
    ):
        super().__init__(p, channels, generator)
        if not 0 < min_power <= max_power:
            raise ValueError(f"need 0 < min_power <= max_power, got {min_power!r} and {max_power!r}")
        self.min_power = float(min_power)
        self.max_power = float(max_power)

    def randomize_parameters(self, x: Tensor, generator: torch.Generator | None) -> Params:
        """``power`` (n,) float32."""
        log_power = uniform(len(x), math.log(self.min_power), math.log(self.max_power), generator)
        return {"power": log_power.exp()}

    def apply(self, x: Tensor, params: Params) -> Tensor:
        x = x.float()
        low = x.amin(dim=(-2, -1), keepdim=True)
        span = x.amax(dim=(-2, -1), keepdim=True) - low
        x01 = (x - low) / span.clamp_min(_TINY)
        power = params["power"].float().view(-1, 1, 1, 1)
        # where() keeps the infinite slope of x ** power (power < 1) at x = 0 out of the gradient.
        curved = torch.where(x01 > 0, x01.clamp_min(_TINY) ** power, torch.zeros_like(x01))
        return torch.where(span > 0, low + curved * span, x)

    def extra_repr(self) -> str:
        return f"min_power={self.min_power}, max_power={self.max_power}, {super().extra_repr()}"
