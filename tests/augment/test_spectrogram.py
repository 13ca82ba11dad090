from __future__ import annotations

import pytest
import torch

from wildtag.augment.spectrogram import (
    FreqStripes,
    PowerContrast,
    SpecAugmentPipeline,
    TimeJitter,
    TimeStripes,
    WhiteNoiseDb,
    create_spec_augment,
    list_spec_augments,
)
from wildtag.registry import UnknownNameError

NAMES = ["freq_stripes", "power", "time_jitter", "time_stripes", "white_noise_db"]


def _spec(batch: int = 8, channels: int = 2, freq: int = 16, frames: int = 40, seed: int = 0) -> torch.Tensor:
    """A strictly positive batch whose last channel is a frequency-coordinate ramp, like a frontend's."""
    g = torch.Generator().manual_seed(seed)
    spec = 1.0 + torch.rand(batch, channels, freq, frames, generator=g)
    if channels > 1:
        spec[:, -1] = torch.linspace(-1.0, 1.0, freq)[:, None]
    return spec


def _make(name: str, seed: int = 0, **kwargs) -> torch.nn.Module:
    return create_spec_augment(
        name, p=kwargs.pop("p", 1.0), generator=torch.Generator().manual_seed(seed), **kwargs
    )


def test_registry_lists_the_contract_names():
    assert list_spec_augments() == NAMES
    with pytest.raises(UnknownNameError, match="time_stripes"):
        create_spec_augment("time_stripe")


@pytest.mark.parametrize("name", NAMES)
def test_keeps_shape_dtype_and_has_no_state(name):
    for dtype in (torch.float32, torch.bfloat16):
        spec = _spec().to(dtype)
        augment = _make(name)
        out = augment(spec)
        assert out.shape == spec.shape and out.dtype == dtype and out.device == spec.device
        assert not torch.equal(out, spec)
        assert list(augment.parameters()) == [] and augment.state_dict() == {}


@pytest.mark.parametrize("name", NAMES)
def test_p_zero_and_eval_mode_are_identity(name):
    spec = _spec()
    assert torch.equal(_make(name, p=0.0)(spec), spec)
    assert torch.equal(_make(name).eval()(spec), spec)


@pytest.mark.parametrize("name", NAMES)
def test_p_applies_per_example(name):
    spec = _spec(batch=400, channels=1, frames=60)
    kwargs = {"max_width_frames": 60} if name == "time_stripes" else {}
    out = _make(name, p=0.5, **kwargs)(spec)
    changed = (out != spec).flatten(1).any(1).float().mean().item()
    assert 0.35 < changed < 0.6  # about half (a few draws are no-ops: zero width, zero shift)


@pytest.mark.parametrize("name", NAMES)
def test_generator_reproduces_a_batch(name):
    spec = _spec()
    first, again, other = (_make(name, seed=s)(spec) for s in (3, 3, 4))
    assert torch.equal(first, again)
    assert not torch.equal(first, other)


@pytest.mark.parametrize("name", NAMES)
def test_channels_restrict_the_transform(name):
    spec = _spec()
    out = _make(name, channels=[0])(spec)
    assert torch.equal(out[:, 1], spec[:, 1])  # the coordinate channel is untouched
    assert not torch.equal(out[:, 0], spec[:, 0])
    with pytest.raises(ValueError, match=r"channels=\[0, 2\].*2 channel"):
        _make(name, channels=[0, 2])(spec)


@pytest.mark.parametrize("name", NAMES)
def test_gradients_flow(name):
    spec = _spec().requires_grad_(True)
    _make(name)(spec).square().sum().backward()
    assert spec.grad is not None and torch.isfinite(spec.grad).all() and spec.grad.abs().sum() > 0


@pytest.mark.parametrize(
    ("name", "kwargs", "message"),
    [
        ("time_stripes", {"p": 1.5}, "p must be a probability in"),
        ("time_stripes", {"num_stripes": -1}, "num_stripes"),
        ("freq_stripes", {"max_width_bins": 2.5}, "width"),
        ("freq_stripes", {"fill": "median"}, "fill='median'"),
        ("power", {"min_power": 0.0}, "min_power"),
        ("power", {"min_power": 2.0, "max_power": 1.0}, "min_power <= max_power"),
        ("time_jitter", {"max_shift_fraction": 1.5}, "max_shift_fraction"),
        ("time_jitter", {"mode": "wrap"}, "mode='wrap'"),
        ("white_noise_db", {"max_db": -1.0}, "max_db"),
        ("white_noise_db", {"channels": [0, 0]}, "distinct"),
    ],
)
def test_ranges_are_checked_at_construction(name, kwargs, message):
    with pytest.raises(ValueError, match=message):
        create_spec_augment(name, **kwargs)


