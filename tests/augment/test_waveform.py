from __future__ import annotations

import pickle
import random

import numpy as np
import pytest

from wildtag.augment.waveform import (
    WAVEFORM_AUGMENTS,
    Gain,
    WaveformPipeline,
    create_waveform_augment,
    decaying_noise_ir,
    list_waveform_augments,
)
from wildtag.registry import UnknownNameError
from wildtag.testing import tone

SR = 16000

# Parameters that make every transform change a signal clearly when applied.
STRONG = {
    "gaussian_noise_snr": {"min_snr_db": 5, "max_snr_db": 20},
    "gain": {"min_gain_db": -12, "max_gain_db": 12},
    "pitch_shift": {"min_semitones": -4, "max_semitones": 4},
    "time_stretch": {"min_rate": 0.8, "max_rate": 1.25},
    "clipping_distortion": {"min_percentile_threshold": 10, "max_percentile_threshold": 40},
    "time_shift": {"max_shift_fraction": 0.5},
    "tanh_distortion": {"min_distortion": 0.3, "max_distortion": 0.9},
    "reverb": {"min_rt60_s": 0.2, "max_rt60_s": 0.6, "min_wet": 0.3, "max_wet": 0.6},
}

# (kwargs, the parameter the error must name) for each transform.
BAD_PARAMETERS = {
    "gaussian_noise_snr": [
        ({"min_snr_db": 30, "max_snr_db": 10}, "min_snr_db"),
        ({"max_snr_db": np.nan}, "max_snr_db"),
    ],
    "gain": [({"min_gain_db": 6, "max_gain_db": 0}, "min_gain_db"), ({"max_gain_db": "6"}, "max_gain_db")],
    "pitch_shift": [({"min_semitones": -30}, "min_semitones"), ({"max_semitones": 25}, "max_semitones")],
    "time_stretch": [({"min_rate": 0.0}, "min_rate"), ({"min_rate": 1.5, "max_rate": 1.2}, "min_rate")],
    "clipping_distortion": [
        ({"max_percentile_threshold": 101}, "max_percentile_threshold"),
        ({"min_percentile_threshold": -1}, "min_percentile_threshold"),
        ({"max_percentile_threshold": 12.5}, "max_percentile_threshold"),
    ],
    "time_shift": [
        ({"max_shift_fraction": 1.5}, "max_shift_fraction"),
        ({"rollover": "yes"}, "rollover"),
        ({"fade_duration_s": -0.1}, "fade_duration_s"),
    ],
    "tanh_distortion": [
        ({"max_distortion": 1.2}, "max_distortion"),
        ({"min_distortion": -0.1}, "min_distortion"),
    ],
    "reverb": [
        ({"min_rt60_s": 0.0}, "min_rt60_s"),
        ({"min_rt60_s": 2.0, "max_rt60_s": 1.0}, "min_rt60_s"),
        ({"max_wet": 1.5}, "max_wet"),
        ({"early_reflections": 1}, "early_reflections"),
    ],
}

NAMES = sorted(STRONG)


def _signal(num_samples: int = 8000, seed: int = 0) -> np.ndarray:
    """A tone plus a little noise: non-trivial for every transform."""
    noise = 0.05 * np.random.default_rng(seed).standard_normal(num_samples).astype(np.float32)
    return tone(SR, num_samples / SR, 440.0, amplitude=0.5) + noise


def _peak_hz(x: np.ndarray) -> float:
    spectrum = np.abs(np.fft.rfft(x * np.hanning(len(x))))
    return float(np.fft.rfftfreq(len(x), 1 / SR)[np.argmax(spectrum)])


def _band_power(x: np.ndarray, f0_hz: float, width_hz: float = 20.0) -> float:
    spectrum = np.abs(np.fft.rfft(x * np.hanning(len(x)))) ** 2
    freqs = np.fft.rfftfreq(len(x), 1 / SR)
    return float(spectrum[np.abs(freqs - f0_hz) < width_hz].sum())


def _power(x: np.ndarray) -> float:
    return float(np.mean(np.square(x, dtype=np.float64)))


# ---- every registered transform ------------------------------------------------------------------


