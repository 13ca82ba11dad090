"""The batch-mixing contract and the label algebra shared by the mixers.

A mixer turns a batch into a batch of the same size whose items are blends of two source items:

    spec[n] = lam[n] * spec[first[n]] + (1 - lam[n]) * spec[second[n]]

(``first == second`` and ``lam == 1`` leave an item unmixed). ``target`` (B, K) holds 1 present, 0 absent,
NaN unknown or soft values in between; ``weight`` (B, K) or (B,) holds per-entry loss weights.
How two targets combine depends on the mixer:

- **lerp** (mixup): ``lam * t1 + (1 - lam) * t2``, NaN when a source with a non-zero share is NaN (the
  unknown value could be anything in [0, 1], so the blend is not determined). Weights blend alike.
- **union** (OR-mixup, mixover): a sound heard in either source is heard in the mix. Values at or above
  ``POSITIVE_THRESHOLD`` (0.5) count as positives:

  ============  ============  ==============================================
  t1            t2            union
  ============  ============  ==============================================
  positive x    NaN           x            (1 + NaN = 1)
  positive x    known y       max(x, y)    (1 + 0 = 1, 1 + 1 = 1)
  negative x    negative y    max(x, y)    (0 + 0 = 0)
  negative x    NaN           NaN          (the unknown source may hold it)
  NaN           NaN           NaN
  ============  ============  ==============================================

  The weight of a union entry is that of the source that decides it: the positive one (the larger
  weight if both are positive); the smaller weight of two negatives (the mix is only as surely negative
  as its least sure source, e.g. a 0.1-weighted weak negative); the mean where the result is NaN.

    mixer = create_mixer("or_mixup", alpha=0.4, p=0.5)
    spec, target, weight = mixer(spec, target, weight, generator=torch.Generator().manual_seed(0))
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import Tensor

from wildtag.augment.spectrogram.base import draw_seed
from wildtag.registry import Registry

MIXERS: Registry[Mixer] = Registry("mixer")

POSITIVE_THRESHOLD = 0.5


def create_mixer(name: str, /, **kwargs: Any) -> Mixer:
    """Build the mixer registered under ``name``.

    >>> create_mixer("mixover", alpha=4.0)
    MixOver(alpha=4.0, min_lambda=0.2, max_lambda=0.8, balance=True)
    """
    return MIXERS.create(name, **kwargs)


def list_mixers(pattern: str = "*") -> list[str]:
    """Names of the registered mixers matching a shell-style ``pattern``."""
    return MIXERS.list(pattern)


@dataclass(frozen=True)
class MixPlan:
    """Which sources make each output item: ``first``, ``second`` (N,) int64 and ``lam`` (N,) float32
    (the share of ``first``), all on the CPU."""

    first: Tensor
    second: Tensor
    lam: Tensor

    @classmethod
    def identity(cls, batch_size: int) -> MixPlan:
        index = torch.arange(batch_size)
        return cls(index, index.clone(), torch.ones(batch_size))


@dataclass(frozen=True)
class MixedBatch:
    """A mixer's output with the plan that made it."""

    spec: Tensor
    target: Tensor
    weight: Tensor
    plan: MixPlan


def lerp_targets(t1: Tensor, t2: Tensor, lam: Tensor) -> Tensor:
    """``lam * t1 + (1 - lam) * t2`` (lam broadcast over classes); a NaN with a zero share drops out."""
    lam = lam.to(t1.dtype).view(-1, *([1] * (t1.ndim - 1)))
    return _share(t1, lam) + _share(t2, 1 - lam)


def _share(values: Tensor, share: Tensor) -> Tensor:
    return torch.where(share == 0, torch.zeros_like(values), share * values)


def union_targets(t1: Tensor, t2: Tensor) -> Tensor:
    """Elementwise label union with unknowns (see the module table)."""
    known1, known2 = ~t1.isnan(), ~t2.isnan()
    both = torch.maximum(t1, t2)  # NaN where either is NaN
    out = torch.where(known1 & known2, both, torch.full_like(t1, float("nan")))
    out = torch.where(known1 & ~known2 & (t1 >= POSITIVE_THRESHOLD), t1, out)
    return torch.where(known2 & ~known1 & (t2 >= POSITIVE_THRESHOLD), t2, out)


