"""``wildtag train``: the fold loop. Each fold trains with Lightning, keeps its best and last checkpoints,
scores its held-out recordings (out-of-fold predictions) and records its metrics; a run directory that
was interrupted resumes from each fold's last checkpoint and skips folds already finished.
"""

from __future__ import annotations

import dataclasses
import json
import logging
from pathlib import Path
from typing import Any

import lightning as L
import numpy as np
import pandas as pd
import torch
from lightning.pytorch.callbacks import ModelCheckpoint, RichProgressBar, TQDMProgressBar
from lightning.pytorch.loggers import CSVLogger

from wildtag.augment.mixing import create_mixer
from wildtag.augment.spectrogram import SpecAugmentPipeline
from wildtag.config import ConfigError, ExperimentConfig, load_config
from wildtag.data import assign_folds
from wildtag.embeddings.probe import EmbeddingDataModule, is_probe, name_embedding_model
from wildtag.fileio import write_parquet_atomic, write_text_atomic
from wildtag.inference.aggregate import create_aggregator
from wildtag.inference.loading import read_checkpoint
from wildtag.losses import create_loss, loss_activation
from wildtag.metrics import evaluate
from wildtag.models import create_tagger
from wildtag.models.card import InferenceDefaults, ModelCard, Provenance, data_fingerprint
from wildtag.runtime import configure_threads
from wildtag.training.datamodule import FoldDataModule, fold_seed
from wildtag.training.fold_file import write_folds
from wildtag.training.module import TaggerModule
from wildtag.training.prepare import LabelledData, prepare_data
from wildtag.training.run_dir import (
    git_commit,
    new_run_dir,
    remove_failed_run_dir,
    write_provenance,
)
from wildtag.training.transfer import FreezeBackbone, init_from

log = logging.getLogger(__name__)


def set_threads(cfg: ExperimentConfig) -> int:
    """Torch threads for training: the cores the data workers leave free (or ``trainer.threads``)."""
    return configure_threads(cfg.trainer.num_workers, cfg.trainer.threads)


def split_folds(cfg: ExperimentConfig, data: LabelledData) -> dict[int, tuple[pd.DataFrame, pd.DataFrame]]:
    """(train rows, valid rows) by fold number: the published split if the recipe names one (fold 0), the
    given fold column (``predefined``: its numbers), else k folds 0..k-1."""
    table = data.table
    if cfg.data.split_column:
        column = cfg.data.split_column
        if column not in table.columns:
            raise ConfigError(f"data.split_column={column!r} is not a column of the labels: {list(table.columns)}")
        train = table[table[column].astype(str) == cfg.data.train_split]
        valid = table[table[column].astype(str) == cfg.data.valid_split]
        if train.empty or valid.empty:
            raise ConfigError(
                f"split column {column!r} has {len(train)} rows {cfg.data.train_split!r} and "
                f"{len(valid)} rows {cfg.data.valid_split!r}; both must be non-empty"
            )
        return {0: (train.reset_index(drop=True), valid.reset_index(drop=True))}
    folds = cfg.folds
    if folds.strategy == "predefined":  # one fold per value of the column; a recording sits in one
        fold_ids = assign_folds(table, folds.n_folds, strategy="predefined", column=folds.column,
                                group_column="recording_id")
        return {int(k): (table[fold_ids != k].reset_index(drop=True), table[fold_ids == k].reset_index(drop=True))
                for k in np.unique(fold_ids)}
    if data.kind == "events":
        fold_of = recording_folds(cfg, data)
        fold_ids = table["recording_id"].map(fold_of).to_numpy()
    else:
        fold_ids = assign_folds(table, folds.n_folds, strategy=folds.strategy, group_column=folds.group_column,
                                class_map=data.class_map, seed=cfg.seed, **_strategy_kwargs(cfg))
    return {
        k: (table[fold_ids != k].reset_index(drop=True), table[fold_ids == k].reset_index(drop=True))
        for k in range(folds.n_folds)
    }


def _strategy_kwargs(cfg: ExperimentConfig) -> dict[str, Any]:
    folds = cfg.folds
    if folds.strategy != "geo_time_block":
        return {}
    return dict(lat_column=folds.lat_column, lon_column=folds.lon_column, date_column=folds.date_column,
                cell_deg=folds.cell_deg)