def test_registry_holds_every_transform():
    assert list_waveform_augments() == NAMES
    assert list_waveform_augments("time_*") == ["time_shift", "time_stretch"]
    with pytest.raises(UnknownNameError, match="'reverb'"):
        create_waveform_augment("reverbb")


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("num_samples", [8000, 7919])
def test_keeps_length_and_float32(name, num_samples):
    augment = create_waveform_augment(name, **STRONG[name], p=1.0)
    x = _signal(num_samples).astype(np.float64)
    y = augment(x, SR, np.random.default_rng(0))
    assert y.shape == (num_samples,)
    assert y.dtype == np.float32
    assert np.all(np.isfinite(y))


@pytest.mark.parametrize("name", NAMES)
def test_p0_is_identity_and_p1_changes(name):
    x = _signal()
    unchanged = create_waveform_augment(name, **STRONG[name], p=0.0)(x, SR, np.random.default_rng(0))
    np.testing.assert_array_equal(unchanged, x)
    changed = create_waveform_augment(name, **STRONG[name], p=1.0)(x, SR, np.random.default_rng(0))
    assert not np.allclose(changed, x, atol=1e-3)


@pytest.mark.parametrize("name", NAMES)
def test_same_seed_same_output_other_seed_other_output(name):
    augment = create_waveform_augment(name, **STRONG[name], p=1.0)
    x = _signal()
    outputs = [augment(x, SR, np.random.default_rng(seed)) for seed in (0, 0, 1, 2)]
    np.testing.assert_array_equal(outputs[0], outputs[1])
    assert not np.array_equal(outputs[0], outputs[2])
    assert not np.array_equal(outputs[0], outputs[3])
    assert not np.array_equal(outputs[2], outputs[3])


@pytest.mark.parametrize("name", NAMES)
def test_global_random_state_is_untouched(name):
    random.seed(123)
    np.random.seed(123)  # noqa: NPY002 - the legacy global state is what is checked
    before = (random.getstate(), np.random.get_state()[1].copy())  # noqa: NPY002
    create_waveform_augment(name, **STRONG[name], p=1.0)(_signal(), SR, np.random.default_rng(0))
    assert random.getstate() == before[0]
    np.testing.assert_array_equal(np.random.get_state()[1], before[1])  # noqa: NPY002


@pytest.mark.parametrize("name", NAMES)
def test_probability_applies_about_p_of_the_time(name):
    augment = create_waveform_augment(name, **STRONG[name], p=0.3)
    x = _signal(2000)
    rng = np.random.default_rng(5)
    applied = sum(not np.array_equal(augment(x, SR, rng), x) for _ in range(200))
    assert 40 <= applied <= 80


@pytest.mark.parametrize(
    ("name", "kwargs", "parameter"),
    [(name, kwargs, parameter) for name, cases in BAD_PARAMETERS.items() for kwargs, parameter in cases],
)
def test_bad_parameters_raise_naming_the_parameter(name, kwargs, parameter):
    with pytest.raises(ValueError, match=parameter):
        create_waveform_augment(name, **kwargs)


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("p", [-0.1, 1.5, "0.5"])
def test_bad_probability_raises(name, p):
    with pytest.raises(ValueError, match=r"\bp must"):
        create_waveform_augment(name, p=p)


def test_rejects_multichannel_and_bad_sample_rate_passes_empty():
    augment = Gain(p=1.0)
    with pytest.raises(ValueError, match=r"mono .*\(2, 100\)"):
        augment(np.zeros((2, 100), np.float32), SR, np.random.default_rng(0))
    with pytest.raises(ValueError, match="sample_rate"):
        augment(np.zeros(100, np.float32), 0, np.random.default_rng(0))
    assert augment(np.zeros(0, np.float32), SR, np.random.default_rng(0)).shape == (0,)


# ---- what each transform does ---------------------------------------------------------------------


def test_gaussian_noise_has_the_requested_snr():
    x = tone(SR, 1.0, 440.0, amplitude=0.5)
    for snr_db in (5.0, 20.0):
        augment = create_waveform_augment("gaussian_noise_snr", min_snr_db=snr_db, max_snr_db=snr_db, p=1.0)
        noise = augment(x, SR, np.random.default_rng(3)) - x
        measured_db = 10 * np.log10(_power(x) / _power(noise))
        assert measured_db == pytest.approx(snr_db, abs=1.0)
        assert abs(noise.mean()) < 0.1 * noise.std()  # white noise, not an offset


