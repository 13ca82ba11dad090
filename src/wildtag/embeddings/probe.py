"""Probes: a head trained on cached embeddings, skipping decoding and the backbone entirely.

A recipe selects a probe with the ``embedding_store`` frontend and the ``identity`` backbone:

    audio: {sample_rate: 48000, window_s: 3.0}
    model:
      frontend: {name: embedding_store, path: runs/.embeddings/insects-birdnet,
                 model: {name: birdnet, accept_license: cc-by-nc-sa-4.0}, hop_s: 1.5}
      backbone: {name: identity}
      head: {name: linear}            # or {name: mlp, hidden_features: 256}

``wildtag train`` then embeds every labelled recording that the store lacks (once: the store is reused
by later runs and by ``wildtag search``), and trains the head with the recipe's loss, mixing, optimiser,
schedule, folds or published split, on vectors instead of audio (one epoch over 10k windows is a few
hundred matrix products). Targets are what the audio recipes use: clip labels give every window of a
recording (inside its labelled span) the recording's multi-hot target; boxes give each window its TP=1 /
FP=0 target with unknown classes NaN, masked out of the loss; windows that know nothing are left out.
Validation pools a clip-labelled recording's windows with ``inference.aggregate``, as predict does.

The trained checkpoint names the store's embedding model as its frontend, so ``wildtag predict`` runs
the probe on audio like any other model, and its card carries the embedding model's licence.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import lightning as L
import numpy as np
import pandas as pd
import torch
from torch import Tensor, nn
from torch.utils.data import DataLoader, Dataset, Sampler

from wildtag.config import ConfigError, ExperimentConfig
from wildtag.data.targets import RecordingEvents, class_lookup, targets_from_events
from wildtag.embeddings.store import Embeddings, EmbeddingStore
from wildtag.training.datamodule import ValidPlan
from wildtag.training.prepare import LabelledData

STORE_FRONTEND = "embedding_store"


class VectorInput(nn.Module):
    """The probe's frontend while training: cached vectors (B, D) become (B, D, 1, 1) feature maps."""

    def __init__(self, dim: int, sample_rate: int):
        super().__init__()
        self.dim = self.out_channels = int(dim)
        self.sample_rate = int(sample_rate)

    def forward(self, vectors: Tensor) -> Tensor:
        return vectors if vectors.ndim == 4 else vectors[:, :, None, None]


def is_probe(cfg: ExperimentConfig) -> bool:
    """Whether the recipe trains a probe on an embedding store."""
    return cfg.model.frontend.name == STORE_FRONTEND


def _store_settings(cfg: ExperimentConfig) -> tuple[Path, dict[str, Any] | None, float | None]:
    kwargs = cfg.model.frontend.kwargs
    if "path" not in kwargs:
        raise ConfigError("model.frontend.path: the embedding_store frontend needs the store's folder")
    return Path(kwargs["path"]), kwargs.get("model"), kwargs.get("hop_s")


def check_probe_recipe(cfg: ExperimentConfig) -> None:
    """What a probe cannot do, said before any data is read."""
    problems = []
    if cfg.augment.waveform or cfg.augment.spectrogram:
        problems.append("augment.waveform / augment.spectrogram: cached embeddings cannot be augmented "
                        "(augment.mixing works)")
    if cfg.model.box_crop is not None or cfg.inference.tiles is not None:
        problems.append("model.box_crop / inference.tiles: a probe scores whole embedding windows")
    if cfg.model.backbone.name != "identity":
        problems.append(f"model.backbone: a probe on cached embeddings has no backbone; use {{name: identity}} "
                        f"(got {cfg.model.backbone.name!r})")
    if problems:
        raise ConfigError("; ".join(problems))


def probe_frontend_spec(cfg: ExperimentConfig) -> tuple[dict[str, Any], dict[str, str | None]]:
    """The embedding model a probe runs on audio (the store's), and its provenance (source, licence)."""
    store = EmbeddingStore.open(_store_settings(cfg)[0])
    spec = {k: v for k, v in store.manifest.model.items() if k != "sample_rate"}
    return spec, {"pretrained": store.manifest.source, "licence": store.manifest.licence}


def name_embedding_model(model: nn.Module, cfg: ExperimentConfig) -> None:
    """Make the trained probe's record name the store's embedding model as its frontend (see the module
    docstring); works on the preprocessing dict and on a typed model card alike."""
    spec, provenance = probe_frontend_spec(cfg)
    card = getattr(model, "card", None)
    if card is not None and hasattr(card, "replace"):
        import dataclasses

        model.card = card.replace(frontend=spec, provenance=dataclasses.replace(card.provenance, **provenance))
    preprocessing = getattr(model, "preprocessing", None)
    if isinstance(preprocessing, dict):
        preprocessing["frontend"] = spec
        preprocessing.setdefault("provenance", {}).update(provenance)


