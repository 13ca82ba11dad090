from __future__ import annotations

import librosa
import numpy as np
import pytest
import torch

from wildtag.features import FRONTENDS, LogMelFrontend, StftFrontend, create_frontend
from wildtag.registry import UnknownNameError
from wildtag.testing import tone

SR = 16000


def _tone(freq_hz: float, duration_s: float = 0.5, amplitude: float = 0.5) -> torch.Tensor:
    return torch.from_numpy(tone(SR, duration_s, freq_hz, amplitude))[None]


@pytest.mark.parametrize("name", [n for n in FRONTENDS.list() if not getattr(FRONTENDS.get(n), "is_embedding", False)])
@pytest.mark.parametrize("freq_coord", [False, True])
@pytest.mark.parametrize("normalize", ["per_bin", "batchnorm", "none"])
def test_every_frontend_gives_finite_float32_images_of_the_announced_shape(name, freq_coord, normalize):
    frontend = create_frontend(
        name, sample_rate=SR, n_fft=1024, hop_length=256, freq_coord=freq_coord, normalize=normalize
    )
    wave = torch.randn(3, 4000, generator=torch.Generator().manual_seed(0), requires_grad=True)
    spec = frontend(wave)
    assert spec.dtype == torch.float32
    assert spec.shape == (3, frontend.out_channels, frontend.n_bins, frontend.num_frames(4000))
    assert frontend.out_channels == create_frontend(name, sample_rate=SR).out_channels + int(freq_coord)
    assert len(frontend.freq_hz) == frontend.n_bins and bool((frontend.freq_hz.diff() > 0).all())
    assert torch.isfinite(spec).all()
    spec[:, 0].sum().backward()
    assert torch.isfinite(wave.grad).all()


@pytest.mark.parametrize("num_samples", [257, 1000, 1280, 4001])
def test_num_frames_matches_the_output(num_samples):
    frontend = StftFrontend(SR, n_fft=512, hop_length=128)
    assert frontend(torch.randn(1, num_samples)).shape[-1] == frontend.num_frames(num_samples)
    assert frontend.num_frames(num_samples) == num_samples // 128 + 1


def test_stft_magnitude_of_a_pure_tone_peaks_at_its_bin_with_the_expected_height():
    # 2000 Hz at 16 kHz with n_fft=512 is exactly bin 64; a periodic Hann window sums to n_fft / 2,
    # so a sine of amplitude A has |X| = A * n_fft / 4 there.
    frontend = StftFrontend(SR, n_fft=512, hop_length=128, scale="none", normalize="none")
    spec = frontend(_tone(2000.0, amplitude=0.5))[0, 0]
    interior = spec[:, 4:-4]
    assert bool((interior.argmax(dim=0) == 64).all())
    torch.testing.assert_close(interior[64], torch.full_like(interior[64], 0.5 * 512 / 4), rtol=1e-3, atol=0)
    assert frontend.freq_hz[64].item() == 2000.0


def test_stft_band_keeps_only_bins_inside_it_and_power_two_squares():
    frontend = StftFrontend(
        SR, n_fft=512, hop_length=128, f_min=1000.0, f_max=3000.0, power=2.0, scale="none", normalize="none"
    )
    # Bins are 31.25 Hz apart: 1000 Hz is bin 32, 3000 Hz is bin 96.
    assert frontend.n_bins == 96 - 32 + 1
    assert frontend.freq_hz[0].item() == 1000.0 and frontend.freq_hz[-1].item() == 3000.0
    spec = frontend(_tone(2000.0))[0, 0, :, 4:-4]
    assert bool((frontend.freq_hz[spec.argmax(dim=0)] == 2000.0).all())
    torch.testing.assert_close(
        spec.amax(dim=0), torch.full((spec.shape[1],), (0.5 * 512 / 4) ** 2), rtol=2e-3, atol=0
    )


