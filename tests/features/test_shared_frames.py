"""Frontend.scaled_windows (one STFT over a streamed block) equals the per-window frontend."""

import pytest
import torch

from wildtag.features import create_frontend
from wildtag.features.base import Frontend, shares_frames
from wildtag.inference.plan import window_start_samples

CASES = [
    # name, settings, window_n, hop_n (window hop, samples)
    ("logmel", dict(n_fft=1024, hop_length=256, n_mels=64, f_min=50.0, normalize="per_bin"), 8820, 4410 - 4410 % 256),
    ("logmel", dict(n_fft=512, hop_length=160, n_mels=32, normalize="batchnorm"), 6400, 3200),
    ("logmel", dict(n_fft=256, hop_length=200, n_mels=16, scale="log", freq_coord=True), 4000, 2000),  # hop > n_fft/2
    ("stft", dict(n_fft=400, hop_length=100, win_length=300, f_min=500.0, power=1.0), 3000, 700),
    ("stft", dict(n_fft=255, hop_length=64, top_db=None, normalize="none"), 2000, 640),  # odd n_fft
]


@pytest.mark.parametrize(("name", "settings", "window_n", "hop_n"), CASES)
def test_windows_from_one_stft_equal_the_per_window_frontend(name, settings, window_n, hop_n, monkeypatch):
    torch.manual_seed(0)
    shared = []
    real = Frontend._shared_frames
    monkeypatch.setattr(Frontend, "_shared_frames", lambda self, *a: shared.append(a[1]) or real(self, *a))
    frontend = create_frontend(name, sample_rate=16000, **settings).eval()
    if frontend.bn is not None:  # learnt-looking statistics, so that normalisation is not the identity
        frontend.bn.running_mean.uniform_(-50, 0)
        frontend.bn.running_var.uniform_(10, 100)
    signal = torch.randn(7 * window_n + 123) * torch.linspace(0.01, 1.0, 7 * window_n + 123)
    starts = torch.as_tensor(window_start_samples(len(signal), window_n, hop_n))
    assert int(starts[-1]) % frontend.hop_length != 0  # the end-aligned last window is off the hop grid
    with torch.inference_mode():
        expected = frontend(torch.stack([signal[s : s + window_n] for s in starts.tolist()]))
        got = frontend.finish(frontend.scaled_windows(signal, starts, window_n))
    assert got.shape == expected.shape
    assert len(shared) == 1 and len(shared[0]) == len(starts) - 1  # all but the end-aligned one from one STFT
    assert (got - expected).abs().max() <= 1e-5 * max(1.0, float(expected.abs().max()) / 100)


def test_a_zero_padded_short_window_and_single_windows_equal_the_per_window_frontend():
    frontend = create_frontend("logmel", sample_rate=16000, n_fft=512, hop_length=128, n_mels=32).eval()
    window_n = 8000
    short = torch.randn(3000)
    padded = torch.nn.functional.pad(short, (0, window_n - len(short)))  # what the stream makes of a short file
    with torch.inference_mode():
        expected = frontend(padded[None])
        got = frontend.finish(frontend.scaled_windows(padded, torch.tensor([0]), window_n))
    assert (got - expected).abs().max() <= 1e-4  # dB values up to ~100: 1e-6 relative


def test_windows_too_short_for_shared_frames_fall_back_to_per_window():
    frontend = create_frontend("logmel", sample_rate=16000, n_fft=1024, hop_length=512, n_mels=16).eval()
    signal = torch.randn(5000)
    starts = torch.tensor([0, 512, 1024])
    with torch.inference_mode():
        expected = frontend(torch.stack([signal[s : s + 1100] for s in starts.tolist()]))
        got = frontend.finish(frontend.scaled_windows(signal, starts, 1100))
    assert (got - expected).abs().max() <= 1e-4


def test_windows_outside_the_signal_are_refused_and_two_channel_frontends_do_not_share():
    frontend = create_frontend("logmel", sample_rate=16000, n_fft=512, hop_length=128, n_mels=32)
    with pytest.raises(ValueError, match="inside a signal"):
        frontend.scaled_windows(torch.randn(1000), torch.tensor([0, 500]), 600)
    assert shares_frames(frontend)
    assert not shares_frames(create_frontend("stft_mel", sample_rate=16000, n_fft=512, hop_length=128, n_mels=32))