def recording_folds(cfg: ExperimentConfig, data: LabelledData) -> dict[str, int]:
    """Fold of every recording of an event set (k folds over recordings, so that the boxes of one
    recording never sit on both sides), the empty ones (checked, nothing there) included."""
    folds, table = cfg.folds, data.table
    per_rec = table[table["present"]].groupby("recording_id")["label"].agg(lambda s: sorted(set(s)))
    recs = pd.DataFrame({"recording_id": list(data.recordings)})
    recs["labels"] = [per_rec.get(r, []) for r in recs["recording_id"]]
    fold_ids = assign_folds(recs, folds.n_folds, strategy=folds.strategy, group_column=folds.group_column,
                            class_map=data.class_map, seed=cfg.seed, **_strategy_kwargs(cfg))
    return {str(r): int(k) for r, k in zip(recs["recording_id"], fold_ids, strict=True)}


def split_empty_recordings(cfg: ExperimentConfig, data: LabelledData,
                           folds: list[int]) -> dict[int, tuple[list[str], list[str]]]:
    """(train, valid) ids of the empty recordings (:attr:`LabelledData.empty_recordings`) by fold, placed as
    :func:`split_folds` places recordings. A published split or fold column is a column of label rows,
    which an empty recording has none of: there they take no part (logged)."""
    empty = data.empty_recordings
    if not empty or data.kind != "events":
        return {k: ([], []) for k in folds}
    if cfg.data.split_column or cfg.folds.strategy == "predefined":
        log.warning("%d recording(s) with no boxes (empty tables) are in no split: a split or fold column is "
                    "read from label rows; they are not used", len(empty))
        return {k: ([], []) for k in folds}
    fold_of = recording_folds(cfg, data)
    return {k: ([r for r in empty if fold_of[r] != k], [r for r in empty if fold_of[r] == k]) for k in folds}


def precision_for(cfg: ExperimentConfig) -> str:
    """``auto``: bf16 autocast on a CUDA device, full fp32 on CPU (CPU autocast is slower here)."""
    if cfg.trainer.precision != "auto":
        return "32-true" if cfg.trainer.precision == "32" else cfg.trainer.precision
    return "bf16-mixed" if torch.cuda.is_available() and cfg.trainer.accelerator != "cpu" else "32-true"


def run_provenance(cfg: ExperimentConfig, data: LabelledData) -> Provenance:
    """The provenance every fold's card shares: code, recipe, data (pretrained weights are added per model)."""
    commit = git_commit()
    ids = sorted({str(r) for r in data.table["recording_id"]})
    return Provenance.now(commit=None if commit == "unknown" else commit, recipe=cfg.name,
                          data_fingerprint=data_fingerprint(ids, data.table.to_csv(index=False)))


def build_card(cfg: ExperimentConfig, data: LabelledData, dm: FoldDataModule, model_card: ModelCard,
               provenance: Provenance | None = None) -> ModelCard:
    """The model card of one fold: the architecture ``create_tagger`` recorded, plus what training knows
    (the loss's activation, inference defaults, per-class boxes, run provenance)."""
    inference = cfg.inference
    window_s = inference.window_s or cfg.audio.window_s
    class_boxes = None
    bands = getattr(dm.train_sampler, "class_bands_hz", None)
    if bands is not None:  # a per-class box-crop model scores each class in its own band and duration
        durations = dm.train_sampler.class_durations_s
        class_boxes = {c: [*bands[c], durations[c]] for c in data.class_map.names}
    defaults = InferenceDefaults(
        window_s=window_s, hop_s=inference.hop_s or window_s, aggregate=inference.aggregate.spec(),
        tiles=inference.tiles.model_dump() if inference.tiles else None, class_boxes=class_boxes,
    )
    weights = model_card.provenance  # where create_tagger found pretrained weights, and their licence
    provenance = dataclasses.replace(provenance or run_provenance(cfg, data), pretrained=weights.pretrained,
                                     licence=weights.licence)
    return model_card.replace(activation=loss_activation(cfg.loss.name), inference=defaults, provenance=provenance)