def test_gaussian_noise_snr_is_drawn_within_its_range():
    x = tone(SR, 0.5, 440.0)
    augment = create_waveform_augment("gaussian_noise_snr", min_snr_db=10, max_snr_db=30, p=1.0)
    rng = np.random.default_rng(0)
    snrs = [10 * np.log10(_power(x) / _power(augment(x, SR, rng) - x)) for _ in range(30)]
    assert 9.5 <= min(snrs) and max(snrs) <= 30.5
    assert max(snrs) - min(snrs) > 10  # actually spread over the range


def test_gain_of_6_db_doubles_the_amplitude():
    x = _signal()
    y = create_waveform_augment("gain", min_gain_db=6, max_gain_db=6, p=1.0)(x, SR, np.random.default_rng(0))
    np.testing.assert_allclose(y, x * 1.995, rtol=1e-3, atol=1e-6)


def test_gain_is_drawn_within_its_range():
    x = _signal()
    augment = create_waveform_augment("gain", min_gain_db=-6, max_gain_db=3, p=1.0)
    rng = np.random.default_rng(1)
    gains_db = [20 * np.log10(np.max(np.abs(augment(x, SR, rng))) / np.max(np.abs(x))) for _ in range(30)]
    assert -6.01 <= min(gains_db) < -3 and 0 < max(gains_db) <= 3.01


@pytest.mark.parametrize(
    ("semitones", "expected_hz"), [(12, 880.0), (-12, 220.0), (7, 440.0 * 2 ** (7 / 12))]
)
def test_pitch_shift_moves_the_spectral_peak(semitones, expected_hz):
    x = tone(SR, 0.5, 440.0)
    augment = create_waveform_augment("pitch_shift", min_semitones=semitones, max_semitones=semitones, p=1.0)
    y = augment(x, SR, np.random.default_rng(0))
    assert len(y) == len(x)
    assert _peak_hz(y) == pytest.approx(expected_hz, abs=8.0)


