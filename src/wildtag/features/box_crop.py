"""Per-example time/frequency crop of a spectrogram, resized to a fixed image (the RFCx 2021 winners' input).

Each example's box ``[f0_hz, f1_hz, valid_s]`` selects a frequency band and the first ``valid_s`` seconds::

    freq ^
   f1_hz |  +-----------+ . . . .          +---------------+
         |  |  cropped  |            ->    |    resized    | out_bins
   f0_hz |  +-----------+ . . . .          |               |
         +--0--------valid_s------> time   +---------------+
                                               out_frames

so every class is seen at the same image size, stretched from its own band and duration. A frequency
coordinate channel computed by the frontend is cropped along with the spectrogram, so it tells the
network which absolute band it is looking at.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn


def _bin_position(freq_hz_of_bins: Tensor, freq_hz: Tensor) -> Tensor:
    """Fractional row index of each frequency in ``freq_hz`` by linear interpolation between bin centres."""
    num_bins = len(freq_hz_of_bins)
    if num_bins == 1:
        return torch.zeros_like(freq_hz)
    upper = torch.searchsorted(freq_hz_of_bins, freq_hz.contiguous()).clamp(1, num_bins - 1)
    low_hz, high_hz = freq_hz_of_bins[upper - 1], freq_hz_of_bins[upper]
    position = (upper - 1).to(freq_hz.dtype) + (freq_hz - low_hz) / (high_hz - low_hz)
    return position.clamp(0, num_bins - 1)


def box_crop_resize(
    spec: Tensor,
    freq_hz_of_bins: Tensor,
    boxes: Tensor,
    frames_per_s: float,
    out_bins: int,
    out_frames: int,
) -> Tensor:
    """Crop each example of ``spec`` (B, C, F, T) to its box and resize bilinearly to (out_bins, out_frames).

    ``freq_hz_of_bins`` (F,) ascending gives each row's frequency; ``boxes`` (B, 3) holds
    ``[f0_hz, f1_hz, valid_s]``. Output row 0 samples ``f0_hz`` and the last row ``f1_hz``; column 0 samples
    frame 0 and the last column the frame at ``valid_s`` (clamped to the spectrogram). A NaN in a box means
    "no limit": the lowest bin, the highest bin, or all frames.

        >>> box_crop_resize(spec, frontend.freq_hz, torch.tensor([[2000.0, 4000.0, 1.5]]), 100.0, 64, 128)
    """
    if spec.ndim != 4:
        raise ValueError(
            f"expected a spectrogram shaped (batch, channels, bins, frames), got {tuple(spec.shape)}"
        )
    batch, _, num_bins, num_frames = spec.shape
    if boxes.shape != (batch, 3):
        raise ValueError(
            f"expected boxes shaped ({batch}, 3) as [f0_hz, f1_hz, valid_s], got {tuple(boxes.shape)}"
        )
    if len(freq_hz_of_bins) != num_bins:
        raise ValueError(
            f"freq_hz_of_bins has {len(freq_hz_of_bins)} entries for {num_bins} spectrogram bins"
        )
    if out_bins < 1 or out_frames < 1:
        raise ValueError(f"out_bins and out_frames must be >= 1, got {out_bins} and {out_frames}")

    freqs = freq_hz_of_bins.to(device=spec.device, dtype=torch.float32)
    boxes = boxes.to(device=spec.device, dtype=torch.float32)
    f0_hz = torch.where(boxes[:, 0].isnan(), freqs[0], boxes[:, 0])
    f1_hz = torch.where(boxes[:, 1].isnan(), freqs[-1], boxes[:, 1])
    last_frame = (boxes[:, 2] * frames_per_s).nan_to_num(nan=float(num_frames - 1)).clamp(0, num_frames - 1)
    row0, row1 = _bin_position(freqs, f0_hz), _bin_position(freqs, f1_hz)

    steps_f = torch.linspace(0, 1, out_bins, device=spec.device)
    steps_t = torch.linspace(0, 1, out_frames, device=spec.device)
    rows = row0[:, None] + (row1 - row0)[:, None] * steps_f  # (B, out_bins)
    cols = last_frame[:, None] * steps_t  # (B, out_frames)
    # grid_sample with align_corners=True maps -1 / +1 to the centres of the first / last pixel.
    y = 2 * rows / max(num_bins - 1, 1) - 1
    x = 2 * cols / max(num_frames - 1, 1) - 1
    grid = torch.stack(torch.broadcast_tensors(x[:, None, :], y[:, :, None]), dim=-1)
    return F.grid_sample(
        spec, grid.to(spec.dtype), mode="bilinear", padding_mode="border", align_corners=True
    )


class BoxCropResize(nn.Module):
    """:func:`box_crop_resize` as a module with a fixed output size (used inside a Tagger)."""

    def __init__(self, out_bins: int, out_frames: int):
        super().__init__()
        if out_bins < 1 or out_frames < 1:
            raise ValueError(f"out_bins and out_frames must be >= 1, got {out_bins} and {out_frames}")
        self.out_bins, self.out_frames = int(out_bins), int(out_frames)

    def forward(self, spec: Tensor, boxes: Tensor, freq_hz_of_bins: Tensor, frames_per_s: float) -> Tensor:
        return box_crop_resize(spec, freq_hz_of_bins, boxes, frames_per_s, self.out_bins, self.out_frames)

    def extra_repr(self) -> str:
        return f"out_bins={self.out_bins}, out_frames={self.out_frames}"
