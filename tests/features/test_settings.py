"""One SpectrogramSettings record for every spectrogram frontend; recipes keep the flat keywords."""

from __future__ import annotations

import dataclasses
import inspect

import pytest
import torch

from wildtag.features import FRONTENDS, LogMelFrontend, StftFrontend, create_frontend
from wildtag.features.multi import StftMelFrontend
from wildtag.features.settings import SpectrogramSettings

SR = 16000
NAMES = {StftFrontend: "stft", LogMelFrontend: "logmel", StftMelFrontend: "stft_mel"}
SPECTROGRAM_FRONTENDS = tuple(NAMES)


def test_the_record_and_the_flat_keywords_build_the_same_frontend():
    settings = SpectrogramSettings(n_fft=512, hop_length=128, f_min=300.0, power=1.0, normalize="none")
    wave = torch.randn(2, 4000, generator=torch.Generator().manual_seed(0))
    for cls in SPECTROGRAM_FRONTENDS:
        by_record = cls(SR, settings)
        flat = dict(dataclasses.asdict(settings))
        by_name = FRONTENDS.create(NAMES[cls], sample_rate=SR, **flat)
        assert by_record.settings == by_name.settings == settings
        torch.testing.assert_close(by_record(wave), by_name(wave))
        assert list(by_record.state_dict()) == list(by_name.state_dict())


def test_keywords_change_a_given_record():
    base = SpectrogramSettings(n_fft=512, hop_length=128)
    frontend = LogMelFrontend(SR, base, n_mels=32, freq_coord=True)
    assert frontend.settings == base.replace(freq_coord=True)
    assert (frontend.n_fft, frontend.hop_length, frontend.out_channels, frontend.n_bins) == (512, 128, 2, 32)


def test_each_frontend_keeps_its_own_defaults():
    assert StftFrontend(SR).settings == SpectrogramSettings(f_min=0.0, power=1.0)
    assert LogMelFrontend(SR).settings == SpectrogramSettings() == StftMelFrontend(SR).settings
    assert (StftFrontend(SR).power, LogMelFrontend(SR).power, LogMelFrontend(SR).f_min) == (1.0, 2.0, 50.0)


def test_the_advertised_signature_lists_every_setting_with_the_frontends_default():
    fields = [f.name for f in dataclasses.fields(SpectrogramSettings)]
    for cls in SPECTROGRAM_FRONTENDS:
        params = inspect.signature(cls).parameters
        assert set(fields) <= set(params) and "sample_rate" in params
        assert all(params[name].default == getattr(cls.DEFAULTS, name) for name in fields)
    assert "n_mels" in inspect.signature(LogMelFrontend).parameters
    assert "n_mels" not in inspect.signature(StftFrontend).parameters


def test_an_unknown_keyword_names_the_closest_setting():
    with pytest.raises(TypeError, match=r"unknown spectrogram setting 'hop_lenght' \(did you mean 'hop_length'\?\)"):
        create_frontend("logmel", sample_rate=SR, hop_lenght=160)
    with pytest.raises(TypeError, match="'colour'; settings: n_fft, hop_length"):
        SpectrogramSettings().replace(colour="red")


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"n_fft": 0}, "n_fft must be > 0"),
        ({"win_length": 2048}, r"win_length must be in \(0, n_fft=1024\]"),
        ({"scale": "dB"}, "scale='dB' is not one of"),
        ({"normalize": "global"}, "normalize='global'"),
        ({"top_db": -3.0}, "top_db must be > 0"),
    ],
)
def test_the_record_checks_its_values(changes, message):
    with pytest.raises(ValueError, match=message):
        SpectrogramSettings(**changes)


def test_the_band_is_checked_against_nyquist():
    assert SpectrogramSettings(f_min=0.0).band(SR) == (0.0, 8000.0)
    with pytest.raises(ValueError, match="above Nyquist"):
        SpectrogramSettings(f_max=9000.0).band(SR)
    with pytest.raises(ValueError, match="must be below f_max"):
        SpectrogramSettings(f_min=5000.0, f_max=4000.0).band(SR)
    with pytest.raises(ValueError, match="sample_rate must be > 0"):
        SpectrogramSettings().band(0)