def union_weights(t1: Tensor, t2: Tensor, w1: Tensor, w2: Tensor) -> Tensor:
    """Loss weights of :func:`union_targets`: from the source that decides each entry."""
    positive1 = ~t1.isnan() & (t1 >= POSITIVE_THRESHOLD)
    positive2 = ~t2.isnan() & (t2 >= POSITIVE_THRESHOLD)
    both_negative = ~t1.isnan() & ~t2.isnan() & ~positive1 & ~positive2
    out = torch.where(both_negative, torch.minimum(w1, w2), (w1 + w2) / 2)
    out = torch.where(positive1 & ~positive2, w1, out)
    out = torch.where(positive2 & ~positive1, w2, out)
    return torch.where(positive1 & positive2, torch.maximum(w1, w2), out)


def sample_beta(alpha: float, n: int, generator: torch.Generator | None) -> Tensor:
    """``n`` draws of Beta(alpha, alpha) as float32, reproducible from a torch generator.

    torch's Beta sampler takes no generator, so a seed drawn from ``generator`` feeds numpy's.
    """
    seed = draw_seed(generator)
    return torch.from_numpy(np.random.default_rng(seed).beta(alpha, alpha, size=n).astype(np.float32))


def check_alpha(alpha: float) -> float:
    if not alpha > 0:
        raise ValueError(f"alpha (the Beta distribution's parameter) must be > 0, got {alpha!r}")
    return float(alpha)


def check_p(p: float) -> float:
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"p must be in [0, 1], got {p!r}")
    return float(p)


class Mixer:
    """Base class: a subclass chooses the pairs and shares (``plan``) and how labels combine."""

    def plan(self, target: Tensor, generator: torch.Generator | None) -> MixPlan:
        """Choose sources and shares for a batch with targets ``target`` (B, K)."""
        raise NotImplementedError

    def combine_targets(self, t1: Tensor, t2: Tensor, lam: Tensor) -> Tensor:
        raise NotImplementedError

    def combine_weights(self, t1: Tensor, t2: Tensor, w1: Tensor, w2: Tensor, lam: Tensor) -> Tensor:
        raise NotImplementedError

    def mix(
        self, spec: Tensor, target: Tensor, weight: Tensor, generator: torch.Generator | None = None
    ) -> MixedBatch:
        """Mix a batch; the result keeps the plan (sources and shares) for inspection."""
        weight = _check_batch(spec, target, weight)
        if generator is not None and generator.device.type != "cpu":
            raise ValueError(f"generator must be a CPU torch.Generator, got one on {generator.device}")
        plan = self.plan(target, generator)
        return self.apply_plan(plan, spec, target, weight)

    def apply_plan(self, plan: MixPlan, spec: Tensor, target: Tensor, weight: Tensor) -> MixedBatch:
        """Blend ``spec`` and combine ``target`` / ``weight`` as ``plan`` says."""
        weight = _check_batch(spec, target, weight)
        share = plan.lam.to(spec.device, spec.dtype).view(-1, *([1] * (spec.ndim - 1)))
        first, second = plan.first.to(spec.device), plan.second.to(spec.device)
        mixed = share * spec.index_select(0, first) + (1 - share) * spec.index_select(0, second)
        # targets may live on another device than the spectrogram (e.g. still on the CPU)
        first, second, lam = (
            plan.first.to(target.device),
            plan.second.to(target.device),
            plan.lam.to(target.device),
        )
        t1, t2 = target.index_select(0, first), target.index_select(0, second)
        weight = weight.to(target.device)
        w1, w2 = weight.index_select(0, first), weight.index_select(0, second)
        return MixedBatch(
            spec=mixed,
            target=self.combine_targets(t1, t2, lam),
            weight=self.combine_weights(t1, t2, w1, w2, lam),
            plan=plan,
        )

    def __call__(
        self, spec: Tensor, target: Tensor, weight: Tensor, generator: torch.Generator | None = None
    ) -> tuple[Tensor, Tensor, Tensor]:
        """Mix a batch: returns ``(spec, target, weight)`` of the same batch size."""
        mixed = self.mix(spec, target, weight, generator)
        return mixed.spec, mixed.target, mixed.weight


def _check_batch(spec: Tensor, target: Tensor, weight: Tensor) -> Tensor:
    """Validate shapes; return ``weight`` as (B, K)."""
    if spec.ndim < 1 or target.ndim != 2 or target.shape[0] != spec.shape[0]:
        raise ValueError(
            f"expected spec (B, ...) and target (B, K) with the same B, got {tuple(spec.shape)} "
            f"and {tuple(target.shape)}"
        )
    if weight.shape == target.shape[:1]:
        return weight[:, None].expand_as(target)
    if weight.shape != target.shape:
        raise ValueError(
            f"expected weight shaped {tuple(target.shape)} or ({target.shape[0]},), got {tuple(weight.shape)}"
        )
    return weight
