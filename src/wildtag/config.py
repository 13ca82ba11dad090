"""The experiment schema: one pydantic model for a whole run; recipes are YAML instances of it.

    >>> cfg = load_config("insectset32", overrides=["trainer.epochs=3"])  # a packaged recipe, or a path
    >>> cfg.trainer.epochs
    3

Unknown keys are rejected with the closest valid key, and every registered part's arguments are checked
(:mod:`wildtag.checks`) before any data is read; relative data paths are resolved against the current
working directory, as a shell user expects.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from wildtag.suggest import closest, did_you_mean


class ConfigError(ValueError):
    """A recipe or override that does not fit the schema; the message names the key and the fix."""


class Part(BaseModel):
    """A named, registered part plus the keyword arguments for its factory: ``{name: logmel, n_mels: 128}``."""

    model_config = ConfigDict(extra="allow")
    name: str

    @property
    def kwargs(self) -> dict[str, Any]:
        return dict(self.model_extra or {})

    def spec(self) -> dict[str, Any]:
        return {"name": self.name, **self.kwargs}


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    @model_validator(mode="before")
    @classmethod
    def _default_part_names(cls, values: Any) -> Any:
        # `--set model.head.dropout=0.5` on a recipe without a head section keeps the default head's name.
        if not isinstance(values, dict):
            return values
        filled = dict(values)
        for key, field in cls.model_fields.items():
            default = field.default
            if isinstance(default, Part) and isinstance(filled.get(key), dict) and "name" not in filled[key]:
                filled[key] = {"name": default.name, **filled[key]}
        return filled


class DataConfig(_Strict):
    """Where the labels and recordings are, and how to read them."""

    labels: list[Path] = Field(..., description="label file(s), or a folder for format=folders / raven")
    format: Literal["auto", "clip_csv", "table", "raven", "rfcx", "folders"] = "auto"
    fp_labels: Path | None = None  # RFCx train_fp.csv beside train_tp.csv
    audio_root: Path | None = None  # recording ids are audio paths relative to this folder (README: Label formats)
    # The classes, in model output order: a list, or a file with one name per line. A label outside it is
    # an error naming the closest class; without it the classes are the labels seen, sorted.
    classes: list[str] | Path | None = None
    file_column: str | None = None
    label_column: str | None = None
    secondary_column: str | None = None
    split_column: str | None = None  # use a published split instead of k-fold
    train_split: str = "train"
    valid_split: str = "validation"
    cache_dir: Path | None = None  # decode cache; default: <runs root>/.cache

    @model_validator(mode="before")
    @classmethod
    def _labels_as_list(cls, values: Any) -> Any:
        if isinstance(values, dict) and isinstance(values.get("labels"), (str, Path)):
            values = {**values, "labels": [values["labels"]]}
        return values


class AudioConfig(_Strict):
    sample_rate: int = Field(32000, gt=0)
    window_s: float = Field(5.0, gt=0)


class SamplerConfig(_Strict):
    """Training windows; ``train.name`` is a registered sampler.

    Validation windows are not a sampler: clips are scored as predict scores them (``inference.window_s``
    and ``hop_s``), boxes with one fixed draw of the training sampler.
    """

    train: Part = Part(name="random_window")


class ModelConfig(_Strict):
    frontend: Part = Part(name="logmel")
    backbone: Part = Part(name="tiny_cnn")
    head: Part = Part(name="linear")
    input_dropout: float = Field(0.0, ge=0, lt=1)
    box_crop: dict[str, int] | None = None  # {"out_bins": 128, "out_frames": 256} for per-class box crops
    init_from: Path | None = None  # fine-tune: start from this run dir / checkpoint (wildtag.training.transfer)
    freeze_backbone_epochs: int = Field(0, ge=0)  # train only the head for the first N epochs


class AugmentConfig(_Strict):
    """Augmentation and mixing, each a list of registered parts (see ``wildtag list``)."""

    waveform: list[Part] = []  # on CPU workers, after cropping
    waveform_off_epoch: int | None = Field(None, ge=0)  # FAT2019: switch waveform augmentation off from this epoch
    spectrogram: list[Part] = []  # batched on the device, training only
    mixing: Part | None = None  # mixup | or_mixup | mixover


class OptimizerConfig(_Strict):
    name: Literal["adamw", "adam", "sgd"] = "adamw"
    lr: float = Field(1e-3, gt=0)
    weight_decay: float = Field(1e-2, ge=0)


class ScheduleConfig(_Strict):
    name: Literal["cosine", "onecycle", "constant"] = "cosine"
    warmup_epochs: float = Field(1.0, ge=0)  # cosine: linear warm-up, then cosine to min_lr_ratio * lr
    min_lr_ratio: float = Field(0.01, ge=0, le=1)
    pct_start: float = Field(0.25, gt=0, lt=1)  # onecycle
    div_factor: float = Field(10.0, gt=0)  # onecycle: start lr = lr / div_factor
    final_div_factor: float = Field(10.0, gt=0)


class TrainerConfig(_Strict):
    epochs: int = Field(10, gt=0)
    batch_size: int = Field(32, gt=0)
    num_workers: int = Field(1, ge=0)
    precision: Literal["auto", "32", "bf16-mixed", "16-mixed"] = "auto"  # auto: bf16 AMP on CUDA, fp32 on CPU
    accelerator: Literal["auto", "cpu", "gpu"] = "auto"
    gradient_clip_val: float | None = Field(None, gt=0)
    accumulate_grad_batches: int = Field(1, gt=0)
    monitor: str = "valid/loss"  # metric that picks the best checkpoint
    monitor_mode: Literal["min", "max"] = "min"  # "max" for valid/lwlrap, valid/accuracy, valid/map_macro
    threads: int | None = Field(None, gt=0)  # torch intra-op threads; default: all cores minus data workers
    devices: int = Field(1, gt=0)  # processes (CPU, gloo) or GPUs training one fold together
    strategy: Literal["auto", "ddp"] = "auto"  # ddp: Lightning DDP with spawned workers (devices > 1)


class FoldConfig(_Strict):
    n_folds: int = Field(5, ge=2)
    strategy: Literal["random", "stratified", "multilabel", "group", "geo_time_block", "predefined"] = "stratified"
    group_column: str | None = None
    # predefined: fold k holds out exactly the rows whose `column` is k (a published fold column, numbers
    # kept as given: ESC-50's 1..5 give folds 1..5); n_folds is not used
    column: str | None = None
    # geo_time_block (BirdCLEF 2021): groups = latitude/longitude grid cell x quarter of the year
    lat_column: str = "latitude"
    lon_column: str = "longitude"
    date_column: str = "date"
    cell_deg: float = Field(10.0, gt=0)
    run: list[int] | None = None  # which folds to train; default all


class TileConfig(_Strict):
    """Score tiles of several widths inside each window: max per width, mean across widths (dl_pipeline)."""

    widths_frames: list[int] = Field(..., min_length=1)
    half_shift: bool = False  # a second pass of tiles shifted by half a tile


class InferenceConfig(_Strict):
    window_s: float | None = Field(None, gt=0)  # scored span per window; zero-padded to audio.window_s (BirdCLEF 5->7 s)
    hop_s: float | None = Field(None, gt=0)  # default: the scored window (no overlap)
    tiles: TileConfig | None = None
    aggregate: Part = Part(name="max")


class ExperimentConfig(_Strict):
    """A whole experiment. ``wildtag train`` takes one as YAML and saves it, resolved, in the run directory."""

    name: str = "experiment"
    seed: int = 0
    data: DataConfig
    audio: AudioConfig = AudioConfig()
    sampler: SamplerConfig = SamplerConfig()
    model: ModelConfig = ModelConfig()
    augment: AugmentConfig = AugmentConfig()
    loss: Part = Part(name="bce")
    optimizer: OptimizerConfig = OptimizerConfig()
    schedule: ScheduleConfig = ScheduleConfig()
    trainer: TrainerConfig = TrainerConfig()
    folds: FoldConfig = FoldConfig()
    inference: InferenceConfig = InferenceConfig()

    def to_yaml(self) -> str:
        return yaml.safe_dump(self.model_dump(mode="json"), sort_keys=False)


# Keys that once existed but did nothing; a recipe that sets them is told so. A value equal to the old
# default is what an older run's resolved config.yaml holds, and is dropped quietly.
REMOVED_KEYS: dict[str, tuple[Any, str]] = {
    "sampler.valid": ({"name": "full_clip"}, "validation windows follow inference.window_s / inference.hop_s "
                      "(clips) or the training sampler (boxes)"),
    "inference.batch_size": (64, "set the batch size when predicting: wildtag predict --batch-size N"),
}


def _drop_removed_keys(tree: dict[str, Any], origin: str) -> dict[str, Any]:
    problems = []
    for dotted, (old_default, instead) in REMOVED_KEYS.items():
        section, leaf = dotted.rsplit(".", 1)
        node = tree.get(section)
        if isinstance(node, dict) and leaf in node:
            if node[leaf] == old_default:
                tree[section] = {k: v for k, v in node.items() if k != leaf}
            else:
                problems.append(f"{origin}: {dotted}: this key was removed (it was ignored); {instead}")
    if problems:
        raise ConfigError("\n".join(problems))
    return tree


def _set_dotted(tree: dict[str, Any], dotted_key: str, value: Any) -> None:
    node = tree
    *parents, leaf = dotted_key.split(".")
    for key in parents:
        child = node.setdefault(key, {})
        if not isinstance(child, dict):
            raise ConfigError(f"--set {dotted_key}: {key!r} is a value, not a section")
        node = child
    node[leaf] = value


def apply_overrides(tree: dict[str, Any], overrides: list[str]) -> dict[str, Any]:
    """Apply ``key.sub=value`` strings (values parsed as YAML) to a config tree, returning the tree."""
    for item in overrides:
        key, sep, raw = item.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"--set {item!r}: expected key=value, e.g. trainer.epochs=5")
        _set_dotted(tree, key.strip(), yaml.safe_load(raw))
    return tree


def _explain(error: ValidationError, origin: str) -> ConfigError:
    lines = []
    for problem in error.errors():
        loc = ".".join(str(p) for p in problem["loc"])
        message = problem["msg"]
        if problem["type"] == "extra_forbidden":
            message = "unknown key" + _suggest(problem["loc"])
        elif problem["type"] == "literal_error":
            choices = re.findall(r"'([^']*)'", str(problem.get("ctx", {}).get("expected", "")))
            message += did_you_mean(str(problem.get("input")), choices, cutoff=0.5)
        lines.append(f"{origin}: {loc}: {message}")
    return ConfigError("\n".join(lines))


def _suggest(loc: tuple[Any, ...]) -> str:
    model: type[BaseModel] = ExperimentConfig
    for key in loc[:-1]:
        field = model.model_fields.get(str(key))
        annotation = getattr(field, "annotation", None)
        if not (isinstance(annotation, type) and issubclass(annotation, BaseModel)):
            return ""
        model = annotation
    close = closest(str(loc[-1]), list(model.model_fields), n=1, cutoff=0.5)
    return f"; did you mean {close[0]!r}?" if close else f"; valid keys: {', '.join(model.model_fields)}"


def config_from_dict(tree: dict[str, Any], origin: str = "config", *, check: bool = True) -> ExperimentConfig:
    """Validate a config tree, turning pydantic's errors into one readable :class:`ConfigError`.

    With ``check`` (the default) every registered part and its arguments are checked as well
    (:func:`wildtag.checks.check_parts`), so a misspelt argument fails here, not after data preparation.
    """
    try:
        cfg = ExperimentConfig.model_validate(_drop_removed_keys(dict(tree), origin))
    except ValidationError as error:
        raise _explain(error, origin) from None
    if check:
        from wildtag.checks import check_parts

        check_parts(cfg, origin)
    return cfg


def load_config(recipe: str | Path, overrides: list[str] | None = None, *, check: bool = True) -> ExperimentConfig:
    """Read a YAML recipe (a file, or the name of a packaged recipe: ``wildtag recipes``), apply ``--set``
    overrides, validate. A path that exists wins over a packaged recipe of the same name."""
    from wildtag.recipebook import find_recipe

    try:
        path = find_recipe(recipe)
        tree = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except FileNotFoundError as error:
        raise ConfigError(str(error)) from None
    except yaml.YAMLError as error:
        raise ConfigError(f"{path}: not valid YAML: {error}") from None
    if not isinstance(tree, dict):
        raise ConfigError(f"{path}: a recipe is a mapping of sections (data, model, trainer, ...)")
    return config_from_dict(apply_overrides(tree, overrides or []), origin=str(path), check=check)
