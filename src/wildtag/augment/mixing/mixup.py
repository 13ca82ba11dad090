"""Mixup (Zhang et al. 2018): blend each item with a random partner and blend the labels alike.

Partners come from a random permutation of the batch, ``lam ~ Beta(alpha, alpha)`` per item, and with
probability ``1 - p`` an item is left as it is. Targets and weights are lerped with the same ``lam``
(a NaN target stays NaN unless its share is zero; see :mod:`.base`).

    mixer = Mixup(alpha=0.4, p=1.0)
    spec, target, weight = mixer(spec, target, weight, generator=torch.Generator().manual_seed(0))
"""

from __future__ import annotations

import torch
from torch import Tensor

from .base import MIXERS, Mixer, MixPlan, check_alpha, check_p, lerp_targets, sample_beta


class PermutationMixer(Mixer):
    """Pairs each item with the item at a random permutation; ``lam ~ Beta(alpha, alpha)``; ``p`` per item."""

    def __init__(self, alpha: float, p: float):
        self.alpha = check_alpha(alpha)
        self.p = check_p(p)

    def plan(self, target: Tensor, generator: torch.Generator | None) -> MixPlan:
        batch_size = target.shape[0]
        first = torch.arange(batch_size)
        partner = torch.randperm(batch_size, generator=generator)
        lam = sample_beta(self.alpha, batch_size, generator)
        mixed = torch.rand(batch_size, generator=generator) < self.p
        return MixPlan(
            first, torch.where(mixed, partner, first), torch.where(mixed, lam, torch.ones_like(lam))
        )

    def __repr__(self) -> str:
        return f"{type(self).__name__}(alpha={self.alpha}, p={self.p})"


@MIXERS.register("mixup")
class Mixup(PermutationMixer):
    """Mixup with lerped targets and weights."""

    def __init__(self, alpha: float = 0.4, p: float = 1.0):
        super().__init__(alpha, p)

    def combine_targets(self, t1: Tensor, t2: Tensor, lam: Tensor) -> Tensor:
        return lerp_targets(t1, t2, lam)

    def combine_weights(self, t1: Tensor, t2: Tensor, w1: Tensor, w2: Tensor, lam: Tensor) -> Tensor:
        return lerp_targets(w1, w2, lam)
