"""The training Dataset: sampler items read into fixed-length waveforms, and their collate function."""

from __future__ import annotations

import logging
from collections.abc import Callable

import numpy as np
import torch

from wildtag.data.items import WindowItem
from wildtag.data.samplers import WindowSampler

log = logging.getLogger(__name__)

Reader = Callable[[str, float, float], np.ndarray]
WaveformTransform = Callable[[np.ndarray, int, np.random.Generator], np.ndarray]


class WindowDataset(torch.utils.data.Dataset):
    """Items of a :class:`~wildtag.data.samplers.WindowSampler`, read and padded to ``window_s``.

    ``read(recording_id, t0_s, t1_s)`` returns float32 mono samples for the span; it is injected, so
    this class knows no file paths:

        >>> ds = WindowDataset(sampler, lambda rid, a, b: cache.read(paths[rid], a, b),
        ...                    sample_rate=32000, window_s=5.0)
        >>> loader = DataLoader(ds, batch_size=32, shuffle=True, collate_fn=collate_windows)

    Each item's randomness (sampler placement, ``waveform_transform``) comes from
    ``np.random.default_rng([seed, epoch, index])``: the same (seed, epoch, index) gives the same item
    in any worker, and each epoch differs. Call :meth:`set_epoch` before each epoch; with
    ``persistent_workers=True`` the workers keep the epoch they were started with, so leave them off
    (the default) or rebuild the loader.

    An item is a dict: ``wave`` float32 (window_s * sample_rate,), zero-padded at the end when the crop
    is shorter (box crops have their class duration); ``target`` and ``weight`` float32 (K,); ``boxes``
    float32 (3,) = [f0_hz, f1_hz, valid_s] (NaN band when the item has none); ``index`` int.

    ``skip_errors`` lists exception types (e.g. ``(AudioError,)``) that turn an item into a masked one
    (silence, NaN target, zero weight) with a logged warning instead of stopping training.
    """

    def __init__(
        self,
        sampler: WindowSampler,
        read: Reader,
        *,
        sample_rate: int,
        window_s: float,
        waveform_transform: WaveformTransform | None = None,
        seed: int = 0,
        skip_errors: tuple[type[BaseException], ...] = (),
    ):
        if sample_rate <= 0 or not window_s > 0:
            raise ValueError(f"sample_rate and window_s must be positive, got {sample_rate}, {window_s}")
        max_s = getattr(sampler, "max_duration_s", None)
        if max_s is not None and max_s > window_s + 0.5 / sample_rate:
            raise ValueError(
                f"the sampler makes crops up to {max_s:.3f} s, longer than window_s={window_s}; "
                f"raise window_s to at least that"
            )
        self.sampler = sampler
        self.read = read
        self.sample_rate = int(sample_rate)
        self.window_s = float(window_s)
        self.num_samples = int(round(window_s * sample_rate))
        self.waveform_transform = waveform_transform
        self.seed = int(seed)
        self.skip_errors = tuple(skip_errors)
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        """Select the epoch whose randomness the next items use."""
        self.epoch = int(epoch)

    def __len__(self) -> int:
        return len(self.sampler)

    def rng(self, index: int) -> np.random.Generator:
        """The generator item ``index`` of the current epoch draws from."""
        return np.random.default_rng([self.seed, self.epoch, index])

    def __getitem__(self, index: int) -> dict[str, torch.Tensor | int]:
        rng = self.rng(index)
        item = self.sampler.item(index, rng)
        try:
            wave = self._wave(item, rng)
        except self.skip_errors as error:
            log.warning("skipping item %d (%s %.3f-%.3f s): %s", index, item.recording_id, item.t0_s,
                        item.t1_s, error)  # fmt: skip
            return self._masked(item, index)
        valid_s = min(len(wave), self.num_samples) / self.sample_rate
        return self._pack(item, index, _fit(wave, self.num_samples), valid_s)

    def _wave(self, item: WindowItem, rng: np.random.Generator) -> np.ndarray:
        expected = int(round(item.duration_s * self.sample_rate))
        if expected > self.num_samples:
            raise ValueError(
                f"item {item.recording_id!r} {item.t0_s:.3f}-{item.t1_s:.3f} s is {item.duration_s:.3f} s, "
                f"longer than the dataset's window_s={self.window_s}"
            )
        wave = np.asarray(self.read(item.recording_id, item.t0_s, item.t1_s), dtype=np.float32)
        if wave.ndim != 1:
            raise ValueError(f"read() must return mono samples (n,), got shape {wave.shape} for "
                             f"{item.recording_id!r}")  # fmt: skip
        if self.waveform_transform is not None:
            wave = np.asarray(self.waveform_transform(wave, self.sample_rate, rng), dtype=np.float32)
        return wave

    def _pack(self, item: WindowItem, index: int, wave: np.ndarray, valid_s: float) -> dict:
        target = item.target
        weight = np.broadcast_to(np.asarray(item.weight, dtype=np.float32), target.shape)
        band = item.band_hz if item.band_hz is not None else (np.nan, np.nan)
        return {
            "wave": torch.from_numpy(wave),
            "target": torch.from_numpy(target.copy()),
            "weight": torch.from_numpy(weight.copy()),
            "boxes": torch.tensor([band[0], band[1], valid_s], dtype=torch.float32),
            "index": int(index),
        }

    def _masked(self, item: WindowItem, index: int) -> dict:
        masked = WindowItem(
            item.recording_id, item.t0_s, item.t1_s, np.full_like(item.target, np.nan), 0.0, item.band_hz
        )
        return self._pack(masked, index, np.zeros(self.num_samples, dtype=np.float32), 0.0)


def _fit(wave: np.ndarray, num_samples: int) -> np.ndarray:
    """Zero-pad at the end (or cut, if a transform lengthened it) to exactly ``num_samples``."""
    if len(wave) >= num_samples:
        return np.ascontiguousarray(wave[:num_samples])
    out = np.zeros(num_samples, dtype=np.float32)
    out[: len(wave)] = wave
    return out


def collate_windows(items: list[dict]) -> dict[str, torch.Tensor]:
    """Stack :class:`WindowDataset` items into a batch; use as a DataLoader's ``collate_fn``.

    Returns ``wave`` (B, samples), ``target`` and ``weight`` (B, K), ``boxes`` (B, 3), ``index`` (B,) int64.
    """
    if not items:
        raise ValueError("collate_windows got an empty list of items")
    batch: dict[str, torch.Tensor] = {}
    for key in ("wave", "target", "weight", "boxes"):
        shapes = {tuple(it[key].shape) for it in items}
        if len(shapes) > 1:
            raise ValueError(f"items disagree on the shape of {key!r}: {sorted(shapes)}")
        batch[key] = torch.stack([it[key] for it in items])
    batch["index"] = torch.tensor([int(it["index"]) for it in items], dtype=torch.int64)
    return batch
