"""Time jitter: move each example along time by a random whole number of frames.

The shift is drawn uniformly from ``-S..S`` frames with ``S = round(max_shift_fraction * T)``; a positive
shift moves the content later. ``mode="roll"`` wraps the frames that leave one end around to the other
(nothing is lost); ``mode="shift"`` drops them and fills the vacated frames with ``fill`` (a number, or
``"mean"`` / ``"min"`` of the example's channel; ``"min"`` is the quietest value of a dB spectrogram).

    >>> jitter = TimeJitter(max_shift_fraction=0.1, p=0.5)
    >>> jitter(torch.randn(4, 1, 64, 128)).shape
    torch.Size([4, 1, 64, 128])
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor

from wildtag.augment.base import Params

from .base import SPEC_AUGMENTS, SpecAugment, check_fill, fill_values

MODES = ("roll", "shift")


@SPEC_AUGMENTS.register("time_jitter")
class TimeJitter(SpecAugment):
    """Roll (or shift with a fill) along time by up to ``max_shift_fraction`` of the frames (RFCx 2021)."""

    def __init__(
        self,
        max_shift_fraction: float = 0.1,
        p: float = 0.5,
        mode: str = "roll",
        fill: float | str = 0.0,
        channels: Sequence[int] | None = None,
        generator: torch.Generator | None = None,
    ):
        super().__init__(p, channels, generator)
        if not 0.0 <= max_shift_fraction <= 1.0:
            raise ValueError(f"max_shift_fraction must be in [0, 1], got {max_shift_fraction!r}")
        if mode not in MODES:
            raise ValueError(f"mode={mode!r} is not one of {', '.join(map(repr, MODES))}")
        self.max_shift_fraction = float(max_shift_fraction)
        self.mode = mode
        self.fill = check_fill(fill)

    def randomize_parameters(self, x: Tensor, generator: torch.Generator | None) -> Params:
        """``shift`` (n,) int64 frames."""
        max_shift = round(self.max_shift_fraction * x.shape[-1])
        draw = (torch.rand(len(x), generator=generator) * (2 * max_shift + 1)).long().clamp_max(2 * max_shift)
        return {"shift": draw - max_shift}

    def apply(self, x: Tensor, params: Params) -> Tensor:
        frames = x.shape[-1]
        source = torch.arange(frames, device=x.device) - params["shift"][:, None]  # (n, T)
        if self.mode == "roll":
            source = source.remainder(frames)
        valid = (source >= 0) & (source < frames)
        index = source.clamp(0, frames - 1)[:, None, None, :].expand_as(x)
        moved = torch.gather(x, -1, index)
        if self.mode == "roll":
            return moved
        return torch.where(valid[:, None, None, :], moved, fill_values(x, self.fill))

    def extra_repr(self) -> str:
        return (
            f"max_shift_fraction={self.max_shift_fraction}, mode={self.mode!r}, fill={self.fill!r}, "
            f"{super().extra_repr()}"
        )
