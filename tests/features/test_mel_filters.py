"""wildtag's own Slaney mel filter bank equals librosa's bit for bit (so trained models score as before)."""

import librosa
import numpy as np
import pytest

from wildtag.features.mel import hz_to_mel, mel_frequencies, mel_to_hz, slaney_mel_filters


@pytest.mark.parametrize("sample_rate,n_fft,n_mels,f_min,f_max", [
    (22050, 1024, 64, 50.0, 11025.0), (32000, 1024, 128, 0.0, 16000.0), (16000, 512, 32, 50.0, 8000.0),
    (48000, 2048, 96, 150.0, 14000.0), (44100, 4096, 256, 20.0, 22050.0), (256000, 512, 48, 15000.0, 120000.0),
])
def test_filters_and_centres_equal_librosas(sample_rate, n_fft, n_mels, f_min, f_max):
    ours = slaney_mel_filters(sample_rate, n_fft, n_mels, f_min, f_max)
    theirs = librosa.filters.mel(sr=sample_rate, n_fft=n_fft, n_mels=n_mels, fmin=f_min, fmax=f_max, htk=False,
                                 norm="slaney")
    assert ours.dtype == theirs.dtype == np.float32 and ours.shape == theirs.shape
    np.testing.assert_array_equal(ours, theirs)
    np.testing.assert_array_equal(mel_frequencies(n_mels + 2, f_min, f_max),
                                  librosa.mel_frequencies(n_mels=n_mels + 2, fmin=f_min, fmax=f_max, htk=False))


def test_the_mel_scale_is_linear_below_1_khz_and_round_trips():
    hz = np.array([0.0, 200.0, 999.0, 1000.0, 4000.0, 20000.0])
    np.testing.assert_allclose(hz_to_mel(hz), librosa.hz_to_mel(hz, htk=False), rtol=1e-12)
    assert hz_to_mel(200.0) == pytest.approx(3.0)
    np.testing.assert_allclose(mel_to_hz(hz_to_mel(hz)), hz, rtol=1e-12, atol=1e-9)
