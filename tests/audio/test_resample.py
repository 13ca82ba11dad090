import numpy as np
import pytest

from wildtag.audio import resample
from wildtag.testing import tone


def test_equal_rates_return_the_signal_as_float32():
    x = np.arange(10, dtype=np.float64)
    y = resample(x, 16000, 16000)
    assert y.dtype == np.float32
    np.testing.assert_array_equal(y, x)


@pytest.mark.parametrize(("orig_sr", "target_sr"), [(8000, 32000), (44100, 32000), (384000, 32000)])
def test_length_and_tone_frequency_are_kept(orig_sr, target_sr, peak_hz):
    x = tone(orig_sr, 1.0, 1000.0)
    y = resample(x, orig_sr, target_sr)
    assert y.dtype == np.float32
    assert len(y) == target_sr
    assert peak_hz(y, target_sr) == pytest.approx(1000.0, abs=2.0)


def test_content_above_the_new_nyquist_is_removed_not_aliased():
    # A 25 kHz bat-like tone at 384 kHz would alias to 7 kHz at 32 kHz without the low-pass filter.
    y = resample(tone(384000, 0.5, 25000.0, amplitude=0.5), 384000, 32000)
    assert np.sqrt(np.mean(y[1000:-1000] ** 2)) < 1e-3


def test_multichannel_input_keeps_its_channels():
    y = resample(tone(16000, 0.5, 440.0, num_channels=2), 16000, 8000)
    assert y.shape == (4000, 2)


@pytest.mark.parametrize("bad", [0, -16000, 1.5])
def test_rejects_a_rate_that_is_not_a_positive_whole_number(bad):
    with pytest.raises(ValueError, match="target_sr"):
        resample(np.zeros(10, np.float32), 16000, bad)
