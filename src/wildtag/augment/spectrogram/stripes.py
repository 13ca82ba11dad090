"""Stripe masks (SpecAugment): blank a few bands of frames or frequency bins per example.

Each stripe has a width drawn uniformly from ``0..max_width`` (capped at the axis length) and a start
drawn uniformly among the positions where it fits, so a stripe never runs off the image; stripes may
overlap. The masked cells take ``fill``: a number, or ``"mean"`` / ``"min"`` of the example's channel.

    >>> stripes = TimeStripes(num_stripes=2, max_width_frames=20, p=0.8, channels=[0])
    >>> stripes(torch.randn(4, 2, 64, 128)).shape
    torch.Size([4, 2, 64, 128])
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor

from wildtag.augment.base import Params

from .base import SPEC_AUGMENTS, SpecAugment, check_fill, fill_values


class _Stripes(SpecAugment):
    """Stripes along one axis of (B, C, F, T): -1 for time frames, -2 for frequency bins."""

    axis: int

    def __init__(
        self,
        num_stripes: int,
        max_width: int,
        p: float,
        fill: float | str,
        channels: Sequence[int] | None,
        generator: torch.Generator | None,
    ):
        super().__init__(p, channels, generator)
        if int(num_stripes) != num_stripes or num_stripes < 0:
            raise ValueError(f"num_stripes must be an integer >= 0, got {num_stripes!r}")
        if int(max_width) != max_width or max_width < 0:
            raise ValueError(f"the maximum stripe width must be an integer >= 0, got {max_width!r}")
        self.num_stripes = int(num_stripes)
        self.max_width = int(max_width)
        self.fill = check_fill(fill)

    def randomize_parameters(self, x: Tensor, generator: torch.Generator | None) -> Params:
        """``start`` and ``width`` (n, num_stripes) int64, in cells of the striped axis."""
        size = x.shape[self.axis]
        max_width = min(self.max_width, size)
        shape_ns = (len(x), self.num_stripes)
        width = (torch.rand(shape_ns, generator=generator) * (max_width + 1)).long().clamp_max(max_width)
        start = (torch.rand(shape_ns, generator=generator) * (size - width + 1)).long()
        return {"start": torch.minimum(start, size - width), "width": width}

    def apply(self, x: Tensor, params: Params) -> Tensor:
        start, width = params["start"], params["width"]
        position = torch.arange(x.shape[self.axis], device=x.device)
        inside = (position >= start[..., None]) & (position < (start + width)[..., None])
        masked = inside.any(dim=1)  # (n, size): the union of the stripes
        masked = masked[:, None, None, :] if self.axis == -1 else masked[:, None, :, None]
        return torch.where(masked, fill_values(x, self.fill), x)

    def extra_repr(self) -> str:
        return f"num_stripes={self.num_stripes}, max_width={self.max_width}, fill={self.fill!r}, " + (
            super().extra_repr()
        )


@SPEC_AUGMENTS.register("time_stripes")
class TimeStripes(_Stripes):
    """Time masks: ``num_stripes`` bands of up to ``max_width_frames`` frames each."""

    axis = -1

    def __init__(
        self,
        num_stripes: int = 2,
        max_width_frames: int = 20,
        p: float = 0.8,
        fill: float | str = 0.0,
        channels: Sequence[int] | None = None,
        generator: torch.Generator | None = None,
    ):
        super().__init__(num_stripes, max_width_frames, p, fill, channels, generator)


@SPEC_AUGMENTS.register("freq_stripes")
class FreqStripes(_Stripes):
    """Frequency masks: ``num_stripes`` bands of up to ``max_width_bins`` bins each."""

    axis = -2

    def __init__(
        self,
        num_stripes: int = 2,
        max_width_bins: int = 8,
        p: float = 0.8,
        fill: float | str = 0.0,
        channels: Sequence[int] | None = None,
        generator: torch.Generator | None = None,
    ):
        super().__init__(num_stripes, max_width_bins, p, fill, channels, generator)
