"""The record a window sampler hands to the dataset: which span to read and what it should be taught."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True, eq=False)
class WindowItem:
    """One training window: a span of a recording, its target vector and loss weight.

    ``target`` holds one float32 per class: 1 present, 0 absent, NaN unknown (masked out of the loss),
    values in (0, 1) soft. ``weight`` is a scalar or one loss weight per class. ``band_hz`` is the
    frequency band to crop to, for box crops; None means the whole spectrum.

        >>> item = WindowItem("rec1", 2.0, 7.0, np.array([1.0, np.nan], np.float32))
        >>> item.t1_s - item.t0_s
        5.0

    Compared by identity (``eq=False``): its arrays have no single truth value.
    """

    recording_id: str
    t0_s: float
    t1_s: float
    target: np.ndarray
    weight: np.ndarray | float = 1.0
    band_hz: tuple[float, float] | None = None

    def __post_init__(self) -> None:
        if not (math.isfinite(self.t0_s) and math.isfinite(self.t1_s) and self.t1_s > self.t0_s):
            raise ValueError(
                f"window of {self.recording_id!r} needs finite t0_s < t1_s, got {self.t0_s}..{self.t1_s}"
            )
        target = np.asarray(self.target, dtype=np.float32)
        if target.ndim != 1:
            raise ValueError(f"target must be one value per class (K,), got shape {target.shape}")
        object.__setattr__(self, "target", target)
        if not np.isscalar(self.weight):
            weight = np.asarray(self.weight, dtype=np.float32)
            if weight.shape != target.shape:
                raise ValueError(f"per-class weight has shape {weight.shape}, target has {target.shape}")
            object.__setattr__(self, "weight", weight)
        if self.band_hz is not None:
            f0_hz, f1_hz = (float(f) for f in self.band_hz)
            if not f1_hz > f0_hz:
                raise ValueError(f"band_hz needs f0_hz < f1_hz, got {self.band_hz}")
            object.__setattr__(self, "band_hz", (f0_hz, f1_hz))

    @property
    def duration_s(self) -> float:
        """Length of the span in seconds."""
        return self.t1_s - self.t0_s
