"""Check every registered part of a recipe before any data is read: names, and arguments against factories.

    >>> check_parts(cfg)          # raises ConfigError listing every problem, each with the closest valid name

Each ``{name: ..., **kwargs}`` part is looked up in its registry (:func:`wildtag.parts.registries`) and its
keyword arguments are matched against the factory's signature (``inspect.signature``), less the arguments
wildtag passes itself (a head's ``in_features``, a backbone's ``in_chans``). A timm backbone is built once
on the ``meta`` device (no memory, no weights), so timm itself says which arguments it takes. Parts whose
arguments fit are then built once (the cheap kinds; heads and wildtag's backbones on the ``meta`` device) so that their own
value checks (``gamma must be >= 0``) also fail here, as :class:`ConfigError` naming the key.
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from wildtag.config import ConfigError, Part
from wildtag.suggest import did_you_mean

if TYPE_CHECKING:
    from wildtag.config import ExperimentConfig

# Arguments wildtag fills in itself when it builds a part of each kind; a recipe may not set them.
SUPPLIED: dict[str, frozenset[str]] = {
    "sampler": frozenset({"clip_labels", "events", "recordings", "class_map", "window_s", "class_boxes_from",
                         "empty_recordings"}),
    "frontend": frozenset({"sample_rate"}),  # from audio.sample_rate (a recipe may repeat it, if equal)
    "head": frozenset({"in_features", "num_classes"}),
    "backbone": frozenset({"in_chans"}),
    "spectrogram_augment": frozenset({"generator"}),
}
# Read by wildtag's create_backbone, whatever the backbone.
BACKBONE_OWN = frozenset({"pretrained", "pretrained_path"})
# What timm's create_model and build_model_with_cfg accept beside the model class's own arguments.
TIMM_COMMON = frozenset({
    "pretrained_cfg", "pretrained_cfg_overlay", "checkpoint_path", "cache_dir", "scriptable", "exportable",
    "no_jit", "drop_rate", "drop_path_rate", "drop_block_rate", "features_only", "feature_cfg",
    "pretrained_strict", "out_indices", "output_stride",
})
TIMM_SET_BY_WILDTAG = frozenset({"num_classes", "global_pool", "in_chans"})


def check_parts(cfg: ExperimentConfig, origin: str = "config") -> None:
    """Raise :class:`ConfigError` naming every unknown part or argument in ``cfg`` (with the closest name)."""
    from wildtag.parts import registries

    regs = registries()
    problems: list[str] = []
    for key, kind, part in _parts(cfg):
        registry = regs[kind]
        if kind == "backbone":
            problems += _check_backbone(key, part, registry)
            continue
        if part.name not in registry:
            problems.append(f"{key}.name: unknown {kind} {part.name!r}{did_you_mean(part.name, registry.list())}; "
                            f"registered: {', '.join(registry.list())}")
            continue
        extra = frozenset({"sample_rate"}) if kind == "frontend" else frozenset()
        found = _check_kwargs(key, kind, part, registry.get(part.name), extra=extra)
        if not found and kind in BUILT:
            found = _try_build(key, kind, part, registry.get(part.name), cfg)
        elif not found and kind == "sampler":
            found = _try_sampler(key, part, registry.get(part.name), cfg)
        problems += found
        if kind == "frontend" and part.kwargs.get("sample_rate", cfg.audio.sample_rate) != cfg.audio.sample_rate:
            problems.append(f"{key}.sample_rate: {part.kwargs['sample_rate']} disagrees with audio.sample_rate "
                            f"{cfg.audio.sample_rate}; set audio.sample_rate only")
    if cfg.model.box_crop is not None:
        problems += _check_box_crop(cfg.model.box_crop)
    strategy = cfg.folds.strategy
    if strategy not in regs["fold_strategy"]:
        names = regs["fold_strategy"].list()
        problems.append(f"folds.strategy: unknown fold strategy {strategy!r}{did_you_mean(strategy, names)}; "
                        f"registered: {', '.join(names)}")
    if problems:
        raise ConfigError("\n".join(f"{origin}: {p}" for p in problems))


# Kinds cheap enough to build once at load time, and the arguments wildtag would pass them.
BUILT = frozenset({"frontend", "head", "loss", "mixer", "waveform_augment", "spectrogram_augment", "aggregator"})


def _try_build(key: str, kind: str, part: Part, factory: Callable[..., Any], cfg: ExperimentConfig | None) -> list[str]:
    """Build the part once so that its own argument checks run; their errors become problems."""
    import torch

    kwargs = dict(part.kwargs)
    if kind == "frontend" and cfg is not None:
        kwargs["sample_rate"] = cfg.audio.sample_rate
    elif kind == "head":
        kwargs.update(in_features=8, num_classes=2)  # any sizes: the head's own settings are what is checked
    elif kind == "backbone":
        kwargs["in_chans"] = 1
    try:
        with torch.device("meta" if kind in ("head", "backbone") else "cpu"):  # their weights need no memory
            factory(**kwargs)
    except (ValueError, TypeError) as error:
        return [f"{key}: {error}"]
    except Exception:  # noqa: BLE001 - not an argument problem: building it for real will say what is wrong
        return []
    return []


def _try_sampler(key: str, part: Part, factory: Callable[..., Any], cfg: ExperimentConfig) -> list[str]:
    """Build the sampler once over a stand-in data set (one recording, one box, one clip) so that its own
    value checks (``unknown``, ``min_overlap``, ``crop``, ...) run before any file is read."""
    from wildtag.audio import Recording, RecordingSet
    from wildtag.labels import ClassMap, LabelError, make_clip_labels, make_events

    events = make_events([dict(recording_id="r.wav", t0_s=1.0, t1_s=2.0, f0_hz=100.0, f1_hz=1000.0, label="x")])
    supplied = dict(
        clip_labels=make_clip_labels([dict(recording_id="r.wav", labels=["x"])]), events=events,
        recordings=RecordingSet([Recording("r.wav", "r.wav", cfg.audio.sample_rate, 1, 60.0)]),
        class_map=ClassMap(["x"]), window_s=cfg.audio.window_s, class_boxes_from=events,
    )
    accepted = accepted_arguments(factory)[0]
    try:
        factory(**{k: v for k, v in supplied.items() if k in accepted}, **part.kwargs)
    except LabelError:  # a column the stand-in lacks: the real labels will say
        return []
    except (ValueError, TypeError) as error:
        return [f"{key}: {error}"]
    except Exception:  # noqa: BLE001 - not an argument problem: building it for real will say what is wrong
        return []
    return []


def _check_box_crop(settings: dict[str, int]) -> list[str]:
    from wildtag.features import BoxCropResize

    part = Part(name="BoxCropResize", **settings)
    return _check_kwargs("model.box_crop", "box crop", part, BoxCropResize) or \
        _try_build("model.box_crop", "box crop", part, BoxCropResize, None)


def _parts(cfg: ExperimentConfig) -> Iterator[tuple[str, str, Part]]:
    """``(dotted key, kind, part)`` for every registered part the recipe names."""
    yield "sampler.train", "sampler", cfg.sampler.train
    yield "model.frontend", "frontend", cfg.model.frontend
    yield "model.backbone", "backbone", cfg.model.backbone
    yield "model.head", "head", cfg.model.head
    yield "loss", "loss", cfg.loss
    for i, part in enumerate(cfg.augment.waveform):
        yield f"augment.waveform[{i}]", "waveform_augment", part
    for i, part in enumerate(cfg.augment.spectrogram):
        yield f"augment.spectrogram[{i}]", "spectrogram_augment", part
    if cfg.augment.mixing is not None:
        yield "augment.mixing", "mixer", cfg.augment.mixing
    yield "inference.aggregate", "aggregator", cfg.inference.aggregate


def accepted_arguments(factory: Callable[..., Any]) -> tuple[set[str], set[str], bool]:
    """``(every keyword the factory takes, those without a default, whether it takes **kwargs)``."""
    init = getattr(factory, "__init__", None) if isinstance(factory, type) else None
    if init is not None and getattr(init, "__qualname__", "") in ("Module.__init__", "object.__init__"):
        return set(), set(), False  # a class without its own __init__ takes no arguments
    params = inspect.signature(factory).parameters.values()
    names = {p.name for p in params if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)}
    required = {p.name for p in params
                if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY) and p.default is p.empty}
    return names, required, any(p.kind is p.VAR_KEYWORD for p in params)


def _check_kwargs(key: str, kind: str, part: Part, factory: Callable[..., Any],
                  extra: frozenset[str] = frozenset()) -> list[str]:
    names, required, open_ended = accepted_arguments(factory)
    supplied = SUPPLIED.get(kind, frozenset())
    settable = (names - supplied) | extra
    problems = []
    for arg in part.kwargs:
        if arg in extra:
            continue
        if arg in supplied:
            problems.append(f"{key}.{arg}: set by wildtag for every {kind}; remove it from the recipe")
        elif arg not in settable and not open_ended:
            problems.append(f"{key}.{arg}: {kind} {part.name!r} takes no argument {arg!r}"
                            f"{did_you_mean(arg, settable)}; it takes: {', '.join(sorted(settable)) or 'none'}")
    for arg in sorted(required - supplied - set(part.kwargs)):
        problems.append(f"{key}.{arg}: {kind} {part.name!r} needs this argument")
    return problems


def _check_backbone(key: str, part: Part, registry: Any) -> list[str]:
    problems = []
    kwargs = part.kwargs
    path = kwargs.get("pretrained_path")
    if kwargs.get("pretrained") and path is None and part.name in registry:
        problems.append(f"{key}.pretrained: wildtag's own backbone {part.name!r} has no published weights; "
                        f"give {key}.pretrained_path or use a timm model")
    if path is not None and not Path(path).is_file():
        problems.append(f"{key}.pretrained_path: no such file {path} (relative paths are resolved against "
                        f"{Path.cwd()})")
    if part.name in registry:
        found = _check_kwargs(key, "backbone", part, registry.get(part.name), extra=BACKBONE_OWN)
        if not found:
            own = Part(name=part.name, **{k: v for k, v in kwargs.items() if k not in BACKBONE_OWN})
            found = _try_build(key, "backbone", own, registry.get(part.name), None)
        return problems + found
    import timm  # only for a timm backbone: importing timm takes seconds

    if not timm.is_model(part.name):
        close = registry.list() + timm.list_models(f"{part.name[:3]}*")
        return problems + [f"{key}.name: unknown backbone {part.name!r} (neither wildtag's nor timm's)"
                           f"{did_you_mean(part.name, close)}; see `wildtag list backbone`"]
    return problems + _check_timm_kwargs(key, part)


_UNEXPECTED = re.compile(r"(\w+)\.__init__\(\) got an unexpected keyword argument '(\w+)'")


def _check_timm_kwargs(key: str, part: Part) -> list[str]:
    """Build the timm model on the meta device with the recipe's arguments; report each one timm rejects."""
    import timm
    import torch

    problems = []
    for arg in sorted(TIMM_SET_BY_WILDTAG & set(part.kwargs)):
        problems.append(f"{key}.{arg}: set by wildtag for every timm backbone; remove it from the recipe")
    kwargs = {k: v for k, v in part.kwargs.items() if k not in BACKBONE_OWN | TIMM_SET_BY_WILDTAG}
    while True:
        try:
            with torch.device("meta"):
                timm.create_model(part.name, pretrained=False, num_classes=0, global_pool="", in_chans=1, **kwargs)
            return problems
        except TypeError as error:
            found = _UNEXPECTED.search(str(error))
            if not found or found.group(2) not in kwargs:
                return problems  # not an argument problem: building it for real will say what is wrong
            arg = found.group(2)
            valid = _timm_arguments(found.group(1)) | BACKBONE_OWN
            problems.append(f"{key}.{arg}: timm model {part.name!r} takes no argument {arg!r}"
                            f"{did_you_mean(arg, valid)}")
            kwargs.pop(arg)
        except ValueError as error:
            return problems + [f"{key}: timm model {part.name!r}: {error}"]
        except Exception:  # noqa: BLE001 - not an argument problem: building it for real will say what is wrong
            return problems


def _timm_arguments(class_name: str) -> set[str]:
    """Keyword arguments of the timm model class ``class_name`` plus timm's common ones."""
    import timm.models

    cls = getattr(timm.models, class_name, None)
    names = accepted_arguments(cls)[0] if isinstance(cls, type) else set()
    return (names | TIMM_COMMON) - TIMM_SET_BY_WILDTAG
