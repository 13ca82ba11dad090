from __future__ import annotations

import math

import pytest
import torch

from wildtag.features import BoxCropResize, LogMelFrontend, box_crop_resize

NAN = math.nan


def _ramp(batch: int, num_bins: int, num_frames: int, along: str) -> torch.Tensor:
    """A spectrogram whose value is the row index (along="freq") or the column index (along="time")."""
    if along == "freq":
        values = torch.arange(num_bins, dtype=torch.float32).view(1, 1, -1, 1)
    else:
        values = torch.arange(num_frames, dtype=torch.float32).view(1, 1, 1, -1)
    return values.expand(batch, 1, num_bins, num_frames).contiguous()


def test_a_known_band_picks_its_rows():
    spec = _ramp(2, 64, 50, "freq")
    freq_hz = torch.arange(64) * 100.0  # row r is r * 100 Hz
    boxes = torch.tensor([[1000.0, 2000.0, 1.0], [3000.0, 3500.0, 1.0]])
    out = box_crop_resize(spec, freq_hz, boxes, frames_per_s=10.0, out_bins=11, out_frames=4)
    assert out.shape == (2, 1, 11, 4)
    torch.testing.assert_close(out[0, 0, :, 0], torch.arange(10, 21, dtype=torch.float32), atol=1e-4, rtol=0)
    torch.testing.assert_close(out[1, 0, :, 0], torch.linspace(30, 35, 11), atol=1e-4, rtol=0)


def test_valid_seconds_pick_the_first_frames():
    spec = _ramp(2, 8, 100, "time")
    boxes = torch.tensor([[0.0, 700.0, 2.0], [0.0, 700.0, 0.5]])
    out = box_crop_resize(spec, torch.arange(8) * 100.0, boxes, frames_per_s=10.0, out_bins=3, out_frames=5)
    # 2 s at 10 frames/s ends at frame 20; 0.5 s at frame 5.
    torch.testing.assert_close(out[0, 0, 1], torch.tensor([0.0, 5.0, 10.0, 15.0, 20.0]), atol=1e-4, rtol=0)
    torch.testing.assert_close(out[1, 0, 1], torch.tensor([0.0, 1.25, 2.5, 3.75, 5.0]), atol=1e-4, rtol=0)


def test_uneven_bin_frequencies_interpolate_between_bin_centres():
    spec = _ramp(1, 4, 10, "freq")
    freq_hz = torch.tensor([0.0, 100.0, 300.0, 700.0])  # mel-like spacing
    out = box_crop_resize(spec, freq_hz, torch.tensor([[200.0, 500.0, 0.5]]), 10.0, out_bins=2, out_frames=2)
    torch.testing.assert_close(out[0, 0, :, 0], torch.tensor([1.5, 2.5]), atol=1e-4, rtol=0)


def test_nan_means_no_limit_and_out_of_range_is_clamped():
    spec = torch.randn(1, 2, 16, 40, generator=torch.Generator().manual_seed(0))
    freq_hz = torch.arange(16) * 50.0
    full = box_crop_resize(spec, freq_hz, torch.tensor([[NAN, NAN, NAN]]), 10.0, out_bins=16, out_frames=40)
    torch.testing.assert_close(full, spec, atol=1e-4, rtol=0)
    wide = box_crop_resize(
        spec, freq_hz, torch.tensor([[-100.0, 5000.0, 99.0]]), 10.0, out_bins=16, out_frames=40
    )
    torch.testing.assert_close(wide, spec, atol=1e-4, rtol=0)


def test_module_matches_function_and_passes_gradients():
    frontend = LogMelFrontend(16000, n_fft=512, hop_length=160, n_mels=40, freq_coord=True)
    spec = frontend(torch.randn(2, 8000)).requires_grad_(True)
    boxes = torch.tensor([[500.0, 4000.0, 0.3], [2000.0, 6000.0, 0.5]])
    crop = BoxCropResize(out_bins=24, out_frames=32)
    out = crop(spec, boxes, frontend.freq_hz, frontend.frames_per_s)
    expected = box_crop_resize(spec, frontend.freq_hz, boxes, frontend.frames_per_s, 24, 32)
    assert torch.equal(out, expected)
    # The cropped coordinate channel spans only the box's part of [-1, 1], in order.
    coord = out[:, 1, :, 0]
    assert bool((coord.diff(dim=1) > 0).all()) and coord[0, 0] > -1 and coord[1, -1] < 1
    out[:, 0].sum().backward()
    assert torch.isfinite(spec.grad).all() and spec.grad.abs().sum() > 0


@pytest.mark.parametrize(
    ("spec_shape", "boxes_shape", "message"),
    [((2, 1, 8, 10), (3, 3), r"boxes shaped \(2, 3\)"), ((8, 10), (2, 3), "batch, channels, bins, frames")],
)
def test_bad_shapes_raise(spec_shape, boxes_shape, message):
    with pytest.raises(ValueError, match=message):
        box_crop_resize(torch.zeros(spec_shape), torch.arange(8.0), torch.zeros(boxes_shape), 10.0, 4, 4)


def test_bin_frequency_count_must_match_the_spectrogram():
    with pytest.raises(ValueError, match="5 entries for 8"):
        box_crop_resize(torch.zeros(1, 1, 8, 10), torch.arange(5.0), torch.zeros(1, 3), 10.0, 4, 4)
    with pytest.raises(ValueError, match="out_bins and out_frames"):
        BoxCropResize(0, 4)
