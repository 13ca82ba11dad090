"""The one augmentation contract, in the style of audiomentations, shared by waveform and spectrogram transforms.

Every transform has a probability ``p`` and runs the same three steps when called:

    1. decide, with probability ``p``, from the generator (always drawn, so ``p`` does not shift later draws)
    2. params = transform.randomize_parameters(data, ..., generator)   # every random number, nothing else
    3. out    = transform.apply(data, ..., params)                     # deterministic given params

Random numbers come only from an explicit generator, never from a global one:

============  ==========================  ================================  ==============================
transforms    data                        generator                         ``...`` (context)
============  ==========================  ================================  ==============================
waveform      ``(n,)`` float32, one clip  ``numpy.random.Generator`` (CPU   ``sample_rate``
                                          workers), passed to each call
spectrogram   ``(B, C, F, T)`` on device  CPU ``torch.Generator``, passed   none
                                          to each call or set once on it
============  ==========================  ================================  ==============================

``apply`` is public, so a transform can be checked with hand-made parameters:

    >>> Gain().apply(x, 16000, {"gain_db": 6.0})             # about 2 * x
    >>> TimeStripes().apply(spec, {"start": s, "width": w})  # the chosen examples only
"""

from __future__ import annotations

import math
import numbers
from typing import Any

Params = dict[str, Any]


def check_probability(name: str, value: object) -> float:
    """``value`` as a float if it is a number in [0, 1], else a ``ValueError`` naming ``name``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not 0.0 <= value <= 1.0:
        raise ValueError(f"{name} must be a probability in [0, 1], got {value!r}")
    return float(value)


def check_number(name: str, value: object, low: float = -math.inf, high: float = math.inf) -> float:
    """``value`` as a float if it is a finite number in ``[low, high]``, else a ``ValueError`` naming ``name``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ValueError(f"{name} must be a number, got {value!r}")
    if not math.isfinite(value) or not low <= value <= high:
        raise ValueError(f"{name} must be in [{low}, {high}], got {value!r}")
    return float(value)


def check_range(min_name: str, min_value: object, max_name: str, max_value: object,
                low: float = -math.inf, high: float = math.inf) -> tuple[float, float]:
    """``(min_value, max_value)`` as floats if ``low <= min_value <= max_value <= high``, else a ``ValueError``."""
    min_number = check_number(min_name, min_value, low, high)
    max_number = check_number(max_name, max_value, low, high)
    if min_number > max_number:
        raise ValueError(f"{min_name}={min_value!r} must not be greater than {max_name}={max_value!r}")
    return min_number, max_number


class Transform:
    """Base of every augmentation: probability ``p``, :meth:`randomize_parameters`, then :meth:`apply`.

    Subclasses check their settings in ``__init__`` (a ``ValueError`` naming the setting), draw every random
    number in :meth:`randomize_parameters` and stay deterministic in :meth:`apply`. The waveform and
    spectrogram bases add the call that runs the three steps (see the module docstring).
    """

    p: float

    def randomize_parameters(self, *args: Any) -> Params:
        """Draw this transform's random parameters from the generator given last."""
        raise NotImplementedError

    def apply(self, *args: Any) -> Any:
        """Apply the effect with ``params`` (the last argument) to the data (the first)."""
        raise NotImplementedError
