"""The Tagger: frontend + backbone + head as one ``nn.Module``, carrying its model card.

    wave (B, N) -> forward_frontend -> spec (B, C, F, T)      frontend [+ per-example box crop]
                -> forward_features -> feats (B, C', F', T')  [spec augment], Dropout2d, backbone
                -> forward_head     -> {"logits": (B, K), ["frame_logits": (B, T', K)]}

Spectrogram augmentation runs in training mode only.

The split lets training code mix batches between the spectrogram and the backbone. ``card``
(:class:`~wildtag.models.card.ModelCard`) records everything needed to rebuild the architecture, so a
checkpoint is self-describing:

    >>> model = create_tagger({"frontend": {"name": "logmel", "n_mels": 64},
    ...                        "backbone": {"name": "tiny_cnn"}, "head": {"name": "linear"}},
    ...                       num_classes=3, sample_rate=32000, window_s=5.0, class_names=["a", "b", "c"])
    >>> clone = Tagger.from_card(model.card)
    >>> clone.load_state_dict(model.state_dict())
"""

from __future__ import annotations

import copy
import inspect
from collections.abc import Mapping, Sequence
from typing import Any

from torch import Tensor, nn

from wildtag.features import FRONTENDS, BoxCropResize, Frontend, create_frontend
from wildtag.models.backbones import BACKBONES, create_backbone
from wildtag.models.card import InferenceDefaults, ModelCard, Provenance
from wildtag.models.heads import HEADS, create_head
from wildtag.registry import Registry
from wildtag.suggest import did_you_mean

MODEL_KEYS = ("frontend", "backbone", "head", "input_dropout", "box_crop")
DEFAULT_WINDOW_S = 5.0  # the card's window when a Tagger is built without one (outside training)


class Tagger(nn.Module):
    """A sound tagger: waveform batches in, class logits out (see the module docstring)."""

    def __init__(
        self,
        frontend: Frontend,
        backbone: nn.Module,
        head: nn.Module,
        *,
        box_crop: nn.Module | None = None,
        input_dropout: float = 0.0,
        spec_augment: nn.Module | None = None,
        card: ModelCard | None = None,
    ):
        super().__init__()
        if not 0.0 <= input_dropout < 1.0:
            raise ValueError(f"input_dropout must be in [0, 1), got {input_dropout!r}")
        self.frontend = frontend
        self.box_crop = box_crop
        self.spec_augment = spec_augment
        # Drops whole input channels per example (the RFCx 2021 winners' trick with a coordinate channel).
        self.input_dropout = nn.Dropout2d(input_dropout)
        self.backbone = backbone
        self.head = head
        self.card: ModelCard | None = card

    @property
    def sample_rate(self) -> int:
        return self.frontend.sample_rate

    @property
    def class_names(self) -> list[str] | None:
        return None if self.card is None else list(self.card.class_names)

    def forward_frontend(self, wave: Tensor, boxes: Tensor | None = None) -> Tensor:
        """Spectrogram images (B, C, F, T); cropped to ``boxes`` (B, 3) ``[f0_hz, f1_hz, valid_s]`` when the
        model has a box crop (without boxes, the whole spectrogram is resized to the crop size)."""
        spec = self.frontend(wave)
        if self.box_crop is None:
            if boxes is not None:
                raise ValueError(
                    "boxes were given but this Tagger has no box_crop; build it with box_crop={...}"
                )
            return spec
        if boxes is None:
            boxes = spec.new_full((spec.shape[0], 3), float("nan"))  # NaN: no limit, the whole image
        return self.box_crop(spec, boxes, self.frontend.freq_hz, self.frontend.frames_per_s)

    def forward_features(self, spec: Tensor) -> Tensor:
        """Feature maps of the backbone; spectrogram augmentation applies in training mode only."""
        if self.training and self.spec_augment is not None:
            spec = self.spec_augment(spec)
        return self.backbone(self.input_dropout(spec))

    def forward_head(self, features: Tensor) -> dict[str, Tensor]:
        """The head's outputs: ``"logits"`` (B, K), and ``"frame_logits"`` (B, T', K) for SED heads."""
        return self.head(features)

    def forward(self, wave: Tensor, boxes: Tensor | None = None) -> dict[str, Tensor]:
        return self.forward_head(self.forward_features(self.forward_frontend(wave, boxes)))

    @classmethod
    def from_card(cls, card: ModelCard) -> Tagger:
        """A Tagger with the architecture of ``card``, randomly initialised (load a state dict)."""
        model_cfg = {"frontend": copy.deepcopy(card.frontend), "head": copy.deepcopy(card.head),
                     "backbone": {**copy.deepcopy(card.backbone), "pretrained": False, "pretrained_path": None},
                     "input_dropout": card.input_dropout, "box_crop": copy.deepcopy(card.box_crop)}
        model = create_tagger(model_cfg, num_classes=card.num_classes, sample_rate=card.sample_rate,
                              window_s=card.window_s, class_names=card.class_names)
        model.card = card
        return model


def _plain(value: Any) -> Any:
    """Mappings -> dicts and tuples -> lists, recursively: a config that round-trips through JSON/YAML."""
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def _unknown(names: Sequence[str], known: Sequence[str]) -> str:
    """``'x' (did you mean 'y'?), 'z'`` for the names not in ``known``; empty when all are known."""
    told = []
    for name in names:
        if name not in known:
            told.append(f"{name!r}{did_you_mean(name, known)}")
    return ", ".join(told)