def match_ids(label_ids: list[str], store_ids: set[str]) -> dict[str, str]:
    """Label recording id -> store recording id: the same id, else the same path without its suffix or
    the same file stem (when that is unambiguous)."""
    def keys(rid: str) -> list[str]:
        path = Path(rid)
        return [rid, path.with_suffix("").as_posix(), path.stem]

    by_key: dict[str, set[str]] = {}
    for sid in store_ids:
        for key in keys(sid):
            by_key.setdefault(key, set()).add(sid)
    found = {}
    for rid in label_ids:
        if rid in store_ids:
            found[rid] = rid
            continue
        for key in keys(rid):
            if len(by_key.get(key, ())) == 1:
                found[rid] = next(iter(by_key[key]))
                break
    return found


def _clip_value(cfg: ExperimentConfig, name: str, default: float) -> float:
    return float(cfg.sampler.train.kwargs.get(name, default))


def window_targets(cfg: ExperimentConfig, data: LabelledData, rows: pd.DataFrame, windows: Embeddings
                   ) -> tuple[np.ndarray, np.ndarray]:
    """(n, K) targets and weights of stored ``windows`` (ids already the labels' ids) from label ``rows``."""
    k = len(data.class_map)
    if data.kind == "clips":
        from wildtag.data.clip_windows import _spans, _targets  # the audio samplers' own label reading

        spans = _spans(rows, data.recordings.durations_s)
        row_targets, _ = _targets(rows, data.class_map, _clip_value(cfg, "primary_value", 1.0),
                                  _clip_value(cfg, "secondary_value", 1.0), _clip_value(cfg, "absent_value", 0.0))
        target = np.full((len(windows), k), np.nan, dtype=np.float32)
        by_recording = pd.Series(np.arange(len(windows))).groupby(windows.recording).indices
        for i, rid in enumerate(rows["recording_id"].astype(str)):
            at = np.asarray(by_recording.get(rid, []), dtype=np.int64)
            inside = at[(windows.t0_s[at] < spans[i, 1]) & (windows.t1_s[at] > spans[i, 0])]
            target[inside] = np.fmax(target[inside], row_targets[i])
        return target, np.ones_like(target)
    kwargs = cfg.sampler.train.kwargs
    unknown, min_overlap = kwargs.get("unknown", "nan"), float(kwargs.get("min_overlap", 0.5))
    lookup = class_lookup(data.class_map)
    target = np.full((len(windows), k), np.nan, dtype=np.float32)
    weight = np.ones((len(windows), k), dtype=np.float32)
    for rid, events in rows.groupby(rows["recording_id"].astype(str)):
        arrays = RecordingEvents.from_table(events, lookup)
        for i in np.flatnonzero(windows.recording == rid):
            target[i], weight[i] = targets_from_events(windows.t0_s[i], windows.t1_s[i], arrays, k, unknown,
                                                       min_overlap)
    return target, weight


class _Batches(Dataset):
    """Whole batches of vectors, indexed by ``(epoch, index array)``."""

    def __init__(self, vectors: np.ndarray, target: np.ndarray, weight: np.ndarray):
        self.vectors, self.target, self.weight = (torch.from_numpy(np.ascontiguousarray(a))
                                                  for a in (vectors, target, weight))

    def __len__(self) -> int:
        return len(self.vectors)

    def __getitem__(self, key: tuple[int, np.ndarray]) -> dict[str, Tensor]:
        index = torch.from_numpy(key[1])
        return {"wave": self.vectors[index], "target": self.target[index], "weight": self.weight[index],
                "index": index, "boxes": None}