def test_stripes_blank_exactly_the_given_cells():
    spec = _spec(batch=2, channels=1)
    params = {"start": torch.tensor([[3, 30], [0, 0]]), "width": torch.tensor([[5, 2], [0, 4]])}
    out = TimeStripes(num_stripes=2).apply(spec, params)
    blank = (out == 0).all(dim=2)[:, 0]  # (B, T): whole columns set to the fill
    expected = torch.zeros(2, 40, dtype=torch.bool)
    expected[0, 3:8] = expected[0, 30:32] = expected[1, 0:4] = True
    assert torch.equal(blank, expected)
    assert torch.equal(
        out[~expected[:, None, None, :].expand_as(out)], spec[~expected[:, None, None, :].expand_as(spec)]
    )

    freq = FreqStripes(num_stripes=1, fill="mean").apply(
        spec, {"start": torch.tensor([[2], [9]]), "width": torch.tensor([[3], [1]])}
    )
    means = spec.mean(dim=(-2, -1))[:, 0]
    assert torch.allclose(freq[0, 0, 2:5], means[0].expand(3, 40))
    assert torch.allclose(freq[1, 0, 9], means[1].expand(40))
    assert torch.equal(freq[0, 0, :2], spec[0, 0, :2]) and torch.equal(freq[1, 0, 10:], spec[1, 0, 10:])


@pytest.mark.parametrize(
    ("cls", "axis", "width_kw"),
    [
        (TimeStripes, -1, "max_width_frames"),
        (FreqStripes, -2, "max_width_bins"),
    ],
)
def test_drawn_stripes_are_contiguous_and_within_bounds(cls, axis, width_kw):
    max_width = 6
    spec = _spec(batch=300, channels=1)
    stripes = cls(num_stripes=1, p=1.0, generator=torch.Generator().manual_seed(1), **{width_kw: max_width})
    out = stripes(spec)
    zero = out == 0
    other = -2 if axis == -1 else -1
    blank = zero.all(dim=other)[:, 0]  # (B, size): whole columns (rows) blanked
    assert torch.equal(zero.any(dim=other)[:, 0], blank)  # nothing blanked partially
    widths = blank.sum(1)
    assert widths.max() == max_width and widths.min() == 0  # every width in 0..max is possible
    assert set(widths.tolist()) == set(range(max_width + 1))
    for row in blank[widths > 0]:
        cells = torch.nonzero(row).flatten()
        assert cells[-1] - cells[0] + 1 == cells.numel()  # one contiguous band


def test_stripes_cap_width_at_the_axis_length():
    out = TimeStripes(num_stripes=1, max_width_frames=100, p=1.0, generator=torch.Generator().manual_seed(0))(
        _spec(batch=50, channels=1, frames=10)
    )
    assert (out == 0).all(dim=2).sum(-1).max() == 10


def test_power_keeps_the_range_and_order_of_each_example():
    spec = torch.randn(16, 2, 16, 40) * 20 - 40  # dB-like, negative values
    out = PowerContrast(min_power=0.5, max_power=3.0, p=1.0, generator=torch.Generator().manual_seed(0))(spec)
    for reduce in (torch.amin, torch.amax):
        assert torch.allclose(reduce(out, dim=(-2, -1)), reduce(spec, dim=(-2, -1)), atol=1e-4)
    order = spec.flatten(2).argsort(-1)
    assert (out.flatten(2).gather(-1, order).diff(dim=-1) >= -1e-4).all()  # a monotone map
    assert not torch.allclose(out, spec)


def test_power_matches_the_formula():
    spec = torch.tensor([[[[-10.0, -5.0, 0.0, 10.0]]], [[[2.0, 2.0, 2.0, 2.0]]]])
    out = PowerContrast().apply(spec, {"power": torch.tensor([2.0, 3.0])})
    expected = -10.0 + 20.0 * torch.tensor([0.0, 0.25, 0.5, 1.0]) ** 2
    assert torch.allclose(out[0, 0, 0], expected)
    assert torch.equal(out[1], spec[1])  # a constant image is left alone


