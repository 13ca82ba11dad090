"""Where one fold's training and validation windows come from (a LightningDataModule).

Training windows come from the recipe's registered sampler; validation windows are planned the way
``predict`` plans them (sliding windows over each validation recording, for clip labels) or taken once,
deterministically, from the sampler (for boxes), so that validation measures what inference will do.
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import lightning as L
import numpy as np
import pandas as pd
from torch.utils.data import DataLoader, Dataset, Sampler

from wildtag.audio import DecodeCache
from wildtag.augment.waveform import WaveformPipeline
from wildtag.config import ExperimentConfig, Part
from wildtag.data import SAMPLERS, WindowDataset, WindowItem, clip_targets, collate_windows
from wildtag.inference.plan import window_spans
from wildtag.training.prepare import LabelledData

log = logging.getLogger(__name__)


class PlannedWindows:
    """A fixed list of windows, as a sampler: item ``i`` is always the same window."""

    def __init__(self, items: list[WindowItem]):
        self.items = items

    def __len__(self) -> int:
        return len(self.items)

    def item(self, index: int, rng: np.random.Generator) -> WindowItem:
        return self.items[index]


class EpochedDataset(Dataset):
    """Gives a dataset the epoch with each index, so item randomness is fixed by (seed, epoch, index)
    in every worker process, without relying on the worker seeing ``set_epoch`` calls."""

    def __init__(self, dataset: WindowDataset, waveform_pipeline: WaveformPipeline | None = None):
        self.dataset, self.waveform_pipeline = dataset, waveform_pipeline

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, key: tuple[int, int]) -> dict:
        epoch, index = key
        self.dataset.set_epoch(epoch)
        if self.waveform_pipeline is not None:
            self.waveform_pipeline.epoch = epoch  # FAT2019: augmentation switched off from an epoch on
        return self.dataset[index]


class EpochShuffleSampler(Sampler):
    """Yields ``(epoch, index)`` in an order shuffled by (seed, epoch); Lightning calls ``set_epoch``."""

    def __init__(self, length: int, seed: int, shuffle: bool = True):
        self.length, self.seed, self.shuffle, self.epoch = length, seed, shuffle, 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        rank, world = _shard() if self.shuffle else (0, 1)
        return len(range(rank, self.length, world))

    def __iter__(self) -> Iterator[tuple[int, int]]:
        order = np.arange(self.length)
        if self.shuffle:
            order = np.random.default_rng([self.seed, self.epoch]).permutation(self.length)
            rank, world = _shard()
            order = order[rank::world]  # DDP: each rank a disjoint share of the same epoch's order
        return iter([(self.epoch, int(i)) for i in order])


def _shard() -> tuple[int, int]:
    """This process's rank and the world size under torch.distributed, else ``(0, 1)``."""
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


def create_sampler_for(part: Part, **available) -> object:
    """Build a registered sampler, passing only the shared arguments its factory accepts."""
    factory = SAMPLERS.get(part.name)
    accepted = {k: v for k, v in available.items() if _accepts(part, k)}
    return factory(**accepted, **part.kwargs)


def _accepts(part: Part, argument: str) -> bool:
    """Whether the sampler registered as ``part.name`` takes ``argument``."""
    return argument in inspect.signature(SAMPLERS.get(part.name)).parameters


@dataclass
class ValidPlan:
    """Validation windows plus how they pool: window ``i`` belongs to group ``groups[i]``."""

    windows: PlannedWindows
    groups: np.ndarray
    targets: np.ndarray  # (G, K)
    group_ids: list[str]  # recording id per group (or "rid@t0-t1" per box window)


def plan_clip_validation(data: LabelledData, rows: pd.DataFrame, window_s: float, hop_s: float) -> ValidPlan:
    """Sliding windows over each validation recording; one group (and one target row) per recording."""
    items, groups, targets, ids = [], [], [], []
    for group, (rid, rec_rows) in enumerate(rows.groupby("recording_id", sort=True)):
        labels = sorted({x for ls in rec_rows["labels"] for x in ls})
        secondary = sorted({x for ls in rec_rows["secondary_labels"] for x in ls})
        target = clip_targets(labels, secondary, data.class_map)
        for t0, t1 in window_spans(data.recordings[rid].duration_s, window_s, hop_s):
            items.append(WindowItem(rid, float(t0), float(t1), target))
            groups.append(group)
        targets.append(target)
        ids.append(str(rid))
    return ValidPlan(PlannedWindows(items), np.asarray(groups), np.stack(targets), ids)


