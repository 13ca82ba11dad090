"""The spectrogram-augmentation contract: batched, on-device transforms of ``(B, C, F, T)`` images.

It is the contract of :mod:`wildtag.augment.base` (``p``, ``randomize_parameters`` then ``apply``) for a
batch, with a CPU ``torch.Generator`` passed to each call or set once on the module.

Every augmentation is an ``nn.Module`` without parameters or buffers (adding one to a model leaves its
checkpoints unchanged). ``forward(spec)`` returns a tensor of the same shape, dtype and device:

- each example is transformed with probability ``p``, with its own random parameters;
- ``channels`` restricts the transform to some channels (``None``: all), so a frequency-coordinate
  channel appended by the frontend can be left alone with ``channels=[0]``;
- randomness comes from the ``generator`` passed to ``forward``, else ``self.generator``, a CPU
  ``torch.Generator`` (``None``: torch's default one);
  parameters are drawn on the CPU and moved to the spectrogram's device, so a seed reproduces a batch
  on any device (large noise tensors are drawn on the device from a seed taken from ``self.generator``:
  reproducible on the same kind of device);
- in eval mode (``module.eval()``) the augmentation is the identity, like dropout.

A subclass draws its parameters in ``randomize_parameters(x, generator)`` and applies them in
``apply(x, params)``, where ``x`` (n, c, F, T) holds the chosen examples and channels only; both are
public so a transform can be checked with hand-made parameters.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import Tensor, nn

from wildtag.augment.base import Params, Transform, check_probability
from wildtag.registry import Registry

SPEC_AUGMENTS: Registry[nn.Module] = Registry("spectrogram augmentation")

FILL_CHOICES = ("mean", "min")
_SEED_HIGH = 2**62


def create_spec_augment(name: str, /, **kwargs: Any) -> nn.Module:
    """Build the spectrogram augmentation registered under ``name``.

    >>> stripes = create_spec_augment("time_stripes", num_stripes=1, max_width_frames=4, channels=[0])
    >>> stripes(torch.ones(2, 2, 8, 16)).shape
    torch.Size([2, 2, 8, 16])
    """
    return SPEC_AUGMENTS.create(name, **kwargs)


def list_spec_augments(pattern: str = "*") -> list[str]:
    """Names of the registered spectrogram augmentations matching a shell-style ``pattern``."""
    return SPEC_AUGMENTS.list(pattern)


def check_fill(fill: float | str) -> float | str:
    """A fill value: a number, or ``"mean"`` / ``"min"`` of each example's channel."""
    if isinstance(fill, str):
        if fill not in FILL_CHOICES:
            raise ValueError(f"fill={fill!r} is not a number or one of {', '.join(map(repr, FILL_CHOICES))}")
        return fill
    return float(fill)


def fill_values(x: Tensor, fill: float | str) -> Tensor:
    """The fill for ``x`` (n, C, F, T): a scalar tensor, or one value per example and channel."""
    if fill == "mean":
        return x.mean(dim=(-2, -1), keepdim=True)
    if fill == "min":
        return x.amin(dim=(-2, -1), keepdim=True)
    return torch.tensor(float(fill), dtype=x.dtype, device=x.device)


def uniform(n: int, low: float, high: float, generator: torch.Generator | None) -> Tensor:
    """``n`` float32 draws from U[low, high) on the CPU."""
    return low + (high - low) * torch.rand(n, generator=generator)


def draw_seed(generator: torch.Generator | None) -> int:
    """A seed drawn from ``generator``, for a generator on another device (large noise tensors)."""
    return int(torch.randint(_SEED_HIGH, (1,), generator=generator))


class SpecAugment(Transform, nn.Module):
    """Base class: per-example probability ``p``, a channel subset and an explicit CPU generator."""

    def __init__(
        self,
        p: float,
        channels: Sequence[int] | None = None,
        generator: torch.Generator | None = None,
    ):
        super().__init__()
        self.p = check_probability("p", p)
        if channels is not None:
            channels = [int(c) for c in channels]
            if not channels or any(c < 0 for c in channels) or len(set(channels)) != len(channels):
                raise ValueError(
                    f"channels must be distinct channel indices >= 0 (or None), got {channels!r}"
                )
        self.channels: list[int] | None = channels
        if generator is not None and generator.device.type != "cpu":
            raise ValueError(f"generator must be a CPU torch.Generator, got one on {generator.device}")
        self.generator = generator

    def randomize_parameters(self, x: Tensor, generator: torch.Generator | None) -> Params:
        """Random parameters (CPU tensors, a row per example) for the chosen examples ``x`` (n, c, F, T)."""
        raise NotImplementedError

    def apply(self, x: Tensor, params: Params) -> Tensor:
        """Apply ``params`` to ``x`` (n, c, F, T): the chosen examples and channels only."""
        raise NotImplementedError

    def forward(self, spec: Tensor, generator: torch.Generator | None = None) -> Tensor:
        """``spec`` with each example transformed with probability ``p`` (the identity in eval mode)."""
        if spec.ndim != 4:
            raise ValueError(f"expected a spectrogram batch shaped (B, C, F, T), got {tuple(spec.shape)}")
        if not self.training or spec.shape[0] == 0:
            return spec
        generator = self.generator if generator is None else generator
        channels = self._channel_index(spec.shape[1])
        chosen = torch.nonzero(torch.rand(spec.shape[0], generator=generator) < self.p).flatten()
        if chosen.numel() == 0:
            return spec
        rows = chosen.to(spec.device)[:, None]
        cols = channels.to(spec.device)[None, :]
        x = spec[rows, cols]
        params = {key: value.to(spec.device) for key, value in self.randomize_parameters(x, generator).items()}
        out = spec.clone()
        out[rows, cols] = self.apply(x, params).to(spec.dtype)
        return out

    def _channel_index(self, num_channels: int) -> Tensor:
        if self.channels is None:
            return torch.arange(num_channels)
        if max(self.channels) >= num_channels:
            raise ValueError(
                f"{type(self).__name__}: channels={self.channels} is out of range for a spectrogram "
                f"with {num_channels} channel(s)"
            )
        return torch.tensor(self.channels)

    def extra_repr(self) -> str:
        return f"p={self.p}, channels={self.channels}"
