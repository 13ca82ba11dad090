"""Decode and resample a file of any length in bounded memory: :func:`stream_blocks`."""

from __future__ import annotations

import math
import os
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from wildtag.audio._decode import READ_BLOCK_FRAMES, Channel, check_channel, iter_frames, open_audio
from wildtag.audio.info import probe
from wildtag.audio.resample import check_rate, make_stream


class _Rebuffer:
    """Cuts a stream of arrays of any lengths into arrays of exactly ``size`` samples."""

    def __init__(self, size: int):
        self.size = size
        self._pending: list[np.ndarray] = []
        self._count = 0

    def push(self, x: np.ndarray) -> Iterator[np.ndarray]:
        if len(x) == 0:
            return
        self._pending.append(x)
        self._count += len(x)
        if self._count < self.size:
            return
        joined = np.concatenate(self._pending)
        whole = len(joined) - len(joined) % self.size
        for i in range(0, whole, self.size):
            yield joined[i : i + self.size]
        rest = joined[whole:].copy()  # a copy, so the joined buffer can be freed
        self._pending, self._count = ([rest] if len(rest) else []), len(rest)

    def flush(self) -> Iterator[np.ndarray]:
        if self._count:
            yield np.concatenate(self._pending)
        self._pending, self._count = [], 0


def stream_blocks(
    path: str | os.PathLike[str], sample_rate: int, block_frames: int, channel: Channel = "mix"
) -> Iterator[np.ndarray]:
    """Yield the file, resampled to ``sample_rate``, as float32 blocks of ``block_frames`` samples.

        >>> for block in stream_blocks("night.flac", 32000, block_frames=32000 * 60):
        ...     scores.append(model(block))  # one minute at a time

    The last block is shorter. Memory stays bounded by a few blocks whatever the file length; joined,
    the blocks equal ``load(path, sample_rate, channel=channel)``. The file is checked (``probe``) when
    this is called; decode errors and NaN/inf samples raise :class:`AudioError` during iteration.
    """
    sample_rate = check_rate("sample_rate", sample_rate)
    if isinstance(block_frames, bool) or int(block_frames) != block_frames or block_frames <= 0:
        raise ValueError(f"block_frames must be a positive whole number, got {block_frames!r}")
    info = probe(path)
    check_channel(path, channel, info.num_channels)
    return _stream(Path(path), sample_rate, int(block_frames), channel)


def _stream(path: Path, sample_rate: int, block_frames: int, channel: Channel) -> Iterator[np.ndarray]:
    with open_audio(path) as f:
        keep = check_channel(path, channel, f.channels)
        # About one output block's worth of source frames per read, within sane bounds.
        read_frames = min(READ_BLOCK_FRAMES, max(1024, math.ceil(block_frames * f.samplerate / sample_rate)))
        stream = make_stream(f.samplerate, sample_rate) if f.samplerate != sample_rate else None
        out = _Rebuffer(block_frames)
        for x in iter_frames(f, path, 0, f.frames, keep, block_frames=read_frames):
            yield from out.push(stream.resample_chunk(x, last=False) if stream else x)
        if stream is not None:
            yield from out.push(stream.resample_chunk(np.zeros(0, dtype=np.float32), last=True))
        yield from out.flush()
