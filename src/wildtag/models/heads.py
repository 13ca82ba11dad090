"""Heads: feature maps (B, C, F, T) -> a dict with clip ``"logits"`` (B, K), and for SED heads
``"frame_logits"`` (B, T, K). All outputs are logits, for BCE-with-logits style losses.

    >>> head = create_head("attention", in_features=128, num_classes=10)
    >>> {k: v.shape for k, v in head(torch.zeros(2, 128, 4, 31)).items()}
    {'logits': torch.Size([2, 10]), 'frame_logits': torch.Size([2, 31, 10])}
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from wildtag.registry import Registry

HEADS: Registry[nn.Module] = Registry("head")

POOLS = ("avg", "max", "avgmax")


def create_head(name: str, in_features: int, num_classes: int, **kwargs: Any) -> nn.Module:
    """Build the head registered under ``name`` for ``in_features`` channels and ``num_classes`` outputs."""
    return HEADS.create(name, in_features=in_features, num_classes=num_classes, **kwargs)


def list_heads(pattern: str = "*") -> list[str]:
    """Names of the registered heads matching a shell-style ``pattern``."""
    return HEADS.list(pattern)


def _check_features(features: Tensor, in_features: int) -> None:
    if features.ndim != 4 or features.shape[1] != in_features:
        raise ValueError(
            f"expected features shaped (batch, {in_features}, F, T), got {tuple(features.shape)}"
        )


def _check_dropout(name: str, p: float) -> None:
    if not 0.0 <= p < 1.0:
        raise ValueError(f"{name} must be in [0, 1), got {p!r}")


@HEADS.register("linear")
class LinearHead(nn.Module):
    """Global pooling over F and T ("avg", "max" or "avgmax" = their mean), dropout, one Linear layer."""

    def __init__(self, in_features: int, num_classes: int, pool: str = "avg", dropout: float = 0.0):
        super().__init__()
        if pool not in POOLS:
            raise ValueError(f"pool={pool!r} is not one of {', '.join(repr(p) for p in POOLS)}")
        _check_dropout("dropout", dropout)
        self.in_features, self.pool = int(in_features), pool
        self.dropout = nn.Dropout(dropout)
        self.fc = nn.Linear(in_features, num_classes)

    def forward(self, features: Tensor) -> dict[str, Tensor]:
        _check_features(features, self.in_features)
        if self.pool == "avg":
            pooled = features.mean(dim=(2, 3))
        elif self.pool == "max":
            pooled = features.amax(dim=(2, 3))
        else:
            pooled = 0.5 * (features.mean(dim=(2, 3)) + features.amax(dim=(2, 3)))
        return {"logits": self.fc(self.dropout(pooled))}


@HEADS.register("concat_pool")
class ConcatPoolHead(nn.Module):
    """fastai's head: cat(avg pool, max pool) -> BN -> Dropout -> Linear -> ReLU -> BN -> Dropout -> Linear.

    Its BatchNorm1d layers need more than one example per batch in training mode.
    """

    def __init__(
        self,
        in_features: int,
        num_classes: int,
        hidden_features: int = 512,
        dropout1: float = 0.25,
        dropout2: float = 0.5,
    ):
        super().__init__()
        _check_dropout("dropout1", dropout1)
        _check_dropout("dropout2", dropout2)
        self.in_features = int(in_features)
        self.layers = nn.Sequential(
            nn.BatchNorm1d(2 * in_features),
            nn.Dropout(dropout1),
            nn.Linear(2 * in_features, hidden_features, bias=False),  # the BatchNorm after it has the bias
            nn.ReLU(inplace=True),
            nn.BatchNorm1d(hidden_features),
            nn.Dropout(dropout2),
            nn.Linear(hidden_features, num_classes),
        )

    def forward(self, features: Tensor) -> dict[str, Tensor]:
        _check_features(features, self.in_features)
        pooled = torch.cat([features.mean(dim=(2, 3)), features.amax(dim=(2, 3))], dim=1)
        return {"logits": self.layers(pooled)}


@HEADS.register("attention")
class AttentionHead(nn.Module):
    """Sound event detection head (PANNs style): frame-wise class logits pooled over time by attention.

    Features are averaged over frequency, smoothed over ``smooth_frames`` frames (max + mean pooling), passed
    through a 1x1 conv with ReLU, then split into an attention branch (1x1 conv, tanh, softmax over time) and
    a classification branch (1x1 conv: ``frame_logits``). ``clip_pooling="probs"`` gives the exact logit of
    the attention-weighted mean of frame probabilities (computed in log space, so it never saturates);
    ``"logits"`` gives the attention-weighted mean of frame logits.
    """

    def __init__(
        self,
        in_features: int,
        num_classes: int,
        hidden_features: int | None = None,
        dropout: float = 0.2,
        smooth_frames: int = 3,
        clip_pooling: str = "probs",
    ):
        super().__init__()
        _check_dropout("dropout", dropout)
        if smooth_frames < 1 or smooth_frames % 2 == 0:
            raise ValueError(f"smooth_frames must be a positive odd number, got {smooth_frames!r}")
        if clip_pooling not in ("probs", "logits"):
            raise ValueError(f"clip_pooling={clip_pooling!r} is not one of 'probs', 'logits'")
        hidden = int(hidden_features or in_features)
        self.in_features, self.smooth_frames, self.clip_pooling = (
            int(in_features),
            smooth_frames,
            clip_pooling,
        )
        self.dropout = nn.Dropout(dropout)
        self.fc = nn.Conv1d(in_features, hidden, 1)
        self.attention = nn.Conv1d(hidden, num_classes, 1)
        self.classifier = nn.Conv1d(hidden, num_classes, 1)

    def forward(self, features: Tensor) -> dict[str, Tensor]:
        _check_features(features, self.in_features)
        x = features.mean(dim=2)  # (B, C, T)
        if self.smooth_frames > 1:
            k, pad = self.smooth_frames, self.smooth_frames // 2
            x = F.max_pool1d(x, k, stride=1, padding=pad) + F.avg_pool1d(
                x,
                k,
                stride=1,
                padding=pad,
                count_include_pad=False,  # no dip at the clip edges
            )
        x = self.dropout(torch.relu(self.fc(self.dropout(x))))
        log_attention = torch.log_softmax(torch.tanh(self.attention(x)), dim=-1)  # (B, K, T)
        frame_logits = self.classifier(x)  # (B, K, T)
        if self.clip_pooling == "logits":
            logits = (log_attention.exp() * frame_logits).sum(dim=-1)
        else:
            # logit(sum_t a_t p_t) = log sum_t a_t p_t - log sum_t a_t (1 - p_t), as sum_t a_t = 1.
            log_p = torch.logsumexp(log_attention + F.logsigmoid(frame_logits), dim=-1)
            log_not_p = torch.logsumexp(log_attention + F.logsigmoid(-frame_logits), dim=-1)
            logits = log_p - log_not_p
        return {"logits": logits, "frame_logits": frame_logits.transpose(1, 2)}