def build_module(cfg: ExperimentConfig, data: LabelledData, dm: FoldDataModule,
                 provenance: Provenance | None = None) -> TaggerModule:
    """Model (with its card, built here once), loss and validation plan for one fold, from the recipe."""
    model = create_tagger(
        cfg.model.model_dump(mode="json", exclude={"init_from", "freeze_backbone_epochs"}) | {
            "frontend": cfg.model.frontend.spec(), "backbone": cfg.model.backbone.spec(),
            "head": cfg.model.head.spec(),
        },
        num_classes=len(data.class_map),
        sample_rate=cfg.audio.sample_rate,
        window_s=cfg.audio.window_s,
        class_names=list(data.class_map.names),
    )
    if is_probe(cfg):  # trained on cached vectors, run on audio by the store's embedding model
        name_embedding_model(model, cfg)
    if cfg.model.init_from is not None:  # fine-tune from an earlier run (wildtag.training.transfer)
        init_from(model, cfg.model.init_from, list(data.class_map.names))
    if cfg.augment.spectrogram:
        model.spec_augment = SpecAugmentPipeline.from_specs([p.spec() for p in cfg.augment.spectrogram])
    model.card = build_card(cfg, data, dm, model.card, provenance)
    activation, tiles = model.card.activation, model.card.inference.tiles
    mixing = cfg.augment.mixing
    return TaggerModule(
        model,
        create_loss(cfg.loss.name, **cfg.loss.kwargs),
        optimizer=cfg.optimizer,
        schedule=cfg.schedule,
        steps_per_epoch=dm.steps_per_epoch,
        epochs=cfg.trainer.epochs,
        activation=activation,
        valid_groups=dm.valid_plan.groups,
        valid_targets=dm.valid_plan.targets,
        aggregate=create_aggregator(cfg.inference.aggregate.name, **cfg.inference.aggregate.kwargs),
        use_boxes=cfg.model.box_crop is not None,
        mixer=create_mixer(mixing.name, **mixing.kwargs) if mixing else None,
        tiles=tiles,
        seed=dm.seed,
        config=cfg.model_dump(mode="json"),
    )


def _strategy(cfg: ExperimentConfig) -> Any:
    """DDP with spawned workers: this process stays the one that scores OOF and writes the run
    (Lightning's subprocess launcher would re-run the whole command in every rank)."""
    from lightning.pytorch.strategies import DDPStrategy

    backend = "gloo" if cfg.trainer.accelerator == "cpu" or not torch.cuda.is_available() else "nccl"
    torch.multiprocessing.set_sharing_strategy("file_system")  # fd passing fails on small shm limits
    return DDPStrategy(start_method="spawn", process_group_backend=backend)


def _trainer(cfg: ExperimentConfig, fold_dir: Path, show_progress: bool, devices: int | None = None) -> L.Trainer:
    devices = cfg.trainer.devices if devices is None else devices
    best = ModelCheckpoint(
        dirpath=fold_dir / "checkpoints", filename="best", monitor=cfg.trainer.monitor, mode=cfg.trainer.monitor_mode,
        save_top_k=1, enable_version_counter=False,
    )
    # Lightning's save_last only refreshes last.ckpt when `best` improves; resume needs the final epoch.
    last = ModelCheckpoint(dirpath=fold_dir / "checkpoints", filename="last", monitor=None, save_top_k=1,
                           enable_version_counter=False)
    callbacks: list = [best, last]
    if cfg.model.freeze_backbone_epochs:
        callbacks.append(FreezeBackbone(cfg.model.freeze_backbone_epochs))
    if show_progress:
        callbacks.append(RichProgressBar() if _is_terminal() else TQDMProgressBar(refresh_rate=10))
    return L.Trainer(
        max_epochs=cfg.trainer.epochs,
        accelerator="cpu" if cfg.trainer.accelerator == "cpu" else cfg.trainer.accelerator,
        devices=devices,
        strategy=_strategy(cfg) if devices > 1 else "auto",
        use_distributed_sampler=False,  # EpochShuffleSampler shards itself, keeping set_epoch working
        precision=precision_for(cfg),
        gradient_clip_val=cfg.trainer.gradient_clip_val,
        accumulate_grad_batches=cfg.trainer.accumulate_grad_batches,
        callbacks=callbacks,
        logger=CSVLogger(fold_dir, name="logs"),  # version_N: a resumed run adds one, never erases
        enable_progress_bar=show_progress,
        enable_model_summary=False,
        deterministic=True,
        log_every_n_steps=10,
        num_sanity_val_steps=0,
    )


def _is_terminal() -> bool:
    import sys

    return sys.stderr.isatty()