def test_time_stretch_moves_a_burst_and_keeps_its_pitch():
    n = SR  # 1 s with a 1 kHz burst from 0.4 to 0.6 s
    t = np.arange(n) / SR
    x = np.where((t >= 0.4) & (t < 0.6), 0.5 * np.sin(2 * np.pi * 1000 * t), 0.0).astype(np.float32)
    faster = create_waveform_augment("time_stretch", min_rate=2, max_rate=2, p=1.0)(
        x, SR, np.random.default_rng(0)
    )
    energy = np.square(faster)
    centre_s = float(np.sum(t * energy) / np.sum(energy))
    assert centre_s == pytest.approx(0.25, abs=0.03)  # 0.5 s / 2
    assert energy[n // 2 + 800 :].sum() < 1e-6 * energy.sum()  # the end is padding
    assert _peak_hz(faster) == pytest.approx(1000.0, abs=8.0)

    slower = create_waveform_augment("time_stretch", min_rate=0.5, max_rate=0.5, p=1.0)(
        x, SR, np.random.default_rng(0)
    )
    loud_s = t[np.abs(slower) > 0.1]
    assert loud_s.min() == pytest.approx(0.8, abs=0.05)  # 0.4 s * 2; the rest is cropped
    assert _peak_hz(slower) == pytest.approx(1000.0, abs=8.0)


def test_clipping_limits_the_peak_at_the_percentiles():
    x = _signal(16000)
    augment = create_waveform_augment(
        "clipping_distortion", min_percentile_threshold=20, max_percentile_threshold=20, p=1.0
    )
    y = augment(x, SR, np.random.default_rng(0))
    assert y.max() == pytest.approx(np.percentile(x, 90), rel=1e-5)
    assert y.min() == pytest.approx(np.percentile(x, 10), rel=1e-5)
    assert y.max() < 0.9 * x.max()
    assert np.mean(y >= y.max()) == pytest.approx(0.10, abs=0.01)
    inside = (x > y.min()) & (x < y.max())
    np.testing.assert_array_equal(y[inside], x[inside])  # clipped, not rescaled


def test_time_shift_rolls_the_samples():
    x = np.random.default_rng(0).standard_normal(1000).astype(np.float32)  # all values distinct
    augment = create_waveform_augment("time_shift", max_shift_fraction=0.3, fade_duration_s=0.0, p=1.0)
    shifts = set()
    for seed in range(5):
        y = augment(x, SR, np.random.default_rng(seed))
        shift = int(np.flatnonzero(y == x[0])[0])
        np.testing.assert_array_equal(y, np.roll(x, shift))
        signed = shift if shift <= 500 else shift - 1000
        assert abs(signed) <= 300
        shifts.add(signed)
    assert len(shifts) == 5


def test_time_shift_without_rollover_fills_zeros():
    x = np.ones(1000, np.float32)
    augment = create_waveform_augment("time_shift", max_shift_fraction=0.5, rollover=False, p=1.0)
    for seed in range(4):
        y = augment(x, SR, np.random.default_rng(seed))
        zeros = int(np.sum(y == 0.0))
        assert 0 < zeros <= 500
        # The zeros form one block at the start or the end.
        assert np.all(y[:zeros] == 0.0) or np.all(y[-zeros:] == 0.0)


def test_tanh_distortion_adds_harmonics_at_the_same_loudness():
    x = tone(SR, 0.5, 440.0, amplitude=0.5)
    augment = create_waveform_augment("tanh_distortion", min_distortion=0.6, max_distortion=0.6, p=1.0)
    y = augment(x, SR, np.random.default_rng(0))
    assert np.sqrt(_power(y)) == pytest.approx(np.sqrt(_power(x)), rel=0.01)
    third_harmonic = _band_power(y, 3 * 440.0) / _band_power(y, 440.0)
    assert third_harmonic > 1000 * _band_power(x, 3 * 440.0) / _band_power(x, 440.0)
    assert np.max(np.abs(y)) < np.max(np.abs(x))  # squashed peaks: a lower crest factor


def _late_energy_fraction(y: np.ndarray, click: int, after_s: float) -> float:
    energy = np.square(y.astype(np.float64))
    return float(energy[click + int(after_s * SR) :].sum() / energy.sum())


def test_reverb_lengthens_a_clicks_decay():
    click = 800
    x = np.zeros(SR, np.float32)
    x[click] = 1.0
    assert _late_energy_fraction(x, click, 0.01) == 0.0

    def reverb(rt60_s: float) -> np.ndarray:
        augment = create_waveform_augment(
            "reverb", min_rt60_s=rt60_s, max_rt60_s=rt60_s, min_wet=0.5, max_wet=0.5, p=1.0
        )
        return augment(x, SR, np.random.default_rng(0))

    short, long = reverb(0.2), reverb(0.8)
    # Half the energy is wet and decays by 60 dB over rt60: a quarter of it is left 10 ms after the click.
    assert _late_energy_fraction(short, click, 0.01) > 0.1
    assert np.max(np.abs(short[:click])) < 1e-6  # causal: nothing before the click
    assert _late_energy_fraction(long, click, 0.2) > 3 * _late_energy_fraction(short, click, 0.2)
    for y in (short, long):
        assert np.sqrt(_power(y)) == pytest.approx(np.sqrt(_power(x)), rel=1e-3)


def test_reverb_keeps_the_rms_of_noise():
    x = _signal(16000)
    y = create_waveform_augment("reverb", min_wet=0.5, max_wet=0.5, p=1.0)(x, SR, np.random.default_rng(0))
    assert np.sqrt(_power(y)) == pytest.approx(np.sqrt(_power(x)), rel=0.01)
    silent = np.zeros(1000, np.float32)
    np.testing.assert_array_equal(
        create_waveform_augment("reverb", p=1.0)(silent, SR, np.random.default_rng(0)), silent
    )


def test_decaying_noise_ir_decays_60_db_over_rt60():
    ir = decaying_noise_ir(0.5, SR, np.random.default_rng(0), early_reflections=False)
    assert ir.shape == (SR // 2,) and ir.dtype == np.float32
    assert float(np.sum(np.square(ir, dtype=np.float64))) == pytest.approx(1.0, rel=1e-5)
    tenth = len(ir) // 10
    first, last = _power(ir[:tenth]), _power(ir[-tenth:])
    assert 10 * np.log10(first / last) == pytest.approx(54.0, abs=3.0)  # -60 dB * (1 - 1/10)
    with_early = decaying_noise_ir(0.5, SR, np.random.default_rng(0), early_reflections=True)
    early = slice(int(0.002 * SR), int(0.05 * SR) + 1)
    taps = np.count_nonzero(np.abs(with_early) > 2 * np.abs(ir))  # the same noise, plus 3-7 sparse taps
    assert 3 <= taps <= 7
    assert np.count_nonzero(np.abs(with_early[early]) > 2 * np.abs(ir[early])) == taps


# ---- pipeline --------------------------------------------------------------------------------------


def test_pipeline_switches_off_from_off_epoch():
    x = _signal()
    pipeline = WaveformPipeline.from_specs(
        [{"name": "gain", "min_gain_db": 6, "max_gain_db": 6, "p": 1.0}], 3
    )
    assert pipeline.epoch == 0 and pipeline.active
    for epoch in (0, 2):
        pipeline.epoch = epoch
        np.testing.assert_allclose(pipeline(x, SR, np.random.default_rng(0)), x * 1.995, rtol=1e-3)
    for epoch in (3, 10):
        pipeline.epoch = epoch
        assert not pipeline.active
        np.testing.assert_array_equal(pipeline(x, SR, np.random.default_rng(0)), x)
    always = WaveformPipeline([Gain(p=1.0)])
    always.epoch = 1000
    assert always.active


def test_pipeline_applies_transforms_in_order_and_reproducibly():
    x = _signal()
    specs = [
        {"name": "gain", "min_gain_db": 6, "max_gain_db": 6, "p": 1.0},
        {
            "name": "clipping_distortion",
            "min_percentile_threshold": 20,
            "max_percentile_threshold": 20,
            "p": 1.0,
        },
    ]
    pipeline = WaveformPipeline.from_specs(specs)
    assert [type(t).__name__ for t in pipeline.transforms] == ["Gain", "ClippingDistortion"]
    y = pipeline(x, SR, np.random.default_rng(0))
    assert y.max() == pytest.approx(1.995 * np.percentile(x, 90), rel=1e-3)  # gain first, then clip
    busy = WaveformPipeline.from_specs([{"name": name, **kw, "p": 0.5} for name, kw in STRONG.items()])
    a, b = busy(x, SR, np.random.default_rng(7)), busy(x, SR, np.random.default_rng(7))
    np.testing.assert_array_equal(a, b)
    assert a.shape == x.shape and a.dtype == np.float32


def test_pipeline_spec_errors():
    with pytest.raises(UnknownNameError, match="Did you mean 'gain'"):
        WaveformPipeline.from_specs([{"name": "gian"}])
    with pytest.raises(ValueError, match="augmentation 1 needs a 'name'"):
        WaveformPipeline.from_specs([{"name": "gain"}, {"p": 0.5}])
    with pytest.raises(ValueError, match=r"augmentation 0 \('gain'\).*min_gain"):
        WaveformPipeline.from_specs([{"name": "gain", "min_gain": 3}])
    with pytest.raises(ValueError, match="max_wet"):
        WaveformPipeline.from_specs([{"name": "reverb", "max_wet": 2.0}])
    with pytest.raises(ValueError, match="off_epoch"):
        WaveformPipeline([], off_epoch=-1)


def test_registry_is_the_shared_kind():
    assert WAVEFORM_AUGMENTS.kind == "waveform augmentation"
    assert isinstance(create_waveform_augment("gain"), Gain)


def test_pipeline_pickles_for_dataloader_workers():
    pipeline = WaveformPipeline.from_specs([{"name": name, **kw, "p": 0.5} for name, kw in STRONG.items()], 4)
    pipeline.epoch = 2
    copy = pickle.loads(pickle.dumps(pipeline))
    assert copy.epoch == 2 and copy.off_epoch == 4
    x = _signal()
    np.testing.assert_array_equal(
        copy(x, SR, np.random.default_rng(3)), pipeline(x, SR, np.random.default_rng(3))
    )
