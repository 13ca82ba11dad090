"""The waveform augmentation contract: mono float32 in, mono float32 of the same length out.

The contract of :mod:`wildtag.augment.base` with a ``numpy.random.Generator`` passed to every call: a
transform is applied with probability ``p`` and draws every random number from that generator, so the
same generator state gives the same output:

    >>> augment = create_waveform_augment("gain", min_gain_db=-6, max_gain_db=6, p=1.0)
    >>> y = augment(x, 32000, np.random.default_rng(0))   # y.shape == x.shape, y.dtype == float32

Transforms run on CPU workers after the window is cropped (cropping first is much cheaper).
"""

from __future__ import annotations

import numpy as np

from wildtag.augment.base import Params, Transform, check_probability
from wildtag.registry import Registry

WAVEFORM_AUGMENTS: Registry[WaveformAugment] = Registry("waveform augmentation")


def create_waveform_augment(name: str, /, **kwargs: object) -> WaveformAugment:
    """Build the waveform augmentation registered under ``name``.

    >>> create_waveform_augment("gaussian_noise_snr", min_snr_db=10, max_snr_db=30, p=0.5)
    GaussianNoiseSNR(p=0.5, min_snr_db=10, max_snr_db=30)
    """
    return WAVEFORM_AUGMENTS.create(name, **kwargs)


def list_waveform_augments(pattern: str = "*") -> list[str]:
    """Names of the registered waveform augmentations matching a shell-style ``pattern``."""
    return WAVEFORM_AUGMENTS.list(pattern)


def fit_length(samples: np.ndarray, num_samples: int) -> np.ndarray:
    """Crop the end of ``samples``, or pad it with zeros at the end, to ``num_samples``."""
    if len(samples) >= num_samples:
        return samples[:num_samples]
    return np.pad(samples, (0, num_samples - len(samples)))


class WaveformAugment(Transform):
    """Base class: a random waveform transform applied with probability ``p``.

    Subclasses check their parameters in ``__init__`` (a ``ValueError`` naming the parameter), draw their
    random numbers in :meth:`randomize_parameters` and apply them in :meth:`apply`.
    """

    def __init__(self, p: float = 0.5):
        self.p = check_probability("p", p)

    def __call__(self, samples: np.ndarray, sample_rate: int, rng: np.random.Generator) -> np.ndarray:
        """``samples`` (1-D) transformed with probability ``p``, as float32 of the same length."""
        x = np.asarray(samples, dtype=np.float32)
        if x.ndim != 1:
            raise ValueError(f"{type(self).__name__} expects mono samples shaped (n,), got shape {x.shape}")
        if not sample_rate > 0:
            raise ValueError(f"sample_rate must be > 0, got {sample_rate!r}")
        # The decision is always drawn, so p does not change how much of rng the other draws see.
        if rng.random() >= self.p or x.size == 0:
            return x
        params = self.randomize_parameters(x, sample_rate, rng)
        y = np.asarray(self.apply(x, sample_rate, params), dtype=np.float32)
        if y.shape != x.shape:  # a bug in a subclass, not bad input
            raise RuntimeError(f"{type(self).__name__} changed the shape {x.shape} to {y.shape}")
        return y

    def randomize_parameters(self, samples: np.ndarray, sample_rate: int, rng: np.random.Generator) -> Params:
        """This call's random parameters for float32 mono ``samples`` (not empty), drawn from ``rng``."""
        raise NotImplementedError

    def apply(self, samples: np.ndarray, sample_rate: int, params: Params) -> np.ndarray:
        """Apply the effect with ``params`` to float32 mono ``samples``; deterministic."""
        raise NotImplementedError

    def __repr__(self) -> str:
        params = ", ".join(f"{k}={v!r}" for k, v in self._params().items())
        return f"{type(self).__name__}({params})"

    def _params(self) -> dict[str, object]:
        # Constructor arguments in order, for repr: p first, then the subclass's own.
        return {"p": self.p, **{k: v for k, v in vars(self).items() if k != "p" and not k.startswith("_")}}