def write_oof(path: Path, module: TaggerModule, dm: FoldDataModule, class_names: list[str]) -> pd.DataFrame:
    """Out-of-fold scores per validation group (recording, or box window) with their targets."""
    scores = module.pooled_valid_scores()
    frame = pd.DataFrame({"recording_id": dm.valid_plan.group_ids})
    frame = pd.concat(
        [frame,
         pd.DataFrame(scores, columns=class_names),
         pd.DataFrame(dm.valid_plan.targets, columns=[f"target:{c}" for c in class_names])],
        axis=1,
    )
    write_parquet_atomic(frame, path)
    return frame


def train_fold(cfg: ExperimentConfig, data: LabelledData, fold: int, rows: tuple[pd.DataFrame, pd.DataFrame],
               run_dir: Path, cache_dir: Path, show_progress: bool,
               provenance: Provenance | None = None,
               empty_recordings: tuple[list[str], list[str]] = ([], [])) -> dict[str, Any]:
    """Train, checkpoint and score one fold; resumes from ``last.ckpt`` when there is one.
    ``empty_recordings``: (train, valid) recordings with no boxes, drawn from as background windows."""
    fold_dir = run_dir / f"fold-{fold}"
    fold_dir.mkdir(exist_ok=True)
    seed = fold_seed(cfg.seed, fold)
    L.seed_everything(seed, workers=True, verbose=False)
    if is_probe(cfg):
        dm = EmbeddingDataModule(cfg, data, rows[0], rows[1], cache_dir, seed)
    else:
        dm = FoldDataModule(cfg, data, rows[0], rows[1], cache_dir, seed, empty_recordings=empty_recordings)
    dm.warm_cache(show_progress)
    module = build_module(cfg, data, dm, provenance)
    (fold_dir / "checkpoints").mkdir(exist_ok=True)
    module.model.card.save(fold_dir / "checkpoints" / "model.json")
    if not (run_dir / "model.json").exists():
        module.model.card.save(run_dir / "model.json")
    trainer = _trainer(cfg, fold_dir, show_progress)
    last = fold_dir / "checkpoints" / "last.ckpt"
    if last.exists():  # refuse, with one line naming the file, a checkpoint that would run code
        read_checkpoint(last)
    trainer.fit(module, datamodule=dm, ckpt_path=str(last) if last.exists() else None, weights_only=True)
    best = fold_dir / "checkpoints" / "best.ckpt"
    if best.exists():
        module.load_state_dict(read_checkpoint(best)["state_dict"])
    if trainer.world_size > 1:  # score every validation window here, not a shard per rank
        trainer = _trainer(cfg, fold_dir, show_progress=False, devices=1)
    trainer.validate(module, datamodule=dm, verbose=False)
    names = list(data.class_map.names)
    oof = write_oof(fold_dir / "oof.parquet", module, dm, names)
    metrics = evaluate(oof[[f"target:{c}" for c in names]].to_numpy(), oof[names].to_numpy(), names)
    metrics["n_train"], metrics["n_valid"] = len(rows[0]), len(rows[1])
    write_text_atomic(fold_dir / "metrics.json", json.dumps(metrics, indent=2) + "\n")
    return metrics


def overall_metrics(run_dir: Path, folds: list[int], class_names: list[str]) -> dict[str, Any]:
    """Metrics on all out-of-fold predictions together."""
    oof = pd.concat([pd.read_parquet(run_dir / f"fold-{k}" / "oof.parquet") for k in folds], ignore_index=True)
    return evaluate(oof[[f"target:{c}" for c in class_names]].to_numpy(), oof[class_names].to_numpy(), class_names)


# Keys a resumed run may change (``fit(resume=True, overrides=[...])``): how long and on how many threads it
# trains; anything else would make the resumed run a different experiment.
RESUMABLE_KEYS = ("trainer.epochs", "trainer.num_workers", "trainer.threads")


def resume_config(run_dir: Path, overrides: list[str] | None) -> ExperimentConfig:
    """The run's own ``config.yaml`` with ``overrides`` of :data:`RESUMABLE_KEYS` only (saved back)."""
    for item in overrides or []:
        key = item.split("=", 1)[0].strip()
        if key not in RESUMABLE_KEYS:
            raise ConfigError(f"--set {key} cannot change when resuming {run_dir} (it would be another "
                              f"experiment); keys that may: {', '.join(RESUMABLE_KEYS)}")
    cfg = load_config(run_dir / "config.yaml", list(overrides or []))
    if overrides:
        write_text_atomic(run_dir / "config.yaml", cfg.to_yaml())
    return cfg


