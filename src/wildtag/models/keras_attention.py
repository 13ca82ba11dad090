"""The attention head of an RFCx 2021 Keras notebook: a softmax over time weighting frame-wise class scores.

    features (B, C, F, T) --mean over F--> (B, C, T) --dropout--+--1x1 conv--> attention (B, K, T)
                                                                |             clip to +-10, softmax over T
                                                                +--1x1 conv--> frame logits (B, K, T)
    clip probability = sum_t attention * sigmoid(frame logits)

Unlike the ``"attention"`` head (PANNs) there is no hidden layer, no tanh and no frame smoothing.

    >>> head = create_head("keras_attention", in_features=128, num_classes=24)
    >>> {k: v.shape for k, v in head(torch.zeros(2, 128, 4, 31)).items()}
    {'logits': torch.Size([2, 24]), 'frame_logits': torch.Size([2, 31, 24])}
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from wildtag.models.heads import HEADS, _check_dropout, _check_features

PROB_EPS = 1e-6  # clip probabilities are clamped to [PROB_EPS, 1 - PROB_EPS] before taking their logit
_MAX_LOGIT = math.log((1.0 - PROB_EPS) / PROB_EPS)


@HEADS.register("keras_attention")
class KerasAttentionHead(nn.Module):
    """Softmax-over-time attention on frequency-averaged features (see the module docstring).

    ``clip_pooling="probs"`` (default) returns the logit of the attention-weighted mean of frame
    probabilities, clamped to ``[1e-6, 1 - 1e-6]`` first; ``"logits"`` returns the attention-weighted mean
    of frame logits, as the notebook did (its sigmoid came after the sum). ``attention_clip`` bounds the
    attention logits before the softmax (``None``: no bound).
    """

    def __init__(
        self,
        in_features: int,
        num_classes: int,
        dropout: float = 0.25,
        attention_clip: float | None = 10.0,
        clip_pooling: str = "probs",
    ):
        super().__init__()
        _check_dropout("dropout", dropout)
        if attention_clip is not None and not attention_clip > 0:
            raise ValueError(f"attention_clip must be > 0 or None, got {attention_clip!r}")
        if clip_pooling not in ("probs", "logits"):
            raise ValueError(f"clip_pooling={clip_pooling!r} is not one of 'probs', 'logits'")
        self.in_features = int(in_features)
        self.attention_clip = None if attention_clip is None else float(attention_clip)
        self.clip_pooling = clip_pooling
        self.dropout = nn.Dropout(dropout)
        self.attention = nn.Conv1d(in_features, num_classes, 1)
        self.classifier = nn.Conv1d(in_features, num_classes, 1)

    def forward(self, features: Tensor) -> dict[str, Tensor]:
        _check_features(features, self.in_features)
        x = self.dropout(features.mean(dim=2))  # (B, C, T)
        attention_logits = self.attention(x)
        if self.attention_clip is not None:
            attention_logits = attention_logits.clamp(-self.attention_clip, self.attention_clip)
        attention = torch.softmax(attention_logits, dim=-1)  # (B, K, T), sums to 1 over T
        frame_logits = self.classifier(x)  # (B, K, T)
        if self.clip_pooling == "logits":
            logits = (attention * frame_logits).sum(dim=-1)
        else:
            # logit(p) = log p - log(1 - p), with 1 - p summed from sigmoid(-x) so that it keeps its
            # precision near p = 1 in float32; the clamps give p in [PROB_EPS, 1 - PROB_EPS].
            p = (attention * torch.sigmoid(frame_logits)).sum(dim=-1)
            not_p = (attention * torch.sigmoid(-frame_logits)).sum(dim=-1)
            logits = torch.log(p.clamp_min(PROB_EPS)) - torch.log(not_p.clamp_min(PROB_EPS))
            logits = logits.clamp(-_MAX_LOGIT, _MAX_LOGIT)
        return {"logits": logits, "frame_logits": frame_logits.transpose(1, 2)}
