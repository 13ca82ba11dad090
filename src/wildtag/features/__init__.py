"""Torch frontends: waveforms ``(B, N)`` -> spectrogram images ``(B, C, F, T)``, run inside the model.

>>> from wildtag.features import create_frontend
>>> frontend = create_frontend("stft", sample_rate=48000, f_min=1000.0, freq_coord=True)
"""

from wildtag import embeddings  # noqa: F401  (registers the embedding frontends)
from wildtag.features import multi  # noqa: F401  (registers the "stft_mel" frontend)
from wildtag.features.base import FRONTENDS, Frontend, create_frontend, list_frontends
from wildtag.features.box_crop import BoxCropResize, box_crop_resize
from wildtag.features.mel import LogMelFrontend
from wildtag.features.stft import StftFrontend

__all__ = [
    "FRONTENDS",
    "BoxCropResize",
    "Frontend",
    "LogMelFrontend",
    "StftFrontend",
    "box_crop_resize",
    "create_frontend",
    "list_frontends",
]
