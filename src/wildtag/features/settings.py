"""The STFT, scaling and normalisation settings every spectrogram frontend shares, as one frozen record.

    >>> settings = SpectrogramSettings(n_fft=2048, hop_length=512, f_min=150.0)
    >>> StftFrontend(48000, settings)                        # the record ...
    >>> create_frontend("stft", sample_rate=48000, n_fft=2048, hop_length=512, f_min=150.0)  # ... or flat

Recipes and the model card's ``frontend`` spec keep the flat keywords; each frontend folds them into its
own defaults with :meth:`SpectrogramSettings.replace`, which names an unknown keyword with the closest one.
"""

from __future__ import annotations

import dataclasses
import inspect
import math
from dataclasses import dataclass

from wildtag.suggest import did_you_mean

SCALES = ("db", "log", "none")
NORMALIZATIONS = ("per_bin", "batchnorm", "none")


def _check_choice(name: str, value: str, choices: tuple[str, ...]) -> None:
    if value not in choices:
        raise ValueError(f"{name}={value!r} is not one of {', '.join(repr(c) for c in choices)}")


def _check_positive(name: str, value: float) -> None:
    if not value > 0:
        raise ValueError(f"{name} must be > 0, got {value!r}")


@dataclass(frozen=True)
class SpectrogramSettings:
    """How waveforms become spectrograms (see :mod:`wildtag.features.base` for the steps).

    ``n_fft``, ``hop_length``, ``win_length`` (``None``: ``n_fft``): the centred STFT with a Hann window;
    ``f_min`` / ``f_max`` (``None``: Nyquist): the band in Hz; ``power``: 1 magnitude, 2 power;
    ``scale``: "db" (with a ``top_db`` floor per example), "log" (``log(x + 1e-6)``) or "none";
    ``normalize``: "per_bin" (each example and bin standardised over time), "batchnorm" or "none";
    ``freq_coord``: add a channel going linearly from -1 (lowest bin) to 1 (highest bin).
    """

    n_fft: int = 1024
    hop_length: int = 320
    win_length: int | None = None
    f_min: float = 50.0
    f_max: float | None = None
    power: float = 2.0
    scale: str = "db"
    top_db: float | None = 80.0
    normalize: str = "per_bin"
    freq_coord: bool = False

    def __post_init__(self) -> None:
        _check_positive("n_fft", self.n_fft)
        _check_positive("hop_length", self.hop_length)
        _check_positive("power", self.power)
        if self.win_length is not None and not 0 < self.win_length <= self.n_fft:
            raise ValueError(f"win_length must be in (0, n_fft={self.n_fft}], got {self.win_length}")
        _check_choice("scale", self.scale, SCALES)
        _check_choice("normalize", self.normalize, NORMALIZATIONS)
        if self.top_db is not None:
            _check_positive("top_db", self.top_db)

    @property
    def window_length(self) -> int:
        """The STFT window in samples (``win_length``, or ``n_fft`` when it is ``None``)."""
        return int(self.n_fft if self.win_length is None else self.win_length)

    def replace(self, **changes: object) -> SpectrogramSettings:
        """A copy with ``changes``; an unknown name raises ``TypeError`` with the closest valid one."""
        names = [field.name for field in dataclasses.fields(self)]
        for name in changes:
            if name not in names:
                raise TypeError(f"unknown spectrogram setting {name!r}{did_you_mean(name, names)}; "
                                f"settings: {', '.join(names)}")
        return dataclasses.replace(self, **changes)

    def band(self, sample_rate: int) -> tuple[float, float]:
        """``(f_min, f_max)`` in Hz checked against Nyquist; ``f_max=None`` means Nyquist."""
        _check_positive("sample_rate", sample_rate)
        nyquist = sample_rate / 2.0
        f_min = self.f_min
        f_max = nyquist if self.f_max is None else float(self.f_max)
        if not (math.isfinite(f_min) and f_min >= 0):
            raise ValueError(f"f_min must be >= 0 Hz, got {f_min!r}")
        if f_max > nyquist:
            raise ValueError(f"f_max={f_max} Hz is above Nyquist ({nyquist} Hz at sample_rate={sample_rate})")
        if not f_min < f_max:
            raise ValueError(f"f_min ({f_min} Hz) must be below f_max ({f_max} Hz)")
        return float(f_min), f_max


def flat_signature(defaults: SpectrogramSettings, *own: inspect.Parameter) -> inspect.Signature:
    """``(sample_rate, <own>, *, n_fft=..., ...)``: the flat keywords a frontend class takes from a recipe.

    Set as the class's ``__signature__`` so that recipe checks (``inspect.signature``) see every setting
    with this frontend's default; ``settings`` (a :class:`SpectrogramSettings`) is for Python callers.
    """
    keyword = inspect.Parameter.KEYWORD_ONLY
    settings = [inspect.Parameter(f.name, keyword, default=getattr(defaults, f.name))
                for f in dataclasses.fields(defaults)]
    sample_rate = inspect.Parameter("sample_rate", inspect.Parameter.POSITIONAL_OR_KEYWORD, annotation=int)
    return inspect.Signature([sample_rate, *own, *settings])
