"""Scores from logits, the one place that decides softmax versus sigmoid."""

from __future__ import annotations

import torch


def activate(logits: torch.Tensor, activation: str = "sigmoid") -> torch.Tensor:
    """Probabilities: ``softmax`` for single-label cross-entropy models, ``sigmoid`` (independent classes) otherwise."""
    if activation not in ("sigmoid", "softmax"):
        raise ValueError(f"activation must be 'sigmoid' or 'softmax', got {activation!r}")
    return torch.softmax(logits, dim=-1) if activation == "softmax" else torch.sigmoid(logits)
