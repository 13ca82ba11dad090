"""Load a whole file or one segment of it as a mono float32 array: :func:`load`."""

from __future__ import annotations

import math
import os
from pathlib import Path

import numpy as np

from wildtag.audio._decode import Channel, check_channel, iter_frames, open_audio
from wildtag.audio.errors import AudioError
from wildtag.audio.resample import check_rate, resample


def _check_seconds(path: Path, name: str, value: float) -> float:
    if not math.isfinite(value) or value < 0:
        raise AudioError(path, f"{name} must be a finite number >= 0, got {value!r}")
    return float(value)


def load(
    path: str | os.PathLike[str],
    sample_rate: int | None = None,
    offset_s: float = 0.0,
    duration_s: float | None = None,
    channel: Channel = "mix",
) -> np.ndarray:
    """Decode ``duration_s`` seconds from ``offset_s`` (default: all) as a 1-D float32 array.

        >>> x = load("dawn.flac", sample_rate=32000, offset_s=60.0, duration_s=5.0)
        >>> x.shape
        (160000,)

    Only the segment is decoded (soundfile seeks; MP3 decodes a short preroll before it). ``channel`` is
    ``"mix"`` (mean of the channels) or a channel index. With ``sample_rate`` the segment is resampled with
    soxr. A segment running past the end is cut at the end (it is not padded).

    Raises :class:`AudioError`, naming the file, for a missing, empty, corrupt or truncated file, NaN/inf
    samples, a channel the file lacks, a negative offset or duration, or an offset at or past the end.
    """
    path = Path(path)
    if sample_rate is not None:
        sample_rate = check_rate("sample_rate", sample_rate)
    offset_s = _check_seconds(path, "offset_s", offset_s)
    if duration_s is not None:
        duration_s = _check_seconds(path, "duration_s", duration_s)
    with open_audio(path) as f:
        sr, total = f.samplerate, f.frames
        keep = check_channel(path, channel, f.channels)
        start = round(offset_s * sr)
        if start >= total:
            raise AudioError(
                path, f"offset_s={offset_s:g} is at or past the end of the file ({total / sr:.3f} s)"
            )
        n = total - start if duration_s is None else min(round(duration_s * sr), total - start)
        out = np.empty(n, dtype=np.float32)
        filled = 0
        for block in iter_frames(f, path, start, n, keep):
            out[filled : filled + len(block)] = block
            filled += len(block)
    if sample_rate is None:
        return out
    return resample(out, sr, sample_rate)
