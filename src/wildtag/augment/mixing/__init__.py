"""Batch mixing with label algebra for unknowns: ``mixup``, ``or_mixup`` (label union), ``mixover``.

Every mixer is called as ``mixer(spec, target, weight, generator=None) -> (spec, target, weight)`` on a
batch (any ``spec`` shape with the batch first, ``target`` / ``weight`` (B, K)); ``mixer.mix(...)`` also
returns the :class:`MixPlan` (sources and shares of each output item). See :mod:`.base` for how targets
holding NaN (unknown) combine.

    mixer = create_mixer("mixover", alpha=4.0, min_lambda=0.2, max_lambda=0.8)
    spec, target, weight = mixer(spec, target, weight, generator=torch.Generator().manual_seed(0))
"""

from .base import (
    MIXERS,
    POSITIVE_THRESHOLD,
    MixedBatch,
    Mixer,
    MixPlan,
    create_mixer,
    lerp_targets,
    list_mixers,
    union_targets,
    union_weights,
)
from .mixover import MixOver, balance_weights
from .mixup import Mixup, PermutationMixer
from .or_mixup import OrMixup

__all__ = [
    "MIXERS",
    "POSITIVE_THRESHOLD",
    "MixOver",
    "MixPlan",
    "MixedBatch",
    "Mixer",
    "Mixup",
    "OrMixup",
    "PermutationMixer",
    "balance_weights",
    "create_mixer",
    "lerp_targets",
    "list_mixers",
    "union_targets",
    "union_weights",
]
