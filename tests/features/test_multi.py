from __future__ import annotations

import numpy as np
import pytest
import torch

from wildtag.features import LogMelFrontend, StftFrontend, create_frontend
from wildtag.features.multi import StftMelFrontend
from wildtag.models import Tagger, create_tagger
from wildtag.models.card import ModelCard
from wildtag.testing import tone

SR = 16000
SETTINGS = {"n_fft": 512, "hop_length": 160, "f_min": 300.0, "f_max": 6000.0}


def _wave(batch: int = 2, num_samples: int = 4000, seed: int = 0) -> torch.Tensor:
    return torch.randn(batch, num_samples, generator=torch.Generator().manual_seed(seed))


@pytest.mark.parametrize("normalize", ["per_bin", "none", "batchnorm"])
@pytest.mark.parametrize("scale", ["db", "log"])
def test_channels_are_the_single_frontends_outputs(normalize, scale):
    kwargs = {**SETTINGS, "scale": scale, "normalize": normalize}
    frontend = create_frontend("stft_mel", sample_rate=SR, n_mels=40, **kwargs).eval()
    wave = _wave()
    spec = frontend(wave).detach()
    assert spec.shape == (2, 2, 40, frontend.num_frames(4000)) and frontend.out_channels == 2
    mel = LogMelFrontend(SR, n_mels=40, **kwargs).eval()(wave)[:, 0].detach()
    torch.testing.assert_close(spec[:, 1], mel, rtol=0, atol=0)

    # Channel 0: the STFT frontend's image, linearly interpolated along frequency to n_mels rows.
    linear = StftFrontend(SR, power=2.0, **kwargs).eval()(wave)[:, 0].detach().numpy()
    rows = np.linspace(0, linear.shape[1] - 1, 40)
    bins = np.arange(linear.shape[1])
    expected = np.stack(
        [
            np.stack([np.interp(rows, bins, linear[b, :, t]) for t in range(linear.shape[2])], axis=1)
            for b in range(2)
        ]
    )
    np.testing.assert_allclose(spec[:, 0].detach().numpy(), expected, rtol=1e-5, atol=1e-3)
    assert torch.equal(spec[:, 0, 0], torch.from_numpy(linear[:, 0]))
    assert torch.equal(spec[:, 0, -1], torch.from_numpy(linear[:, -1]))


def test_frequency_axes_of_both_channels_locate_a_tone():
    frontend = StftMelFrontend(SR, n_mels=48, normalize="none", **SETTINGS)
    spec = frontend(torch.from_numpy(tone(SR, 0.5, 2500.0, 0.5))[None])[0, :, :, 4:-4]
    stft_rows, mel_rows = spec[0].argmax(dim=0), spec[1].argmax(dim=0)
    row_spacing_hz = float(frontend.stft_freq_hz.diff()[0])
    assert bool(((frontend.stft_freq_hz[stft_rows] - 2500.0).abs() <= row_spacing_hz).all())
    nearest_band = int((frontend.freq_hz - 2500.0).abs().argmin())
    assert bool(((mel_rows - nearest_band).abs() <= 1).all())
    # Bins 10..192 (312.5..6000 Hz) of the 512-point STFT, spread evenly over the 48 rows.
    assert frontend.stft_freq_hz[0].item() == 312.5 and frontend.stft_freq_hz[-1].item() == 6000.0
    torch.testing.assert_close(frontend.freq_hz, LogMelFrontend(SR, n_mels=48, **SETTINGS).freq_hz)


def test_both_channels_come_from_one_stft(monkeypatch):
    calls = []
    real_stft = torch.stft

    def counting_stft(*args, **kwargs):
        calls.append(1)
        return real_stft(*args, **kwargs)

    monkeypatch.setattr(torch, "stft", counting_stft)
    StftMelFrontend(SR, n_mels=32, **SETTINGS)(_wave())
    assert len(calls) == 1


def test_freq_coord_adds_a_third_channel_going_from_minus_one_to_one():
    frontend = StftMelFrontend(SR, n_mels=32, freq_coord=True, **SETTINGS)
    spec = frontend(_wave())
    assert frontend.out_channels == 3 and spec.shape[1] == 3
    expected = torch.linspace(-1, 1, 32).view(1, 32, 1).expand(2, 32, spec.shape[-1])
    assert torch.equal(spec[:, 2], expected)
    plain = StftMelFrontend(SR, n_mels=32, **SETTINGS)(_wave())
    assert torch.equal(spec[:, :2], plain)


def test_autocast_keeps_float32():
    frontend = StftMelFrontend(SR, n_mels=32, normalize="none", **SETTINGS)
    wave = _wave()
    with torch.autocast(device_type="cpu", dtype=torch.bfloat16):
        spec = frontend(wave.to(torch.bfloat16))
    assert spec.dtype == torch.float32
    # Only the input was rounded to bfloat16: the rest ran in float32.
    torch.testing.assert_close(spec, frontend(wave.to(torch.bfloat16).float()), atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"normalize": "global"}, "normalize='global'"),
        ({"scale": "decibel"}, "scale='decibel'"),
        ({"f_max": 9000.0}, "above Nyquist"),
        ({"n_mels": 0}, "n_mels"),
        ({"n_fft": 256, "f_min": 1010.0, "f_max": 1040.0}, "no STFT bin"),
    ],
)
def test_bad_settings_raise_naming_the_setting(kwargs, message):
    with pytest.raises(ValueError, match=message):
        StftMelFrontend(SR, **kwargs)


def test_bad_waveforms_raise_with_their_shape():
    with pytest.raises(ValueError, match=r"\(batch, samples\), got \(2, 3, 1000\)"):
        StftMelFrontend(SR, n_mels=32, **SETTINGS)(torch.zeros(2, 3, 1000))


def test_batchnorm_stft_mel_tagger_round_trips_through_its_preprocessing():
    model = create_tagger(
        {"frontend": {"name": "stft_mel", **SETTINGS, "n_mels": 32, "normalize": "batchnorm",
                      "freq_coord": True},
         "backbone": {"name": "tiny_cnn", "widths": [4, 8, 8, 16]}, "head": {"name": "linear"}},
        num_classes=3,
        sample_rate=SR,
        window_s=1.0,
    )  # fmt: skip
    assert model.backbone.blocks[0].conv1.in_channels == 3
    state = model.state_dict()
    assert {"frontend.stft.bn.running_mean", "frontend.mel.bn.running_mean"} <= set(state)
    wave = _wave(num_samples=SR, seed=1)
    model.train()
    model(wave)["logits"].sum().backward()  # moves the BatchNorm statistics
    assert not torch.equal(model.frontend.mel.bn.running_mean, torch.zeros(32))
    clone = Tagger.from_card(ModelCard.from_json(model.card.to_json()))
    clone.load_state_dict(model.state_dict())
    model.eval()
    clone.eval()
    with torch.no_grad():
        expected, actual = model(wave)["logits"], clone(wave)["logits"]
    assert torch.isfinite(expected).all() and torch.equal(expected, actual)