def test_mel_energy_of_a_tone_lands_in_the_band_centred_nearest_to_it():
    f_min, f_max, n_mels = 50.0, 8000.0, 40
    frontend = LogMelFrontend(
        SR, n_fft=1024, hop_length=256, n_mels=n_mels, f_min=f_min, f_max=f_max, normalize="none"
    )
    spec = frontend(_tone(3000.0))[0, 0, :, 4:-4]
    # Slaney mel centres are evenly spaced in mel between f_min and f_max.
    centres_mel = np.linspace(librosa.hz_to_mel(f_min), librosa.hz_to_mel(f_max), n_mels + 2)[1:-1]
    expected_band = int(np.argmin(np.abs(centres_mel - librosa.hz_to_mel(3000.0))))
    assert bool((spec.argmax(dim=0) == expected_band).all())


def test_logmel_db_matches_librosa():
    y = np.random.default_rng(0).standard_normal(8000).astype(np.float32) * 0.1
    y += tone(SR, 0.5, 1500.0, 0.3)
    frontend = LogMelFrontend(
        SR, n_fft=512, hop_length=160, n_mels=48, f_min=50.0, normalize="none", top_db=80.0
    )
    ours = frontend(torch.from_numpy(y)[None])[0, 0].numpy()
    mel = librosa.feature.melspectrogram(
        y=y.astype(np.float64),
        sr=SR,
        n_fft=512,
        hop_length=160,
        n_mels=48,
        fmin=50.0,
        power=2.0,
        center=True,
        pad_mode="reflect",
    )
    reference = librosa.power_to_db(mel, ref=1.0, amin=1e-10, top_db=80.0)
    np.testing.assert_allclose(ours, reference, atol=2e-3)


def test_db_scale_floors_each_example_top_db_below_its_own_peak():
    loud = _tone(1000.0, amplitude=0.5)
    quiet = _tone(1000.0, amplitude=0.001)
    frontend = StftFrontend(SR, n_fft=256, hop_length=128, normalize="none", top_db=60.0)
    spec = frontend(torch.cat([loud, quiet]))
    peak = spec.amax(dim=(1, 2, 3))
    # A sine of amplitude 0.5 peaks at 20*log10(0.5 * 256 / 4); the quiet one 54 dB lower.
    assert abs(peak[0].item() - 20 * np.log10(0.5 * 256 / 4)) < 0.05
    assert abs(peak[0].item() - peak[1].item() - 20 * np.log10(500)) < 0.05
    torch.testing.assert_close(spec.amin(dim=(1, 2, 3)), peak - 60.0)


def test_log_scale_is_natural_log_of_the_unscaled_spectrogram_plus_offset():
    wave = torch.randn(2, 2000, generator=torch.Generator().manual_seed(1))
    plain = StftFrontend(SR, n_fft=256, hop_length=64, scale="none", normalize="none")(wave)
    logged = StftFrontend(SR, n_fft=256, hop_length=64, scale="log", normalize="none")(wave)
    torch.testing.assert_close(logged, torch.log(plain + 1e-6))


def test_freq_coord_channel_is_linspace_from_low_to_high_frequency():
    frontend = LogMelFrontend(SR, n_fft=512, hop_length=160, n_mels=32, freq_coord=True)
    spec = frontend(torch.randn(2, 3200))
    expected = torch.linspace(-1, 1, 32).view(1, 32, 1).expand(2, 32, spec.shape[-1])
    assert torch.equal(spec[:, 1], expected)


def test_per_bin_standardises_each_example_and_bin_over_time():
    wave = torch.randn(2, 16000, generator=torch.Generator().manual_seed(2)) * torch.tensor([[1.0], [0.01]])
    spec = StftFrontend(SR, n_fft=256, hop_length=128, normalize="per_bin")(wave)[:, 0]
    torch.testing.assert_close(spec.mean(dim=-1), torch.zeros(spec.shape[:2]), atol=1e-4, rtol=0)
    torch.testing.assert_close(
        spec.std(dim=-1, unbiased=False), torch.ones(spec.shape[:2]), atol=1e-3, rtol=0
    )


