"""Waveform augmentations: mono float32 in, float32 of the same length out, on CPU workers after cropping.

Every transform is registered by name, takes a probability ``p``, and draws all its random numbers from
the ``numpy.random.Generator`` it is called with, so a seed reproduces a batch:

>>> from wildtag.augment.waveform import WaveformPipeline, create_waveform_augment
>>> noise = create_waveform_augment("gaussian_noise_snr", min_snr_db=10, max_snr_db=30, p=0.5)
>>> pipeline = WaveformPipeline.from_specs([{"name": "pitch_shift", "p": 0.25}], off_epoch=15)
"""

from wildtag.augment.waveform.base import (
    WAVEFORM_AUGMENTS,
    WaveformAugment,
    create_waveform_augment,
    list_waveform_augments,
)
from wildtag.augment.waveform.clipping_distortion import ClippingDistortion
from wildtag.augment.waveform.gain import Gain
from wildtag.augment.waveform.gaussian_noise_snr import GaussianNoiseSNR
from wildtag.augment.waveform.pipeline import WaveformPipeline
from wildtag.augment.waveform.pitch_shift import PitchShift
from wildtag.augment.waveform.reverb import Reverb, decaying_noise_ir
from wildtag.augment.waveform.tanh_distortion import TanhDistortion
from wildtag.augment.waveform.time_shift import TimeShift
from wildtag.augment.waveform.time_stretch import TimeStretch

__all__ = [
    "WAVEFORM_AUGMENTS",
    "ClippingDistortion",
    "Gain",
    "GaussianNoiseSNR",
    "PitchShift",
    "Reverb",
    "TanhDistortion",
    "TimeShift",
    "TimeStretch",
    "WaveformAugment",
    "WaveformPipeline",
    "create_waveform_augment",
    "decaying_noise_ir",
    "list_waveform_augments",
]
