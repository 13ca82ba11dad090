"""Backbones: modules mapping spectrogram images (B, in_chans, F, T) to feature maps (B, C, F', T').

wildtag registers its own small networks in ``BACKBONES``; any other name is looked up in timm. Pretrained
weights come only from a local file (``pretrained_path``): nothing is ever downloaded.

    >>> backbone = create_backbone("tiny_cnn", in_chans=2)
    >>> backbone(torch.zeros(1, 2, 64, 100)).shape, backbone.num_features
    (torch.Size([1, 128, 4, 6]), 128)
    >>> backbone = create_backbone("resnet18", in_chans=1, pretrained_path="weights/resnet18.pth")
"""

from __future__ import annotations

import difflib
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from wildtag.registry import Registry, UnknownNameError

BACKBONES: Registry[nn.Module] = Registry("backbone")


class ConvBlock(nn.Module):
    """(3x3 conv, BatchNorm, ReLU) twice, then 2x2 pooling: halves F and T."""

    def __init__(self, in_chans: int, out_chans: int, pool: str = "avg"):
        super().__init__()
        self.conv1 = nn.Conv2d(in_chans, out_chans, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(out_chans)
        self.conv2 = nn.Conv2d(out_chans, out_chans, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(out_chans)
        self.pool = nn.AvgPool2d(2) if pool == "avg" else nn.MaxPool2d(2)

    def forward(self, x: Tensor) -> Tensor:
        x = torch.relu(self.bn1(self.conv1(x)))
        x = torch.relu(self.bn2(self.conv2(x)))
        return self.pool(x)


@BACKBONES.register("tiny_cnn")
class TinyCNN(nn.Module):
    """Four :class:`ConvBlock` s (PANNs CNN style, ~300k parameters with the default widths).

    Small enough to train on two CPU cores; the demo's default. Downsamples F and T by 16, so inputs
    need at least 16 bins and 16 frames.
    """

    first_conv = "blocks.0.conv1"  # adapted when loading weights with another number of input channels

    def __init__(self, in_chans: int = 1, widths: Sequence[int] = (16, 32, 64, 128), pool: str = "avg"):
        super().__init__()
        widths = [int(w) for w in widths]
        if len(widths) != 4 or min(widths) < 1:
            raise ValueError(f"tiny_cnn needs four positive block widths, got {widths}")
        if pool not in ("avg", "max"):
            raise ValueError(f"pool={pool!r} is not one of 'avg', 'max'")
        chans = [int(in_chans), *widths]
        pairs = zip(chans[:-1], chans[1:], strict=True)
        self.blocks = nn.Sequential(*(ConvBlock(a, b, pool) for a, b in pairs))
        self.in_chans = int(in_chans)
        self.num_features = widths[-1]

    def forward(self, x: Tensor) -> Tensor:
        return self.blocks(x)


class TimmBackbone(nn.Module):
    """A timm model used for its ``forward_features`` (classifier and pooling removed)."""

    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model
        self.num_features = int(model.num_features)
        self.channels_last = getattr(model, "output_fmt", "NCHW") == "NHWC"

    def forward(self, x: Tensor) -> Tensor:
        features = self.model.forward_features(x)
        if features.ndim != 4:
            raise ValueError(
                f"timm model {type(self.model).__name__} returns features shaped {tuple(features.shape)}; "
                "wildtag needs a feature map (B, C, F, T): use a convolutional model"
            )
        return features.permute(0, 3, 1, 2) if self.channels_last else features


def create_backbone(
    name: str,
    in_chans: int,
    pretrained: bool = False,
    pretrained_path: str | Path | None = None,
    **kwargs: Any,
) -> nn.Module:
    """The backbone ``name`` (a wildtag backbone, else a timm model) with ``num_features`` set.

    Weights load from ``pretrained_path`` when given (a state dict, or a checkpoint holding one under
    ``state_dict``/``model``; ``.safetensors`` too); the first convolution is adapted when the file was
    trained with another number of input channels, and a classifier in the file is dropped.
    ``pretrained=True`` without a path is an error: wildtag never downloads weights.
    """
    if pretrained and pretrained_path is None:
        raise ValueError(
            f"pretrained=True for backbone {name!r} needs pretrained_path: wildtag never downloads weights. "
            "Download them once (e.g. timm.create_model(name, pretrained=True) on a connected machine, then "
            "torch.save(model.state_dict(), path)) and pass the local file as pretrained_path."
        )
    import timm  # here, not at the top: importing timm takes seconds that tiny_cnn users need not pay

    if name in BACKBONES:
        backbone = BACKBONES.create(name, in_chans=in_chans, **kwargs)
        weights_target, first_conv, classifier = backbone, getattr(backbone, "first_conv", None), None
    elif timm.is_model(name):
        model = timm.create_model(
            name, pretrained=False, num_classes=0, global_pool="", in_chans=in_chans, **kwargs
        )
        backbone = TimmBackbone(model)
        cfg = getattr(model, "pretrained_cfg", {}) or {}
        weights_target, first_conv, classifier = model, cfg.get("first_conv"), cfg.get("classifier")
    else:
        close = difflib.get_close_matches(name, timm.list_models(), n=3, cutoff=0.6)
        raise UnknownNameError("backbone (wildtag or timm)", name, BACKBONES.list() + close)
    if pretrained_path is not None:
        load_backbone_weights(
            weights_target, pretrained_path, in_chans, first_conv=first_conv, classifier=classifier
        )
    return backbone


def list_backbones(pattern: str = "*") -> list[str]:
    """wildtag's own backbones matching ``pattern`` (any timm model name works as well)."""
    return BACKBONES.list(pattern)


def _names(value: str | Sequence[str] | None) -> tuple[str, ...]:
    if value is None:
        return ()
    return (value,) if isinstance(value, str) else tuple(value)


def load_backbone_weights(
    model: nn.Module,
    path: str | Path,
    in_chans: int,
    *,
    first_conv: str | Sequence[str] | None = None,
    classifier: str | Sequence[str] | None = None,
) -> None:
    """Load the weights in the local file ``path`` into ``model``, adapting the first conv to ``in_chans``.

    Raises ``FileNotFoundError`` for a missing file and ``ValueError`` naming the file when its weights
    leave parameters of ``model`` unset or do not fit their shapes.
    """
    from timm.models import adapt_input_conv, load_state_dict

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"pretrained weights file not found: {path}")
    try:
        state = load_state_dict(str(path), weights_only=True)
    except Exception as error:  # torch and safetensors raise many types for unreadable files
        raise ValueError(
            f"{path}: cannot read pretrained weights ({type(error).__name__}: {error})"
        ) from error
    for conv in _names(first_conv):
        key = f"{conv}.weight"
        weight = state.get(key)
        if weight is not None and weight.ndim == 4 and weight.shape[1] != in_chans:
            state[key] = adapt_input_conv(in_chans, weight, base_chans=weight.shape[1])
    for head in _names(classifier):
        state.pop(f"{head}.weight", None)
        state.pop(f"{head}.bias", None)
    try:
        result = model.load_state_dict(state, strict=False)
    except RuntimeError as error:
        raise ValueError(f"{path}: weights do not fit the backbone: {error}") from error
    if result.missing_keys:
        missing = ", ".join(result.missing_keys[:5]) + (" ..." if len(result.missing_keys) > 5 else "")
        raise ValueError(
            f"{path}: weights do not fit the backbone; {len(result.missing_keys)} parameters are missing "
            f"from the file ({missing}). Is it the weights of another architecture?"
        )
    if result.unexpected_keys:
        extra = ", ".join(result.unexpected_keys[:5]) + (" ..." if len(result.unexpected_keys) > 5 else "")
        warnings.warn(
            f"{path}: ignored {len(result.unexpected_keys)} entries not in the backbone ({extra})",
            stacklevel=2,
        )