class _EpochBatches(Sampler):
    """Batches of indices shuffled by (seed, epoch), so a resumed run sees the same order."""

    def __init__(self, length: int, batch_size: int, seed: int, shuffle: bool):
        self.length, self.batch_size, self.seed, self.shuffle, self.epoch = length, batch_size, seed, shuffle, 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return -(-self.length // self.batch_size)

    def __iter__(self) -> Iterator[tuple[int, np.ndarray]]:
        order = (np.random.default_rng([self.seed, self.epoch]).permutation(self.length) if self.shuffle
                 else np.arange(self.length))
        return iter([(self.epoch, order[i:i + self.batch_size]) for i in range(0, self.length, self.batch_size)])


class EmbeddingDataModule(L.LightningDataModule):
    """One fold's training and validation vectors, in place of :class:`FoldDataModule` for a probe."""

    train_sampler = None  # no per-class boxes

    def __init__(self, cfg: ExperimentConfig, data: LabelledData, train_rows: pd.DataFrame,
                 valid_rows: pd.DataFrame, cache_dir: Path, seed: int):
        super().__init__()
        check_probe_recipe(cfg)
        self.cfg, self.data, self.seed = cfg, data, seed
        self.train_rows, self.valid_rows = train_rows, valid_rows
        self._train: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None

    def warm_cache(self, show_progress: bool = True) -> None:
        """Embed the labelled recordings the store lacks (all folds' at once), then build this fold's data."""
        from wildtag.embeddings.embed import embed_recordings

        path, model_spec, hop_s = _store_settings(self.cfg)
        have = EmbeddingStore.open(path).recordings() if (path / "embeddings.json").is_file() else set()
        ids = match_ids(list(self.data.recordings), have)
        todo = {rid: p for rid, p in self.data.recordings.paths.items() if rid not in ids}
        if todo:
            if model_spec is None:
                raise ConfigError(f"{path} lacks {len(todo)} labelled recording(s) (e.g. {next(iter(todo))!r}): "
                                  "embed them with `wildtag embed`, or name the model as model.frontend.model")
            spec = {**model_spec, "sample_rate": self.cfg.audio.sample_rate}
            embed_recordings(spec, todo, path, hop_s=hop_s, show_progress=show_progress)
            ids.update({rid: rid for rid in todo})
        store = EmbeddingStore.open(path)
        to_label = {sid: rid for rid, sid in ids.items()}
        self._train = self._windows(store, self.train_rows, to_label)
        self._valid(store, to_label)

    def _read(self, store: EmbeddingStore, rows: pd.DataFrame, to_label: dict[str, str]) -> Embeddings:
        wanted = {sid for sid, rid in to_label.items() if rid in set(rows["recording_id"].astype(str))}
        windows = store.read(wanted)
        windows.recording = np.array([to_label[s] for s in windows.recording], dtype=object)
        order = np.lexsort((windows.t0_s, windows.recording))
        return windows.select(order)

    def _windows(self, store: EmbeddingStore, rows: pd.DataFrame, to_label: dict[str, str]):
        windows = self._read(store, rows, to_label)
        target, weight = window_targets(self.cfg, self.data, rows, windows)
        known = ~np.isnan(target).all(axis=1)
        return windows.vectors[known], target[known], weight[known]

    def _valid(self, store: EmbeddingStore, to_label: dict[str, str]) -> None:
        windows = self._read(store, self.valid_rows, to_label)
        target, weight = window_targets(self.cfg, self.data, self.valid_rows, windows)
        if self.data.kind == "clips":  # one group per recording, pooled as predict pools
            ids, groups = np.unique(windows.recording.astype(str), return_inverse=True)
            group_targets = np.stack([np.nanmax(target[groups == g], axis=0) for g in range(len(ids))])
            self.valid_plan = ValidPlan(None, groups, np.nan_to_num(group_targets, nan=0.0), [str(i) for i in ids])
        else:  # each window that knows something is its own group, as the box samplers validate
            known = np.flatnonzero(~np.isnan(target).all(axis=1))
            windows, target, weight = windows.select(known), target[known], weight[known]
            ids = [f"{r}@{a:.3f}-{b:.3f}" for r, a, b in zip(windows.recording, windows.t0_s, windows.t1_s, strict=True)]
            self.valid_plan = ValidPlan(None, np.arange(len(windows)), target, ids)
        if len(windows) == 0:
            raise ConfigError("no validation window of this fold has a known target")
        self._valid_data = (windows.vectors, target, weight)

    def _loader(self, arrays: tuple[np.ndarray, np.ndarray, np.ndarray], shuffle: bool) -> DataLoader:
        sampler = _EpochBatches(len(arrays[0]), self.cfg.trainer.batch_size, self.seed, shuffle)
        return DataLoader(_Batches(*arrays), batch_size=None, sampler=sampler, num_workers=0,
                          collate_fn=_keep_none)

    def train_dataloader(self) -> DataLoader:
        return self._loader(self._train, shuffle=True)

    def val_dataloader(self) -> DataLoader:
        return self._loader(self._valid_data, shuffle=False)

    @property
    def steps_per_epoch(self) -> int:
        if self._train is None:
            raise RuntimeError("call warm_cache() first")
        batches = -(-len(self._train[0]) // self.cfg.trainer.batch_size)
        return -(-batches // self.cfg.trainer.accumulate_grad_batches)


def _keep_none(batch: dict[str, Any]) -> dict[str, Any]:
    return batch
