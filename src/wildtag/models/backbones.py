"""Backbones: modules mapping spectrogram images (B, in_chans, F, T) to feature maps (B, C, F', T').

wildtag registers its own small networks in ``BACKBONES``; any other name is looked up in timm. Pretrained
weights of a timm model come the way timm users expect, through timm's own loading path:

- ``pretrained=True``: timm fetches its published weights into its cache (the Hugging Face hub cache, or
  ``TORCH_HOME`` for URL weights) on a connected machine, and reads them from that cache afterwards;
- ``pretrained_path=FILE``: a local ``.pth``/``.safetensors`` file, loaded by
  ``timm.create_model(name, pretrained=True, pretrained_cfg_overlay=dict(file=FILE), in_chans=...)``, which
  adapts the first convolution to ``in_chans`` and drops the classifier.

wildtag's own backbones are not timm models (timm has no pretrained config for them), so their local
files go through :func:`load_backbone_weights`. Every backbone records where its weights came from
(``pretrained_source``) and their licence (``pretrained_licence``, timm's ``pretrained_cfg["license"]``).

    >>> backbone = create_backbone("tiny_cnn", in_chans=2)
    >>> backbone(torch.zeros(1, 2, 64, 100)).shape, backbone.num_features
    (torch.Size([1, 128, 4, 6]), 128)
    >>> backbone = create_backbone("resnet18", in_chans=1, pretrained_path="weights/resnet18.safetensors")
"""

from __future__ import annotations

import pickle
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from wildtag.config import ConfigError
from wildtag.errors import WeightsFileError
from wildtag.registry import Registry, UnknownNameError
from wildtag.suggest import closest

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


@BACKBONES.register("identity")
class IdentityBackbone(nn.Module):
    """No backbone: the frontend's output is the feature map (embedding frontends give (B, D, 1, 1)).

    ``norm=True`` standardises each channel with BatchNorm statistics learnt in training (no affine
    part): what a linear probe on raw embeddings needs when their dimensions differ in scale.
    """

    def __init__(self, in_chans: int = 1, norm: bool = False):
        super().__init__()
        self.in_chans = self.num_features = int(in_chans)
        self.norm = nn.BatchNorm2d(self.in_chans, affine=False) if norm else None

    def forward(self, x: Tensor) -> Tensor:
        return x if self.norm is None else self.norm(x)


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
            raise ConfigError(
                f"timm model {type(self.model).__name__} returns features shaped {tuple(features.shape)}; "
                "wildtag needs a feature map (B, C, F, T): use a convolutional model"
            )
        return features.permute(0, 3, 1, 2) if self.channels_last else features


class PretrainedWeightsError(FileNotFoundError):
    """Pretrained weights that cannot be had here (offline, not cached); the message says how to pass a file."""


def create_backbone(
    name: str,
    in_chans: int,
    pretrained: bool = False,
    pretrained_path: str | Path | None = None,
    **kwargs: Any,
) -> nn.Module:
    """The backbone ``name`` (a wildtag backbone, else a timm model) with ``num_features`` set.

    ``pretrained=True`` gives a timm model timm's published weights (downloaded into timm's cache when
    not there yet); ``pretrained_path`` loads a local file instead (see the module docstring). The result
    carries ``pretrained_source`` (a hub id, URL or file; None for random weights) and
    ``pretrained_licence`` (None when unknown).
    """
    if name in BACKBONES:
        if pretrained and pretrained_path is None:
            raise PretrainedWeightsError(
                f"backbone {name!r} is wildtag's own and has no published weights: pass a local file as "
                "pretrained_path (e.g. a backbone from an earlier run), or use a timm model name"
            )
        backbone = BACKBONES.create(name, in_chans=in_chans, **kwargs)
        if pretrained_path is not None:
            # Not a timm model: timm has no pretrained_cfg (first conv, classifier) to load it by.
            load_backbone_weights(backbone, pretrained_path, in_chans, first_conv=getattr(backbone, "first_conv", None))
        return _with_provenance(backbone, None if pretrained_path is None else str(pretrained_path), None)
    import timm  # here, not at the top: importing timm takes seconds that tiny_cnn users need not pay

    if not timm.is_model(name):
        close = closest(name, timm.list_models(), n=3, cutoff=0.6)
        raise UnknownNameError("backbone (wildtag or timm)", name, BACKBONES.list() + close)
    if pretrained_path is not None:
        model = _timm_from_file(name, in_chans, Path(pretrained_path), kwargs)
        source = str(pretrained_path)
    elif pretrained:
        model = _timm_from_hub(name, in_chans, kwargs)
        source = pretrained_source(model.pretrained_cfg)
    else:
        model = timm.create_model(name, pretrained=False, num_classes=0, global_pool="", in_chans=in_chans, **kwargs)
        source = None
    licence = (model.pretrained_cfg or {}).get("license") if source is not None else None
    return _with_provenance(TimmBackbone(model), source, licence)