def test_per_bin_gives_exact_zeros_for_bins_constant_at_the_db_floor():
    """A bin at the top_db floor in every frame (seen in a real recording at -59.396 dB) standardises to exactly 0,
    not to the float rounding of its mean divided by the epsilon (which differed between torch and ONNX)."""
    frontend = LogMelFrontend(22050, n_fft=1024, hop_length=441, n_mels=64, f_min=50.0, normalize="per_bin")
    images = -40.0 + 10.0 * torch.randn(2, 1, 64, 101, generator=torch.Generator().manual_seed(7))
    images[0, 0, 21] = -59.39606475830078
    images[1, 0, :8] = -59.39606475830078
    with torch.no_grad():
        spec = frontend.finish(images)[:, 0]
    assert torch.equal(spec[0, 21], torch.zeros(101)) and torch.equal(spec[1, :8], torch.zeros(8, 101))
    torch.testing.assert_close(spec[1, 8:].std(dim=-1, unbiased=False), torch.ones(56), atol=1e-4, rtol=0)
    torch.testing.assert_close(spec[1, 8:].mean(dim=-1), torch.zeros(56), atol=1e-5, rtol=0)


def test_batchnorm_normalises_each_bin_over_the_batch_in_training_and_is_in_the_state_dict():
    frontend = StftFrontend(SR, n_fft=256, hop_length=128, normalize="batchnorm").train()
    spec = frontend(torch.randn(4, 4000, generator=torch.Generator().manual_seed(3)))[:, 0]
    per_bin = spec.transpose(0, 1).reshape(frontend.n_bins, -1)
    torch.testing.assert_close(per_bin.mean(dim=1), torch.zeros(frontend.n_bins), atol=1e-4, rtol=0)
    assert "bn.running_mean" in frontend.state_dict()
    assert not torch.equal(frontend.bn.running_mean, torch.zeros(frontend.n_bins))


def test_autocast_does_not_lower_the_frontend_precision():
    frontend = LogMelFrontend(SR, n_fft=512, hop_length=160, n_mels=32, normalize="none")
    wave = torch.randn(2, 4000, generator=torch.Generator().manual_seed(4))
    expected = frontend(wave)
    with torch.autocast(device_type="cpu", dtype=torch.bfloat16):
        spec = frontend(wave.to(torch.bfloat16))
    assert spec.dtype == torch.float32
    # Only the bfloat16 rounding of the input differs: well under 0.1 dB.
    torch.testing.assert_close(spec, expected, atol=0.1, rtol=0)


def test_a_batch_of_one_channel_waves_is_accepted():
    frontend = StftFrontend(SR, n_fft=256, hop_length=128)
    wave = torch.randn(2, 1, 2000)
    torch.testing.assert_close(frontend(wave), frontend(wave[:, 0]))


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"scale": "decibel"}, "scale='decibel'"),
        ({"normalize": "global"}, "normalize='global'"),
        ({"f_max": 9000.0}, "above Nyquist"),
        ({"f_min": 5000.0, "f_max": 4000.0}, "below f_max"),
        ({"hop_length": 0}, "hop_length"),
        ({"win_length": 2048}, "win_length"),
    ],
)
def test_bad_settings_raise_naming_the_setting(kwargs, message):
    with pytest.raises(ValueError, match=message):
        StftFrontend(SR, **kwargs)


def test_band_without_any_bin_raises():
    with pytest.raises(ValueError, match="no STFT bin"):
        StftFrontend(SR, n_fft=256, f_min=1010.0, f_max=1040.0)


def test_bad_waveforms_raise_with_their_shape():
    frontend = StftFrontend(SR, n_fft=512)
    with pytest.raises(ValueError, match=r"\(batch, samples\), got \(2, 3, 1000\)"):
        frontend(torch.zeros(2, 3, 1000))
    with pytest.raises(ValueError, match="too short for n_fft=512"):
        frontend(torch.zeros(1, 200))


def test_unknown_frontend_name_suggests_close_ones():
    with pytest.raises(UnknownNameError, match="logmel"):
        create_frontend("log_mel", sample_rate=SR)
