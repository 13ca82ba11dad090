"""Scores from logits, the one place that decides softmax versus sigmoid."""

from __future__ import annotations

import torch

ACTIVATIONS = ("sigmoid", "softmax")  # what a loss may declare and a model card may hold


def activate(logits: torch.Tensor, activation: str = "sigmoid") -> torch.Tensor:
    """Probabilities: ``softmax`` for single-label cross-entropy models, ``sigmoid`` (independent classes) otherwise."""
    if activation not in ACTIVATIONS:
        raise ValueError(f"activation must be one of {', '.join(ACTIVATIONS)}; got {activation!r}")
    return torch.softmax(logits, dim=-1) if activation == "softmax" else torch.sigmoid(logits)