def fit(cfg: ExperimentConfig | None, out: str | Path | None = None, *, resume: bool = False,
        overrides: list[str] | None = None, overwrite: bool = False, show_progress: bool = True,
        argv: list[str] | None = None) -> Path:
    """Train every fold of ``cfg`` into the run directory ``out`` (default ``runs/<name>``); returns it.

    ``out`` means that folder: an existing, non-empty one is an error unless ``overwrite`` (replace it) or
    ``resume`` (continue it from its own ``config.yaml``; ``overrides`` may change :data:`RESUMABLE_KEYS`).
    A run that fails before training leaves no folder behind (unless it wrote ``errors.csv``).
    """
    if resume:
        if out is None or not (Path(out) / "config.yaml").is_file():
            raise FileNotFoundError(f"--resume needs a run directory with a config.yaml, got {out}")
        run_dir = Path(out)
        cfg = resume_config(run_dir, overrides)
        return _fit_in(cfg, run_dir, show_progress, extend=any(o.split("=", 1)[0].strip() == "trainer.epochs" for o in overrides or []))
    if cfg is None:
        raise ConfigError("fit needs a recipe (an ExperimentConfig) unless it resumes a run")
    if overrides:
        raise ConfigError("overrides are for resume=True; apply them when loading the recipe (load_config)")
    run_dir = new_run_dir(Path(out) if out else Path("runs") / cfg.name, overwrite=overwrite)
    write_provenance(run_dir, cfg.to_yaml(), argv)
    try:
        return _fit_in(cfg, run_dir, show_progress)
    except BaseException:
        remove_failed_run_dir(run_dir)
        raise


def _fit_in(cfg: ExperimentConfig, run_dir: Path, show_progress: bool, extend: bool = False) -> Path:
    """The fold loop in ``run_dir``; folds with ``metrics.json`` are done (unless the run is ``extend``ed)."""
    set_threads(cfg)
    data = prepare_data(cfg.data, show_progress=show_progress, errors_path=run_dir / "errors.csv")
    data.class_map.to_json(run_dir / "classes.json")
    skipped = data.skipped_frame()
    if len(skipped):  # prepare_data wrote them to errors.csv
        log.warning("skipped %d recording(s); see %s", len(skipped), run_dir / "errors.csv")
    cache_dir = cfg.data.cache_dir or run_dir.parent / ".cache"
    splits = split_folds(cfg, data)
    write_folds(run_dir, splits, {rid: data.recordings[rid].path for rid in data.recordings})  # for OOF predict
    folds = cfg.folds.run if (cfg.folds.run is not None and not cfg.data.split_column) else list(splits)
    unknown = [k for k in folds if k not in splits]
    if unknown:
        raise ConfigError(f"folds.run names fold(s) {unknown} that do not exist; the folds are {list(splits)}")
    empty = split_empty_recordings(cfg, data, folds)
    provenance = run_provenance(cfg, data)
    if (run_dir / "model.json").exists():  # a resumed run keeps the date it was started
        provenance = dataclasses.replace(provenance, created=ModelCard.load(run_dir / "model.json").provenance.created)
    per_fold: dict[str, Any] = {}
    for fold in folds:
        done = run_dir / f"fold-{fold}" / "metrics.json"
        if done.exists() and not extend:
            per_fold[f"fold-{fold}"] = json.loads(done.read_text())
            continue
        per_fold[f"fold-{fold}"] = train_fold(cfg, data, fold, splits[fold], run_dir, cache_dir, show_progress,
                                               provenance, empty[fold])
    names = list(data.class_map.names)
    summary = {"overall": overall_metrics(run_dir, folds, names), "folds": per_fold,
               "n_skipped_recordings": len(skipped)}
    write_text_atomic(run_dir / "metrics.json", json.dumps(summary, indent=2) + "\n")
    return run_dir


def fit_from_files(recipe: str | Path, overrides: list[str] | None = None, **kwargs: Any) -> Path:
    """Convenience: load a recipe with overrides, then :func:`fit`."""
    return fit(load_config(recipe, overrides), **kwargs)