def _with_provenance(backbone: nn.Module, source: str | None, licence: str | None) -> nn.Module:
    backbone.pretrained_source, backbone.pretrained_licence = source, licence
    return backbone


def pretrained_source(cfg: dict[str, Any] | None) -> str | None:
    """Where timm takes a model's published weights from: ``hf-hub:ID``, a URL or a file."""
    cfg = cfg or {}
    if cfg.get("file"):
        return str(cfg["file"])
    if cfg.get("hf_hub_id"):
        return f"hf-hub:{cfg['hf_hub_id']}"
    return cfg.get("url") or None


def _timm_from_file(name: str, in_chans: int, path: Path, kwargs: dict[str, Any]) -> nn.Module:
    """timm's own file loading, then a check that the file held this architecture.

    timm drops the classifier and loads the rest with ``strict=False`` when ``num_classes=0``, so a file
    of another architecture would load silently; the keys are compared here to refuse it.
    """
    import timm
    from timm.models import load_state_dict

    if not path.is_file():
        raise FileNotFoundError(f"pretrained weights file not found: {path}")
    try:
        file_keys = set(load_state_dict(str(path), weights_only=True))
        model = timm.create_model(
            name, pretrained=True, pretrained_cfg_overlay=dict(file=str(path)),
            num_classes=0, global_pool="", in_chans=in_chans, **kwargs,
        )
    except (RuntimeError, OSError, ValueError, KeyError, pickle.UnpicklingError) as error:
        raise WeightsFileError(f"{path}: cannot load pretrained weights into {name} ({type(error).__name__}: "
                               f"{_first_line(error)})") from error
    missing = sorted(set(model.state_dict()) - file_keys)
    if missing:
        shown = ", ".join(missing[:5]) + (" ..." if len(missing) > 5 else "")
        raise WeightsFileError(
            f"{path}: weights do not fit the backbone {name}; {len(missing)} parameters are missing from the "
            f"file ({shown}). Is it the weights of another architecture?"
        )
    return model


def _first_line(error: BaseException) -> str:
    """The line of an error's message that says what is wrong (torch's load errors start with a title)."""
    lines = [line.strip() for line in str(error).strip().splitlines() if line.strip()]
    telling = [line for line in lines if not line.startswith("Error(s) in loading")]
    return (telling or lines or [""])[0]


def _timm_from_hub(name: str, in_chans: int, kwargs: dict[str, Any]) -> nn.Module:
    """timm's published weights, through timm's cache; offline without them cached: one clear error."""
    import timm

    cfg = timm.models.get_pretrained_cfg(name)
    if cfg is None or not pretrained_source(cfg.to_dict()):
        raise PretrainedWeightsError(f"timm publishes no pretrained weights for {name!r}; pass pretrained_path")
    cached = _cached_weights(cfg.to_dict())
    if cached is not None:  # read from timm's cache through timm's file path: no network round trip
        return timm.create_model(name, pretrained=True, pretrained_cfg_overlay=dict(file=str(cached)),
                                 num_classes=0, global_pool="", in_chans=in_chans, **kwargs)
    source = pretrained_source(cfg.to_dict())
    if not _reachable(cfg.to_dict()):
        raise PretrainedWeightsError(offline_message(name, source))
    try:
        return timm.create_model(name, pretrained=True, num_classes=0, global_pool="", in_chans=in_chans, **kwargs)
    except (OSError, RuntimeError) as error:  # huggingface_hub's and urllib's errors are OSErrors
        raise PretrainedWeightsError(f"{offline_message(name, source)} ({_first_line(error)})") from error


