"""Models: backbones (wildtag's own and timm's), heads, and the Tagger that joins them to a frontend.

>>> from wildtag.models import create_tagger
>>> model = create_tagger({"frontend": {"name": "logmel"}, "backbone": {"name": "tiny_cnn"},
...                        "head": {"name": "attention"}}, num_classes=5, sample_rate=32000)
"""

from wildtag.models import fat2019, keras_attention  # noqa: F401  (registers their backbones and heads)
from wildtag.models.backbones import (
    BACKBONES,
    TimmBackbone,
    TinyCNN,
    create_backbone,
    list_backbones,
    load_backbone_weights,
)
from wildtag.models.heads import HEADS, AttentionHead, ConcatPoolHead, LinearHead, create_head, list_heads
from wildtag.models.tagger import Tagger, create_tagger

__all__ = [
    "BACKBONES",
    "HEADS",
    "AttentionHead",
    "ConcatPoolHead",
    "LinearHead",
    "Tagger",
    "TimmBackbone",
    "TinyCNN",
    "create_backbone",
    "create_head",
    "create_tagger",
    "list_backbones",
    "list_heads",
    "load_backbone_weights",
]
