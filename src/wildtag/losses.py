"""Losses on clip logits (B, K) against target vectors (B, K): 1 present, 0 absent, NaN unknown, (0, 1) soft.

Every loss is an ``nn.Module`` called as ``loss(logits, targets, weights=None) -> scalar``. ``weights``,
shaped (B, K) or (B,), multiply the per-entry (or per-example) losses, e.g. 0.1 for weak negatives.
The masked losses average over the known (non-NaN) entries; with none known they return a zero that is
still part of the graph, so a step on such a batch does nothing instead of failing.

    >>> loss = create_loss("masked_bce")
    >>> loss(torch.zeros(1, 3), torch.tensor([[1.0, float("nan"), 0.0]]))  # log(2) over 2 known entries
    tensor(0.6931)
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from wildtag.registry import Registry

LOSSES: Registry[nn.Module] = Registry("loss")


def create_loss(name: str, /, **kwargs: Any) -> nn.Module:
    """Build the loss registered under ``name``."""
    return LOSSES.create(name, **kwargs)


def loss_activation(name: str) -> str:
    """The activation (``"sigmoid"`` or ``"softmax"``) that the loss registered under ``name`` declares:
    predictions must be read the way the loss trained them."""
    return LOSSES.get(name).activation


def list_losses(pattern: str = "*") -> list[str]:
    """Names of the registered losses matching a shell-style ``pattern``."""
    return LOSSES.list(pattern)


def _check_inputs(logits: Tensor, targets: Tensor, weights: Tensor | None) -> Tensor | None:
    """Validate shapes; return ``weights`` broadcast to (B, K) (or None)."""
    if logits.ndim != 2 or targets.shape != logits.shape:
        raise ValueError(
            f"expected logits and targets shaped (batch, classes) alike, got {tuple(logits.shape)} "
            f"and {tuple(targets.shape)}"
        )
    if weights is None:
        return None
    if weights.shape == logits.shape:
        return weights
    if weights.shape == logits.shape[:1]:
        return weights[:, None].expand_as(logits)
    raise ValueError(
        f"expected weights shaped {tuple(logits.shape)} or ({logits.shape[0]},), got {tuple(weights.shape)}"
    )


def _masked_mean(per_entry: Tensor, known: Tensor, weights: Tensor | None) -> Tensor:
    """Mean of ``weights * per_entry`` over the ``known`` entries; where() keeps NaNs out of the gradient."""
    if weights is not None:
        per_entry = per_entry * weights
    total = torch.where(known, per_entry, torch.zeros_like(per_entry)).sum()
    return total / known.sum().clamp_min(1)


def _check_fraction(name: str, value: float) -> None:
    if not 0.0 <= value < 1.0:
        raise ValueError(f"{name} must be in [0, 1), got {value!r}")


class _BinaryLoss(nn.Module):
    """Shared parts of the per-class binary losses: optional ``pos_weight`` (a float or one per class)."""

    activation = "sigmoid"

    def __init__(self, pos_weight: float | Sequence[float] | Tensor | None = None):
        super().__init__()
        pw = None if pos_weight is None else torch.as_tensor(pos_weight, dtype=torch.float32)
        if pw is not None and (pw.ndim > 1 or bool((pw <= 0).any())):
            raise ValueError(f"pos_weight must be a positive number or one per class, got {pos_weight!r}")
        self.register_buffer("pos_weight", pw)

    def _bce(self, logits: Tensor, targets: Tensor) -> Tensor:
        pos_weight = None if self.pos_weight is None else self.pos_weight.to(logits.dtype)
        return F.binary_cross_entropy_with_logits(logits, targets, reduction="none", pos_weight=pos_weight)


@LOSSES.register("bce")
class BCELoss(_BinaryLoss):
    """Binary cross-entropy with logits, mean over all entries; targets must all be known (no NaN)."""

    def forward(self, logits: Tensor, targets: Tensor, weights: Tensor | None = None) -> Tensor:
        weights = _check_inputs(logits, targets, weights)
        if bool(torch.isnan(targets).any()):
            raise ValueError(
                "targets contain NaN (unknown labels), which plain 'bce' cannot take; "
                "use the 'masked_bce' loss"
            )
        per_entry = self._bce(logits, targets.to(logits.dtype))
        return (per_entry if weights is None else per_entry * weights).mean()


@LOSSES.register("masked_bce")
class MaskedBCELoss(_BinaryLoss):
    """Binary cross-entropy over the known (non-NaN) targets only, optionally label-smoothed.

    ``label_smoothing`` eps moves known targets to ``t * (1 - eps) + eps / 2``.
    """

    def __init__(
        self, label_smoothing: float = 0.0, pos_weight: float | Sequence[float] | Tensor | None = None
    ):
        super().__init__(pos_weight)
        _check_fraction("label_smoothing", label_smoothing)
        self.label_smoothing = float(label_smoothing)

    def forward(self, logits: Tensor, targets: Tensor, weights: Tensor | None = None) -> Tensor:
        weights = _check_inputs(logits, targets, weights)
        known = ~torch.isnan(targets)
        filled = torch.where(known, targets, torch.zeros_like(targets)).to(logits.dtype)
        if self.label_smoothing:
            filled = filled * (1.0 - self.label_smoothing) + self.label_smoothing / 2.0
        return _masked_mean(self._bce(logits, filled), known, weights)


@LOSSES.register("bce_smooth")
class SmoothBCELoss(MaskedBCELoss):
    """:class:`MaskedBCELoss` with label smoothing on by default (``label_smoothing=0.1``)."""

    def __init__(
        self, label_smoothing: float = 0.1, pos_weight: float | Sequence[float] | Tensor | None = None
    ):
        super().__init__(label_smoothing=label_smoothing, pos_weight=pos_weight)


@LOSSES.register("masked_focal")
class MaskedFocalLoss(nn.Module):
    """Focal loss (Lin et al. 2017) over the known targets: ``alpha_t * (1 - p_t) ** gamma * BCE``.

    ``gamma=0`` and ``alpha=None`` give masked BCE. Soft targets use ``p_t = p t + (1 - p)(1 - t)``.
    """

    activation = "sigmoid"

    def __init__(self, gamma: float = 2.0, alpha: float | None = None):
        super().__init__()
        if not gamma >= 0:
            raise ValueError(f"gamma must be >= 0, got {gamma!r}")
        if alpha is not None and not 0.0 < alpha < 1.0:
            raise ValueError(f"alpha must be in (0, 1) or None, got {alpha!r}")
        self.gamma, self.alpha = float(gamma), alpha

    def forward(self, logits: Tensor, targets: Tensor, weights: Tensor | None = None) -> Tensor:
        weights = _check_inputs(logits, targets, weights)
        known = ~torch.isnan(targets)
        t = torch.where(known, targets, torch.zeros_like(targets)).to(logits.dtype)
        per_entry = F.binary_cross_entropy_with_logits(logits, t, reduction="none")
        if self.gamma:
            p = torch.sigmoid(logits)
            p_t = p * t + (1 - p) * (1 - t)
            per_entry = (1 - p_t).clamp_min(0) ** self.gamma * per_entry
        if self.alpha is not None:
            per_entry = (self.alpha * t + (1 - self.alpha) * (1 - t)) * per_entry
        return _masked_mean(per_entry, known, weights)


@LOSSES.register("cross_entropy")
class SoftCrossEntropyLoss(nn.Module):
    """Softmax cross-entropy against each row's targets normalised to sum to 1 (one-hot, multi-hot or soft).

    NaN targets count as 0; rows with no positive mass are left out of the mean. ``label_smoothing`` eps
    mixes the target distribution with the uniform one, as ``F.cross_entropy`` does.
    """

    activation = "softmax"

    def __init__(self, label_smoothing: float = 0.0):
        super().__init__()
        _check_fraction("label_smoothing", label_smoothing)
        self.label_smoothing = float(label_smoothing)

    def forward(self, logits: Tensor, targets: Tensor, weights: Tensor | None = None) -> Tensor:
        weights = _check_inputs(logits, targets, weights)
        t = torch.nan_to_num(targets.to(logits.dtype), nan=0.0)
        if bool((t < 0).any()):
            raise ValueError("cross_entropy targets must be >= 0")
        mass = t.sum(dim=1, keepdim=True)
        q = t / mass.clamp_min(torch.finfo(t.dtype).tiny)
        if self.label_smoothing:
            q = q * (1.0 - self.label_smoothing) + self.label_smoothing / logits.shape[1]
        per_entry = -q * torch.log_softmax(logits, dim=1)
        if weights is not None:
            per_entry = per_entry * weights
        has_mass = mass[:, 0] > 0
        rows = torch.where(has_mass, per_entry.sum(dim=1), torch.zeros_like(mass[:, 0]))
        return rows.sum() / has_mass.sum().clamp_min(1)


@LOSSES.register("lsep")
class LSEPLoss(nn.Module):
    """Log-sum-exp pairwise ranking loss (Li et al. 2017): ``log(1 + sum_{i pos, j neg} exp(s_j - s_i))``.

    Ranks every known positive (target > 0.5) above every known negative (target < 0.5) of the same row;
    NaN targets take part in no pair. Weights (B,) multiply row losses; weights (B, K) weight each pair by
    ``w_i * w_j`` inside the sum. Rows without a pair are left out of the mean.
    """

    activation = "sigmoid"

    def forward(self, logits: Tensor, targets: Tensor, weights: Tensor | None = None) -> Tensor:
        row_weights = weights if weights is not None and weights.ndim == 1 else None
        weights = _check_inputs(logits, targets, weights)
        known = ~torch.isnan(targets)
        positive = known & (targets > 0.5)
        negative = known & (targets < 0.5)
        pairs = positive[:, :, None] & negative[:, None, :]  # (B, i, j)
        diff = logits[:, None, :] - logits[:, :, None]  # s_j - s_i
        if weights is not None and row_weights is None:
            log_w = torch.log(weights.to(logits.dtype).clamp_min(1e-12))
            diff = diff + log_w[:, :, None] + log_w[:, None, :]
        diff = torch.where(pairs, diff, torch.full_like(diff, -math.inf)).flatten(1)
        rows = torch.logsumexp(torch.cat([torch.zeros_like(diff[:, :1]), diff], dim=1), dim=1)  # log(1 + sum)
        if row_weights is not None:
            rows = rows * row_weights
        has_pair = pairs.flatten(1).any(dim=1)
        return torch.where(has_pair, rows, torch.zeros_like(rows)).sum() / has_pair.sum().clamp_min(1)