def weight_cache_dirs() -> dict[str, str]:
    """Where timm keeps downloaded weights: the Hugging Face hub cache and torch hub's checkpoints."""
    import torch.hub
    from huggingface_hub import constants

    return {"HF_HUB_CACHE": str(constants.HF_HUB_CACHE), "TORCH_HOME": str(Path(torch.hub.get_dir()) / "checkpoints")}


def offline_message(name: str, source: str | None) -> str:
    dirs = weight_cache_dirs()
    return (
        f"pretrained weights of {name} ({source}) are not in timm's cache (HF_HUB_CACHE={dirs['HF_HUB_CACHE']}, "
        f"torch hub: {dirs['TORCH_HOME']}) and cannot be downloaded here; run "
        f"timm.create_model({name!r}, pretrained=True) once on a connected machine and copy the cache, or "
        "pass a local file: backbone.pretrained_path=FILE.safetensors"
    )


def _cached_weights(cfg: dict[str, Any]) -> Path | None:
    """The weights file timm would download, when it is in the cache already."""
    if cfg.get("hf_hub_id"):
        from huggingface_hub import try_to_load_from_cache

        repo, _, revision = str(cfg["hf_hub_id"]).partition("@")
        names = [cfg["hf_hub_filename"]] if cfg.get("hf_hub_filename") else ["model.safetensors", "pytorch_model.bin"]
        for filename in names:
            found = try_to_load_from_cache(repo, filename, cache_dir=weight_cache_dirs()["HF_HUB_CACHE"],
                                           revision=revision or None)
            if isinstance(found, str):
                return Path(found)
    if cfg.get("url"):
        candidate = Path(weight_cache_dirs()["TORCH_HOME"]) / Path(str(cfg["url"])).name
        if candidate.is_file():
            return candidate
    return None


def _reachable(cfg: dict[str, Any]) -> bool:
    """Whether the weights' host resolves: offline, timm's retries would take a minute to fail."""
    import os
    import socket
    from urllib.parse import urlparse

    url = os.environ.get("HF_ENDPOINT", "https://huggingface.co") if cfg.get("hf_hub_id") else str(cfg.get("url"))
    host = urlparse(url).hostname
    if not host or os.environ.get("HF_HUB_OFFLINE", "0").lower() in ("1", "true", "yes"):
        return False
    try:
        socket.getaddrinfo(host, 443)
    except OSError:
        return False
    return True


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

    Raises ``FileNotFoundError`` for a missing file and :class:`~wildtag.errors.WeightsFileError` (one line
    naming the file) when it cannot be read or its weights leave parameters of ``model`` unset or do not fit.
    """
    from timm.models import adapt_input_conv, load_state_dict

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"pretrained weights file not found: {path}")
    try:
        state = load_state_dict(str(path), weights_only=True)
    except Exception as error:  # torch and safetensors raise many types for unreadable files
        raise WeightsFileError(
            f"{path}: cannot read pretrained weights ({type(error).__name__}: {_first_line(error)})"
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
        raise WeightsFileError(f"{path}: weights do not fit the backbone: {_first_line(error)}") from error
    if result.missing_keys:
        missing = ", ".join(result.missing_keys[:5]) + (" ..." if len(result.missing_keys) > 5 else "")
        raise WeightsFileError(
            f"{path}: weights do not fit the backbone; {len(result.missing_keys)} parameters are missing "
            f"from the file ({missing}). Is it the weights of another architecture?"
        )
    if result.unexpected_keys:
        extra = ", ".join(result.unexpected_keys[:5]) + (" ..." if len(result.unexpected_keys) > 5 else "")
        warnings.warn(
            f"{path}: ignored {len(result.unexpected_keys)} entries not in the backbone ({extra})",
            stacklevel=2,
        )
