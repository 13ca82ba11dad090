"""Where windows fall on a recording.

With ``window_s=5`` and ``hop_s=2.5`` on a 12-s recording::

    0    2.5   5    7.5   10   12
    |=====|                        [0, 5)
          |=====|                  [2.5, 7.5)
                |=====|            [5, 10)
                      |=====|      [7.5, 12.5)  <- runs past the end: zero-padded
"""

from __future__ import annotations

import math

import numpy as np


def window_starts(duration_s: float, window_s: float, hop_s: float) -> np.ndarray:
    """Start times of windows of ``window_s`` every ``hop_s`` covering ``[0, duration_s)``.

    A recording shorter than one window gets one window (zero-padded); the last window may run past the end
    so that no tail is left unscored, but no window starts at or after the end.
    """
    if window_s <= 0 or hop_s <= 0:
        raise ValueError(f"window_s and hop_s must be positive, got {window_s} and {hop_s}")
    if duration_s <= window_s:
        return np.zeros(1)
    n = 1 + math.ceil(round((duration_s - window_s) / hop_s, 9))
    return np.arange(n) * hop_s


def window_spans(duration_s: float, window_s: float, hop_s: float) -> np.ndarray:
    """``(n, 2)`` array of ``[t0_s, t1_s]`` spans (see :func:`window_starts`)."""
    starts = window_starts(duration_s, window_s, hop_s)
    return np.stack([starts, starts + window_s], axis=1)
