"""Sample-rate conversion with soxr: :func:`resample` for whole arrays, :func:`make_stream` for blocks."""

from __future__ import annotations

import numpy as np
import soxr

# soxr's "HQ" preset: 20-bit precision, passband to 91% of the lower Nyquist; plenty for tagging.
# python-soxr runs single-threaded (it exposes no thread setting), so it never competes with torch's threads.
QUALITY = "HQ"


def check_rate(name: str, rate: int) -> int:
    if isinstance(rate, bool) or int(rate) != rate or rate <= 0:
        raise ValueError(f"{name} must be a positive whole number of Hz, got {rate!r}")
    return int(rate)


def resample(x: np.ndarray, orig_sr: int, target_sr: int) -> np.ndarray:
    """Resample a 1-D signal (or (frames, channels)) from ``orig_sr`` to ``target_sr``; float32 out.

        >>> y = resample(np.zeros(44100, np.float32), 44100, 32000)
        >>> y.shape, y.dtype
        ((32000,), dtype('float32'))

    The output has ``round(len(x) * target_sr / orig_sr)`` frames; equal rates return ``x`` as float32.
    """
    orig_sr = check_rate("orig_sr", orig_sr)
    target_sr = check_rate("target_sr", target_sr)
    x = np.asarray(x, dtype=np.float32)
    if orig_sr == target_sr:
        return x
    if len(x) == 0:
        return np.zeros((0,) + x.shape[1:], dtype=np.float32)
    return soxr.resample(np.ascontiguousarray(x), orig_sr, target_sr, quality=QUALITY)


def make_stream(orig_sr: int, target_sr: int) -> soxr.ResampleStream:
    """A mono float32 streaming resampler with the same settings as :func:`resample`.

    Feeding a signal through it block by block (``last=True`` on the final call) gives the same
    samples as :func:`resample` on the whole signal.
    """
    orig_sr = check_rate("orig_sr", orig_sr)
    target_sr = check_rate("target_sr", target_sr)
    return soxr.ResampleStream(orig_sr, target_sr, 1, dtype="float32", quality=QUALITY)
