"""Where windows fall on a recording: every ``hop_s``, the last one aligned to the end.

With ``window_s=5`` and ``hop_s=2.5`` on a 12-s recording::

    0    2.5   5    7    10   12
    |=====|                        [0, 5)
          |=====|                  [2.5, 7.5)
                |=====|            [5, 10)
                   |=====|         [7, 12)   <- aligned to the end, not [7.5, 12.5) past it

No window runs past the end (a mostly padded window scores padding the model never saw in training);
a recording shorter than one window is one zero-padded window from 0. Tiles inside a window follow the
same rule (:mod:`wildtag.inference.tiles`), and so do training's validation windows, which use this plan.
"""

from __future__ import annotations

import math

import numpy as np

_EPS = 1e-9  # seconds: float noise in durations (5.0000000001 s) must not add a window


def window_starts(duration_s: float, window_s: float, hop_s: float) -> np.ndarray:
    """Start times of windows of ``window_s`` every ``hop_s`` over ``[0, duration_s)``, the last ending at
    ``duration_s``.

        >>> window_starts(12, 5, 2.5).tolist(), window_starts(5, 5, 2.5).tolist(), window_starts(3, 5, 1).tolist()
        ([0.0, 2.5, 5.0, 7.0], [0.0], [0.0])
    """
    if window_s <= 0 or hop_s <= 0:
        raise ValueError(f"window_s and hop_s must be positive, got {window_s} and {hop_s}")
    if duration_s <= window_s + _EPS:
        return np.zeros(1)
    whole = 1 + math.floor((duration_s - window_s) / hop_s + _EPS)  # windows ending inside the recording
    starts = np.arange(whole) * hop_s
    if starts[-1] + window_s < duration_s - _EPS:  # a tail is left: one more window, ending at the end
        starts = np.append(starts, duration_s - window_s)
    return starts


def window_spans(duration_s: float, window_s: float, hop_s: float) -> np.ndarray:
    """``(n, 2)`` array of ``[t0_s, t1_s]`` spans (see :func:`window_starts`)."""
    starts = window_starts(duration_s, window_s, hop_s)
    return np.stack([starts, starts + window_s], axis=1)


def window_start_samples(num_samples: int, window_n: int, hop_n: int) -> np.ndarray:
    """:func:`window_starts` in samples: what a streamed file of ``num_samples`` is cut into."""
    if window_n <= 0 or hop_n <= 0:
        raise ValueError(f"window and hop must be positive, got {window_n} and {hop_n} samples")
    if num_samples <= window_n:
        return np.zeros(1, dtype=np.int64)
    starts = np.arange(1 + (num_samples - window_n) // hop_n, dtype=np.int64) * hop_n
    if starts[-1] + window_n < num_samples:
        starts = np.append(starts, num_samples - window_n)
    return starts