def test_power_draws_lie_in_range_log_uniformly():
    power_contrast = PowerContrast(min_power=0.5, max_power=2.0)
    draws = power_contrast.randomize_parameters(torch.zeros(4000, 1, 1, 1), torch.Generator())
    power = draws["power"]
    assert power.min() >= 0.5 and power.max() <= 2.0
    assert abs((power < 1).float().mean().item() - 0.5) < 0.05  # symmetric in log space


def test_time_jitter_rolls_each_example_within_the_limit():
    spec = torch.rand(32, 1, 4, 50)
    out = TimeJitter(max_shift_fraction=0.1, p=1.0, generator=torch.Generator().manual_seed(0))(spec)
    shifts = []
    for x, y in zip(spec, out, strict=True):
        found = [s for s in range(-5, 6) if torch.equal(torch.roll(x, s, dims=-1), y)]
        assert len(found) == 1
        shifts.append(found[0])
    assert min(shifts) < 0 < max(shifts)


def test_time_jitter_shift_mode_fills_the_vacated_frames():
    spec = _spec(batch=2, channels=1, frames=10)
    out = TimeJitter(mode="shift", fill="min").apply(spec, {"shift": torch.tensor([3, -2])})
    assert torch.equal(out[0, 0, :, 3:], spec[0, 0, :, :7])
    assert torch.equal(out[0, 0, :, :3], spec[0, 0].min().expand(16, 3))
    assert torch.equal(out[1, 0, :, :8], spec[1, 0, :, 2:])
    assert torch.equal(out[1, 0, :, 8:], spec[1, 0].min().expand(16, 2))


def test_white_noise_std_stays_below_max_db():
    spec = torch.zeros(400, 1, 32, 64)
    out = WhiteNoiseDb(max_db=3.0, p=1.0, generator=torch.Generator().manual_seed(0))(spec)
    std = out.flatten(1).std(dim=1)
    assert std.max() < 3.0 * 1.05 and std.max() > 2.7  # the upper end of U[0, 3] is reached
    assert abs(std.mean().item() - 1.5) < 0.15


def test_pipeline_applies_in_order_with_one_generator():
    specs = [{"name": "power"}, {"name": "time_stripes", "max_width_frames": 8}, {"name": "white_noise_db"}]
    pipeline = SpecAugmentPipeline.from_specs(specs, generator=torch.Generator().manual_seed(5))
    assert [type(a) for a in pipeline.augments] == [PowerContrast, TimeStripes, WhiteNoiseDb]
    spec = _spec()
    out = pipeline(spec)
    g = torch.Generator().manual_seed(5)
    manual = spec
    for augment in (
        PowerContrast(generator=g),
        TimeStripes(max_width_frames=8, generator=g),
        WhiteNoiseDb(generator=g),
    ):
        manual = augment(manual)
    assert torch.equal(out, manual)
    assert torch.equal(pipeline.eval()(spec), spec)
    holder = torch.nn.Module()
    holder.augment = pipeline
    assert holder.state_dict() == {}


def test_pipeline_names_the_bad_entry():
    with pytest.raises(ValueError, match="#1 must be a mapping with a 'name'"):
        SpecAugmentPipeline.from_specs([{"name": "power"}, {"p": 0.5}])
    with pytest.raises(ValueError, match=r"#0 \('power'\).*max_pow"):
        SpecAugmentPipeline.from_specs([{"name": "power", "max_pow": 2.0}])
    with pytest.raises(UnknownNameError, match="freq_stripes"):
        SpecAugmentPipeline.from_specs([{"name": "freq_stripe"}])


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
@pytest.mark.parametrize("name", NAMES)
def test_cuda_matches_cpu_draws(name):
    spec = _spec()
    cpu = _make(name, seed=2)(spec)
    cuda = _make(name, seed=2)(spec.cuda())
    assert cuda.device.type == "cuda"
    if name == "white_noise_db":  # same stds and channels, noise from the device's generator
        assert torch.equal((cuda.cpu() - spec) != 0, (cpu - spec) != 0)
    else:
        assert torch.allclose(cuda.cpu(), cpu, atol=1e-5)
