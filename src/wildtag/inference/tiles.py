"""Multi-width tile inference: score narrow time tiles of each spectrogram, max per width, mean of widths.

A model trained on long crops (e.g. 1024 frames) often tags better when it scores narrow tiles (64, 128,
256 frames) and keeps each class's best tile: a short call is not diluted by the rest of the window, and
single-label training becomes multi-label at prediction (RFCx 2021, dl_pipeline write-up).

    spectrogram  |0 ............................................ T|
    width w      [ tile 0 ][ tile 1 ][ tile 2 ][ tile 3 ]  [ last ]   stride w; the last tile ends at T
    half_shift        [ tile ][ tile ][ tile ][ tile ]                 a second set starting at w // 2

    >>> model.eval()
    >>> scores = tile_scores(model, wave, [64, 128, 256], half_shift=True)   # (B, K) probabilities

Where ``T`` is not a multiple of ``w`` the last tile is aligned to the end of the spectrogram (it overlaps
the one before) rather than zero-padded, so no tile scores padding the model never saw in training.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor, nn

from wildtag.models.activation import ACTIVATIONS, activate

# tiny_cnn halves the time axis four times (/16); narrower tiles leave it nothing to pool.
MIN_TILE_FRAMES = 16


def tile_starts(num_frames: int, width_frames: int, *, half_shift: bool = False) -> list[int]:
    """First frame of each tile of ``width_frames`` over ``num_frames``, sorted and without repeats.

    Stride ``width_frames`` from 0, plus a last tile ending at ``num_frames``; with ``half_shift`` a
    second set from ``width_frames // 2`` (whole tiles only). A width of ``num_frames`` or more is one
    tile, the whole spectrogram.

        >>> tile_starts(10, 4), tile_starts(10, 4, half_shift=True)
        ([0, 4, 6], [0, 2, 4, 6])
    """
    if num_frames < 1 or width_frames < 1:
        raise ValueError(f"num_frames and width_frames must be positive, got {num_frames}, {width_frames}")
    if width_frames >= num_frames:
        return [0]
    last = num_frames - width_frames
    starts = set(range(0, last + 1, width_frames)) | {last}
    if half_shift:
        starts |= set(range(width_frames // 2, last + 1, width_frames))
    return sorted(starts)


def cut_tiles(spec: Tensor, width_frames: int, starts: Sequence[int]) -> Tensor:
    """Tiles (B * n, C, F, w) of a spectrogram batch (B, C, F, T); the n tiles of one example are adjacent."""
    batch, chans, bins, num_frames = spec.shape
    width = min(width_frames, num_frames)
    index = torch.as_tensor(starts, device=spec.device)[:, None] + torch.arange(width, device=spec.device)
    tiles = spec[..., index]  # (B, C, F, n, w)
    return tiles.permute(0, 3, 1, 2, 4).reshape(batch * len(starts), chans, bins, width)


@torch.no_grad()
def tile_scores(
    model: nn.Module,
    wave: Tensor,
    widths_frames: Sequence[int],
    *,
    half_shift: bool = False,
    activation: str = "sigmoid",
    min_width_frames: int = MIN_TILE_FRAMES,
    tiles_per_batch: int | None = None,
) -> Tensor:
    """Class probabilities (B, K) of waveforms (B, N): per width the best tile, then the mean over widths.

    ``model`` is a :class:`~wildtag.models.Tagger` (or anything with its ``forward_frontend``,
    ``forward_features`` and ``forward_head``); put it in eval mode first. Widths are in spectrogram
    frames; each must be at least ``min_width_frames`` (16 for tiny_cnn; raise it for backbones that
    downsample more). Each tile's ``"logits"`` become probabilities with ``activation`` (``"softmax"``
    for models trained with cross-entropy). ``tiles_per_batch`` caps how many tiles go through the
    backbone at once (default: all of a width).
    """
    widths = _check(model, wave, widths_frames, activation, min_width_frames, tiles_per_batch)
    spec = model.forward_frontend(wave)
    per_width = []
    for width in widths:
        starts = tile_starts(spec.shape[-1], width, half_shift=half_shift)
        tiles = cut_tiles(spec, width, starts)
        probs = _probabilities(model, tiles, activation, tiles_per_batch or len(tiles))
        per_width.append(probs.reshape(spec.shape[0], len(starts), -1).amax(dim=1))
    return torch.stack(per_width).mean(dim=0)


def _probabilities(model: nn.Module, tiles: Tensor, activation: str, chunk: int) -> Tensor:
    logits = torch.cat(
        [model.forward_head(model.forward_features(part))["logits"] for part in tiles.split(chunk)]
    )
    return activate(logits, activation)


def _check(
    model: nn.Module,
    wave: Tensor,
    widths_frames: Sequence[int],
    activation: str,
    min_width_frames: int,
    tiles_per_batch: int | None,
) -> list[int]:
    if activation not in ACTIVATIONS:
        raise ValueError(f"activation must be one of {', '.join(ACTIVATIONS)}; got {activation!r}")
    if wave.ndim != 2:
        raise ValueError(f"wave must be a batch of mono waveforms (B, N), got shape {tuple(wave.shape)}")
    if tiles_per_batch is not None and tiles_per_batch < 1:
        raise ValueError(f"tiles_per_batch must be positive, got {tiles_per_batch}")
    if getattr(model, "box_crop", None) is not None:
        raise ValueError(
            "this model resizes every spectrogram to its box crop size, so time tiles would be stretched; "
            "tile inference needs a Tagger without box_crop"
        )
    widths = [int(w) for w in widths_frames]
    if not widths:
        raise ValueError("widths_frames is empty; give at least one tile width in frames, e.g. [128]")
    for given, width in zip(widths_frames, widths, strict=True):
        if width != given or width < min_width_frames:
            raise ValueError(
                f"tile width {given!r} frames is not a whole number of at least {min_width_frames} "
                f"(the backbone's downsampling needs that many frames)"
            )
    return widths
