"""One place that knows every registry, for ``wildtag list`` and the registry smoke tests."""

from __future__ import annotations

from wildtag.registry import Registry, UnknownNameError


def registries() -> dict[str, Registry]:
    """Every registry of swappable parts, by kind."""
    from wildtag.augment.mixing import MIXERS
    from wildtag.augment.spectrogram import SPEC_AUGMENTS
    from wildtag.augment.waveform import WAVEFORM_AUGMENTS
    from wildtag.data import SAMPLERS
    from wildtag.data.folds import FOLD_STRATEGIES
    from wildtag.features import FRONTENDS
    from wildtag.inference.aggregate import AGGREGATORS
    from wildtag.losses import LOSSES
    from wildtag.models import BACKBONES, HEADS

    return {
        "frontend": FRONTENDS,
        "backbone": BACKBONES,
        "head": HEADS,
        "loss": LOSSES,
        "sampler": SAMPLERS,
        "aggregator": AGGREGATORS,
        "waveform_augment": WAVEFORM_AUGMENTS,
        "spectrogram_augment": SPEC_AUGMENTS,
        "mixer": MIXERS,
        "fold_strategy": FOLD_STRATEGIES,
    }


def list_parts(kind: str, pattern: str = "*") -> list[str]:
    """Registered names of one kind matching ``pattern``; backbones add timm's model names."""
    all_registries = registries()
    if kind not in all_registries:
        raise UnknownNameError("kind of part", kind, list(all_registries))
    names = all_registries[kind].list(pattern)
    if kind == "backbone":
        import timm

        names += [n for n in timm.list_models(pattern) if n not in names]
    return names
