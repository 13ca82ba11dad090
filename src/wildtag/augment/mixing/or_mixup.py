"""OR-mixup (Freesound Audio Tagging 2019, 1st place): blend the sounds, take the union of the labels.

A mix of two sounds still lets you hear both, so the target is the elementwise union (max) of the two
targets rather than their lerp; unknowns follow the union table of :mod:`.base` (1 + NaN = 1,
0 + NaN = NaN). Partners, ``lam ~ Beta(alpha, alpha)`` and ``p`` as in :class:`.Mixup`. Note that a small
``lam`` makes one source nearly inaudible while its labels still count; clip with mixover if that hurts.

    mixer = OrMixup(alpha=0.4, p=0.5)
    spec, target, weight = mixer(spec, target, weight, generator=torch.Generator().manual_seed(0))
"""

from __future__ import annotations

from torch import Tensor

from .base import MIXERS, union_targets, union_weights
from .mixup import PermutationMixer


@MIXERS.register("or_mixup")
class OrMixup(PermutationMixer):
    """Mixup with the label union (OR) instead of the lerp."""

    def __init__(self, alpha: float = 0.4, p: float = 0.5):
        super().__init__(alpha, p)

    def combine_targets(self, t1: Tensor, t2: Tensor, lam: Tensor) -> Tensor:
        return union_targets(t1, t2)

    def combine_weights(self, t1: Tensor, t2: Tensor, w1: Tensor, w2: Tensor, lam: Tensor) -> Tensor:
        return union_weights(t1, t2, w1, w2)