def plan_event_validation(sampler: object, seed: int) -> ValidPlan:
    """One deterministic draw of the sampler's windows; each window is its own group."""
    items = [sampler.item(i, np.random.default_rng([seed, i])) for i in range(len(sampler))]
    ids = [f"{it.recording_id}@{it.t0_s:.3f}-{it.t1_s:.3f}" for it in items]
    return ValidPlan(PlannedWindows(items), np.arange(len(items)), np.stack([it.target for it in items]), ids)


class FoldDataModule(L.LightningDataModule):
    """Training and validation loaders for one fold."""

    def __init__(self, cfg: ExperimentConfig, data: LabelledData, train_rows: pd.DataFrame,
                 valid_rows: pd.DataFrame, cache_dir: Path, seed: int, *,
                 empty_recordings: tuple[Sequence[str], Sequence[str]] = ((), ())):
        """``empty_recordings``: (train, valid) ids of recordings checked with nothing found (see
        :attr:`~wildtag.training.prepare.LabelledData.empty_recordings`); box samplers draw background
        windows from them."""
        super().__init__()
        self.cfg, self.data, self.seed = cfg, data, seed
        audio = cfg.audio
        self.cache = DecodeCache(cache_dir, audio.sample_rate)
        # class_boxes_from: per-class crop sizes come from all folds' boxes, so fold models agree
        common = dict(recordings=data.recordings, class_map=data.class_map, window_s=audio.window_s,
                      class_boxes_from=data.table)
        table_key = "clip_labels" if data.kind == "clips" else "events"
        train_empty, valid_empty = empty_recordings
        if (train_empty or valid_empty) and not _accepts(cfg.sampler.train, "empty_recordings"):
            log.warning("sampler %r draws no windows from the %d recording(s) with no boxes",
                        cfg.sampler.train.name, len(train_empty) + len(valid_empty))
        self.train_sampler = create_sampler_for(cfg.sampler.train, **{table_key: train_rows}, **common,
                                                empty_recordings=list(train_empty))
        augment = cfg.augment
        self.waveform_pipeline = (
            WaveformPipeline.from_specs([p.spec() for p in augment.waveform], off_epoch=augment.waveform_off_epoch)
            if augment.waveform else None
        )
        if data.kind == "clips":  # validate on the windows predict will score (padded to window_s if shorter)
            scored_s = cfg.inference.window_s or audio.window_s
            hop_s = cfg.inference.hop_s or scored_s
            self.valid_plan = plan_clip_validation(data, valid_rows, scored_s, hop_s)
        else:
            valid_sampler = create_sampler_for(cfg.sampler.train, **{table_key: valid_rows}, **common,
                                               empty_recordings=list(valid_empty))
            self.valid_plan = plan_event_validation(valid_sampler, seed)

    def read(self, recording_id: str, t0_s: float, t1_s: float) -> np.ndarray:
        return self.cache.read(self.data.recordings.path(recording_id), t0_s, t1_s)

    def _loader(self, sampler: object, shuffle: bool) -> DataLoader:
        audio = self.cfg.audio
        pipeline = self.waveform_pipeline if shuffle else None  # augment training windows only
        dataset = WindowDataset(sampler, self.read, sample_rate=audio.sample_rate, window_s=audio.window_s,
                                waveform_transform=pipeline, seed=self.seed)
        workers = self.cfg.trainer.num_workers
        return DataLoader(
            EpochedDataset(dataset, pipeline),
            batch_size=self.cfg.trainer.batch_size,
            sampler=EpochShuffleSampler(len(dataset), self.seed, shuffle=shuffle),
            num_workers=workers,
            collate_fn=collate_windows,
            persistent_workers=workers > 0,
            drop_last=False,
        )

    def warm_cache(self, show_progress: bool = True) -> None:
        """Decode every recording once into the cache before workers start (in this process)."""
        from wildtag.progress import progress

        for path in progress(sorted(set(self.data.recordings.paths.values())), "decode cache", enabled=show_progress):
            self.cache.get(path)

    def train_dataloader(self) -> DataLoader:
        return self._loader(self.train_sampler, shuffle=True)

    def val_dataloader(self) -> DataLoader:
        return self._loader(self.valid_plan.windows, shuffle=False)

    @property
    def steps_per_epoch(self) -> int:
        batches = -(-len(self.train_sampler) // self.cfg.trainer.batch_size)
        return -(-batches // self.cfg.trainer.accumulate_grad_batches)


def fold_seed(seed: int, fold: int) -> int:
    """Each fold's seed, derived from the run seed."""
    return int(np.random.default_rng([seed, fold]).integers(2**31 - 1))
