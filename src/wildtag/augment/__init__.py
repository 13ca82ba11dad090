"""Augmentations: waveform transforms on CPU workers, spectrogram transforms and batch mixing on the device."""
