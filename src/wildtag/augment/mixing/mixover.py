"""Mixover (RFCx 2021, 1st place): mix every pair of the batch, then draw a batch balanced per class.

For a batch of B items:

1. every pair ``i < j`` is a candidate (``B * (B - 1) / 2`` of them), its target the label union of the
   two (1 + NaN = 1, 0 + NaN = NaN, 0 + 0 = 0, NaN + NaN = NaN; see :mod:`.base`), its weight the union
   weight (from the source that decides each entry);
2. B candidates are drawn with replacement. With ``balance=True`` each candidate's probability comes from
   how rare its known labels are: every (class, polarity) cell, e.g. "negative for class k", gets a total
   sampling mass of 1, shared equally among the candidates holding it, and a candidate's weight is the
   sum of the masses of its cells. With P positive and N negative candidates for class k, its positives
   and its negatives each receive mass 1, so they are drawn equally often when every candidate holds one
   known label (the RFCx case of TP/FP items that each know one class) and close to it otherwise; rare
   classes get as much mass as common ones. Candidates without any known label are never drawn (unless
   no candidate has one: then all are equally likely). ``balance=False`` draws uniformly;
3. each drawn pair is blended with ``lam ~ Beta(alpha, alpha)`` clipped to ``[min_lambda, max_lambda]``
   (both sounds stay audible, so the union labels hold), the order of the two chosen at random.

Mixing TPs and FPs this way turns a few, unbalanced boxes into many supervised, balanced ones. A batch of
one item is returned unmixed.

    mixer = MixOver(alpha=4.0, min_lambda=0.2, max_lambda=0.8)
    spec, target, weight = mixer(spec, target, weight, generator=torch.Generator().manual_seed(0))
"""

from __future__ import annotations

import torch
from torch import Tensor

from .base import (
    MIXERS,
    POSITIVE_THRESHOLD,
    Mixer,
    MixPlan,
    check_alpha,
    sample_beta,
    union_targets,
    union_weights,
)


def balance_weights(target: Tensor) -> Tensor:
    """Sampling weights (M,) float64 of candidates with targets ``target`` (M, K): rare cells weigh more."""
    known = ~target.isnan()
    positive = known & (target >= POSITIVE_THRESHOLD)
    negative = known & ~positive
    weight = torch.zeros(target.shape[0], dtype=torch.float64, device=target.device)
    for cells in (positive, negative):
        cells = cells.double()
        weight += (cells / cells.sum(0).clamp_min(1)).sum(1)
    return weight if bool(weight.sum() > 0) else torch.ones_like(weight)


@MIXERS.register("mixover")
class MixOver(Mixer):
    """Union-label mixes of all pairs, resampled to B items balanced per class."""

    def __init__(
        self, alpha: float = 4.0, min_lambda: float = 0.2, max_lambda: float = 0.8, balance: bool = True
    ):
        self.alpha = check_alpha(alpha)
        if not 0.0 <= min_lambda <= max_lambda <= 1.0:
            raise ValueError(
                f"need 0 <= min_lambda <= max_lambda <= 1, got min_lambda={min_lambda!r}, "
                f"max_lambda={max_lambda!r}"
            )
        self.min_lambda = float(min_lambda)
        self.max_lambda = float(max_lambda)
        self.balance = bool(balance)

    def plan(self, target: Tensor, generator: torch.Generator | None) -> MixPlan:
        batch_size = target.shape[0]
        if batch_size < 2:
            return MixPlan.identity(batch_size)
        first, second = torch.triu_indices(batch_size, batch_size, offset=1)
        if self.balance:
            device_first, device_second = first.to(target.device), second.to(target.device)
            candidates = union_targets(
                target.index_select(0, device_first), target.index_select(0, device_second)
            )
            probabilities = balance_weights(candidates.detach()).cpu()
        else:
            probabilities = torch.ones(first.numel(), dtype=torch.float64)
        chosen = torch.multinomial(probabilities, batch_size, replacement=True, generator=generator)
        first, second = first[chosen], second[chosen]
        swap = torch.rand(batch_size, generator=generator) < 0.5
        first, second = torch.where(swap, second, first), torch.where(swap, first, second)
        lam = sample_beta(self.alpha, batch_size, generator).clamp(self.min_lambda, self.max_lambda)
        return MixPlan(first, second, lam)

    def combine_targets(self, t1: Tensor, t2: Tensor, lam: Tensor) -> Tensor:
        return union_targets(t1, t2)

    def combine_weights(self, t1: Tensor, t2: Tensor, w1: Tensor, w2: Tensor, lam: Tensor) -> Tensor:
        return union_weights(t1, t2, w1, w2)

    def __repr__(self) -> str:
        return (
            f"MixOver(alpha={self.alpha}, min_lambda={self.min_lambda}, max_lambda={self.max_lambda}, "
            f"balance={self.balance})"
        )