def _part(model_cfg: Mapping[str, Any], key: str, registry: Registry) -> tuple[str, dict[str, Any]]:
    """The name and settings of one part, the settings checked against its factory's parameters."""
    part = model_cfg.get(key)
    if not isinstance(part, Mapping) or not isinstance(part.get("name"), str):
        raise ValueError(f"model config key {key!r} must be a mapping with a 'name', got {part!r}")
    kwargs = dict(part)
    name = kwargs.pop("name")
    if name in registry:  # timm backbones take free-form settings: timm checks those
        params = inspect.signature(registry.get(name)).parameters
        if not any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values()):
            known = [p for p in params if p not in ("self", "in_chans", "in_features", "num_classes")]
            bad = _unknown([k for k in kwargs if k not in ("pretrained", "pretrained_path")], known)
            if bad:
                raise ValueError(
                    f"model config {key} {name!r}: unknown setting {bad}; settings: {', '.join(known)}"
                )
    return name, kwargs


def _box_crop(box_cfg: Any) -> BoxCropResize | None:
    if box_cfg is None:
        return None
    if not isinstance(box_cfg, Mapping):
        raise ValueError(
            f"model config key 'box_crop' must be null or {{out_bins, out_frames}}, got {box_cfg!r}"
        )
    bad = _unknown(list(box_cfg), ["out_bins", "out_frames"])
    if bad:
        raise ValueError(f"model config box_crop: unknown setting {bad}; settings: out_bins, out_frames")
    return BoxCropResize(**box_cfg)


def pretrained_provenance(frontend: nn.Module, backbone: nn.Module,
                          pretrained_path: Any = None) -> dict[str, str | None]:
    """``pretrained`` (where pretrained weights came from) and ``licence`` of an embedding frontend and a
    pretrained backbone, joined with "; " when both have one."""
    sources = [getattr(frontend, "pretrained_source", None),
               getattr(backbone, "pretrained_source", None) or (str(pretrained_path) if pretrained_path else None)]
    licences = [getattr(frontend, "licence", None), getattr(backbone, "pretrained_licence", None)]
    return {"pretrained": "; ".join(s for s in sources if s) or None,
            "licence": "; ".join(dict.fromkeys(x for x in licences if x)) or None}


def create_tagger(
    model_cfg: Mapping[str, Any],
    num_classes: int,
    sample_rate: int,
    *,
    window_s: float | None = None,
    class_names: Sequence[str] | None = None,
) -> Tagger:
    """Build a :class:`Tagger` from a model config.

    ``model_cfg`` = ``{"frontend": {"name": "logmel", **kw}, "backbone": {"name": "tiny_cnn",
    "pretrained_path": None, **kw}, "head": {"name": "linear", **kw}, "input_dropout": 0.0,
    "box_crop": None | {"out_bins": .., "out_frames": ..}}``. The backbone's ``in_chans`` follows the
    frontend's ``out_channels`` and the head's ``in_features`` the backbone's ``num_features``.
    """
    model_cfg = _plain(model_cfg)
    unknown = _unknown(list(model_cfg), MODEL_KEYS)
    if unknown:
        raise ValueError(f"unknown model config key {unknown}; known keys: {', '.join(MODEL_KEYS)}")
    if num_classes < 1:
        raise ValueError(f"num_classes must be >= 1, got {num_classes!r}")
    if class_names is not None and len(class_names) != num_classes:
        raise ValueError(f"{len(class_names)} class names given for num_classes={num_classes}")

    frontend_name, frontend_kw = _part(model_cfg, "frontend", FRONTENDS)
    if frontend_kw.pop("sample_rate", sample_rate) != sample_rate:
        raise ValueError(
            f"frontend sample_rate {model_cfg['frontend']['sample_rate']} "
            f"disagrees with sample_rate={sample_rate}"
        )
    frontend = create_frontend(frontend_name, sample_rate=sample_rate, **frontend_kw)

    backbone_name, backbone_kw = _part(model_cfg, "backbone", BACKBONES)
    pretrained = bool(backbone_kw.pop("pretrained", False))
    pretrained_path = backbone_kw.pop("pretrained_path", None)
    backbone = create_backbone(
        backbone_name,
        frontend.out_channels,
        pretrained=pretrained,
        pretrained_path=pretrained_path,
        **backbone_kw,
    )
    head_name, head_kw = _part(model_cfg, "head", HEADS)
    head = create_head(head_name, in_features=backbone.num_features, num_classes=num_classes, **head_kw)

    box_crop = _box_crop(model_cfg.get("box_crop"))
    input_dropout = float(model_cfg.get("input_dropout", 0.0))

    window_s = DEFAULT_WINDOW_S if window_s is None else float(window_s)
    card = ModelCard(
        sample_rate=int(sample_rate),
        window_s=window_s,
        class_names=tuple(class_names) if class_names is not None else tuple(f"class_{k}" for k in range(num_classes)),
        frontend={"name": frontend_name, **frontend_kw},
        backbone={"name": backbone_name, **backbone_kw},
        head={"name": head_name, **head_kw},
        inference=InferenceDefaults(window_s=window_s, hop_s=window_s, aggregate={"name": "max"}),
        provenance=Provenance.now(**pretrained_provenance(frontend, backbone, pretrained_path)),
        input_dropout=input_dropout,
        box_crop=model_cfg.get("box_crop"),
    )
    return Tagger(
        frontend, backbone, head, box_crop=box_crop, input_dropout=input_dropout, card=card
    )
