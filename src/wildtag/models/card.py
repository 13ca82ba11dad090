"""The model card: one frozen, typed record of what a trained model is and how it is run.

Built once in training (:func:`wildtag.training.fit.build_module`), carried by the model
(:attr:`wildtag.models.Tagger.card`), stored as plain JSON inside every checkpoint and beside it as
``model.json``, and read by everything that loads a model (in the spirit of timm's ``PretrainedCfg``).

    >>> card = ModelCard.load("runs/demo/model.json")
    >>> card.class_names, card.inference.hop_s, card.provenance.commit
    >>> ModelCard.from_json(card.to_json()) == card
    True

The JSON form holds a ``schema`` version; :meth:`ModelCard.from_dict` refuses keys it does not know, so
a card written by a newer wildtag fails with a clear message instead of being half read.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from wildtag.errors import ModelLoadError
from wildtag.models.activation import ACTIVATIONS

SCHEMA_VERSION = 1


def _plain(value: Any) -> Any:
    """Mappings -> dicts (string keys), tuples -> lists, recursively: what JSON holds without loss."""
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, Path):
        return str(value)
    return value


def _checked(cls: type, data: Mapping[str, Any], where: str) -> dict[str, Any]:
    """``data`` as keyword arguments of dataclass ``cls``; unknown or missing keys are a ModelLoadError."""
    if not isinstance(data, Mapping):
        raise ModelLoadError(f"model card: {where} must be a mapping, got {type(data).__name__}")
    fields = {f.name: f for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - set(fields))
    if unknown:
        raise ModelLoadError(f"model card: unknown key(s) {', '.join(map(repr, unknown))} in {where}; "
                             f"known: {', '.join(fields)}")
    required = [name for name, f in fields.items()
                if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING]
    missing = [name for name in required if name not in data]
    if missing:
        raise ModelLoadError(f"model card: {where} lacks {', '.join(map(repr, missing))}")
    return dict(data)


@dataclass(frozen=True)
class InferenceDefaults:
    """What predict uses unless the user overrides it."""

    window_s: float  # scored span per window (zero-padded up to ModelCard.window_s)
    hop_s: float
    aggregate: dict  # {"name": "max", **kwargs}
    tiles: dict | None = None  # {"widths_frames": [...], "half_shift": bool}
    class_boxes: dict | None = None  # {class: [f0_hz, f1_hz, duration_s]} for per-class box-crop models
    detections: dict | None = None  # detection defaults, meaning owned by the archive runner

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> InferenceDefaults:
        kw = _checked(cls, data, "inference")
        return cls(**{**kw, "window_s": float(kw["window_s"]), "hop_s": float(kw["hop_s"])})


@dataclass(frozen=True)
class Provenance:
    """Where a model came from: the code, the recipe, the data and any pretrained weights."""

    wildtag_version: str
    created: str  # ISO-8601 UTC
    commit: str | None = None
    recipe: str | None = None
    data_fingerprint: str | None = None
    licence: str | None = None  # licence of pretrained weights / embedding model
    pretrained: str | None = None  # where pretrained weights came from (timm name, file, run)

    @classmethod
    def now(cls, **kwargs: Any) -> Provenance:
        """A provenance stamped with this wildtag's version and the current UTC time."""
        import wildtag

        created = datetime.now(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")
        return cls(wildtag_version=wildtag.__version__, created=created, **kwargs)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Provenance:
        return cls(**_checked(cls, data, "provenance"))


@dataclass(frozen=True)
class ModelCard:
    """Everything needed to rebuild a trained model's architecture and run it as it was trained."""

    sample_rate: int
    window_s: float
    class_names: tuple[str, ...]
    frontend: dict  # {"name": ..., **kwargs}
    backbone: dict
    head: dict
    inference: InferenceDefaults
    provenance: Provenance
    activation: str = "sigmoid"  # "sigmoid" | "softmax", declared by the loss
    input_dropout: float = 0.0
    box_crop: dict | None = None
    schema: int = field(default=SCHEMA_VERSION, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "class_names", tuple(str(c) for c in self.class_names))
        for name in ("frontend", "backbone", "head"):
            spec = getattr(self, name)
            if not isinstance(spec, Mapping) or not isinstance(spec.get("name"), str):
                raise ModelLoadError(f"model card: {name} must be a mapping with a 'name', got {spec!r}")
            object.__setattr__(self, name, _plain(spec))
        if self.activation not in ACTIVATIONS:
            raise ModelLoadError(f"model card: activation must be one of {ACTIVATIONS}, got {self.activation!r}")
        if not self.class_names:
            raise ModelLoadError("model card: class_names is empty")
        if self.schema != SCHEMA_VERSION:
            raise ModelLoadError(f"model card: schema version {self.schema} is not {SCHEMA_VERSION}, the one "
                                 f"this wildtag reads; use the wildtag version that wrote it")

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able data (dicts, lists, str, numbers, None): safe inside a ``weights_only`` checkpoint."""
        return _plain(dataclasses.asdict(self))

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ModelCard:
        """The card of :meth:`to_dict`; unknown keys (at any level) are refused with a ModelLoadError."""
        kw = _checked(cls, data, "the card")
        kw["inference"] = InferenceDefaults.from_dict(kw["inference"])
        kw["provenance"] = Provenance.from_dict(kw["provenance"])
        kw["sample_rate"], kw["window_s"] = int(kw["sample_rate"]), float(kw["window_s"])
        return cls(**kw)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, sort_keys=True) + "\n"

    @classmethod
    def from_json(cls, text: str) -> ModelCard:
        return cls.from_dict(json.loads(text))

    def save(self, path: str | Path) -> Path:
        """Write the card as JSON (atomically)."""
        from wildtag.fileio import write_text_atomic

        path = Path(path)
        write_text_atomic(path, self.to_json())
        return path

    @classmethod
    def load(cls, path: str | Path) -> ModelCard:
        """Read a ``model.json``; a damaged or foreign file is a ModelLoadError naming it."""
        path = Path(path)
        try:
            return cls.from_json(path.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as error:
            raise ModelLoadError(f"{path}: not a readable model card ({error})") from None
        except ModelLoadError as error:
            raise ModelLoadError(f"{path}: {error}") from None

    def fingerprint(self) -> str:
        """sha256 hex of the canonical JSON (sorted keys, no whitespace): equal cards, equal fingerprints."""
        canonical = json.dumps(self.to_dict(), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(canonical.encode("utf-8")).hexdigest()

    def replace(self, **changes: Any) -> ModelCard:
        """A copy with ``changes`` (the card itself is frozen)."""
        return dataclasses.replace(self, **changes)


def card_differences(a: ModelCard, b: ModelCard, ignore: tuple[str, ...] = ()) -> list[str]:
    """Dotted names of the fields (``inference.hop_s``, ``frontend.n_mels``) in which two cards differ,
    sorted, leaving out those in ``ignore``. A field one card lacks differs too.

        >>> card_differences(card, card.replace(activation="softmax"))
        ['activation']
    """
    flat_a, flat_b = card_fields(a), card_fields(b)
    return sorted(k for k in set(flat_a) | set(flat_b)
                  if k not in ignore and flat_a.get(k, _ABSENT) != flat_b.get(k, _ABSENT))


_ABSENT = object()


def card_fields(card: ModelCard) -> dict[str, Any]:
    """The card as ``{dotted field name: value}`` (``"inference.hop_s": 2.5``), lists kept whole."""
    return _flatten(card.to_dict())


def _flatten(data: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """``{"a": {"b": 1}}`` -> ``{"a.b": 1}``; lists and other values stay whole."""
    flat: dict[str, Any] = {}
    for key, value in data.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping) and value:
            flat.update(_flatten(value, f"{name}."))
        else:
            flat[name] = value
    return flat


def data_fingerprint(recording_ids: list[str], label_table_csv: str) -> str:
    """sha256 hex over the sorted recording ids and the label table's content: the data a model saw."""
    digest = hashlib.sha256()
    for rid in sorted(recording_ids):
        digest.update(rid.encode("utf-8") + b"\n")
    digest.update(b"\0")
    digest.update(label_table_csv.encode("utf-8"))
    return digest.hexdigest()
