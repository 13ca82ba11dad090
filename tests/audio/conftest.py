from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from wildtag.testing import write_tone


@pytest.fixture
def peak_hz() -> Callable[[np.ndarray, int], float]:
    """The frequency of the strongest FFT bin of a signal (Hann-windowed)."""

    def peak(x: np.ndarray, sample_rate: int) -> float:
        spectrum = np.abs(np.fft.rfft(x * np.hanning(len(x))))
        return float(np.argmax(spectrum) * sample_rate / len(x))

    return peak


@pytest.fixture
def bad_files(tmp_path: Path) -> dict[str, Path]:
    """One broken file per failure the audio layer must name: corrupt, empty, truncated, NaN, no frames."""
    rng = np.random.default_rng(0)
    corrupt = tmp_path / "corrupt.wav"
    corrupt.write_bytes(rng.bytes(4000))
    empty = tmp_path / "empty.wav"
    empty.write_bytes(b"")
    flac = write_tone(tmp_path / "whole.flac", sample_rate=16000, duration_s=3.0, freq_hz=440.0)
    truncated = tmp_path / "truncated.flac"
    truncated.write_bytes(flac.read_bytes()[: int(flac.stat().st_size * 0.6)])
    with_nan = tmp_path / "nan.wav"
    x = np.zeros(16000, dtype=np.float32)
    x[12000] = np.nan
    sf.write(with_nan, x, 16000, subtype="FLOAT")
    no_frames = tmp_path / "no_frames.wav"
    sf.write(no_frames, np.zeros(0, dtype=np.float32), 16000)
    return {
        "missing": tmp_path / "missing.wav",
        "corrupt": corrupt,
        "empty": empty,
        "truncated": truncated,
        "nan": with_nan,
        "no_frames": no_frames,
    }
