from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from wildtag.inference.tiles import cut_tiles, tile_scores, tile_starts
from wildtag.models import create_tagger

SR = 16000


class TrackModel(nn.Module):
    """A Tagger-shaped stub: the "spectrogram" (B, K, 1, T) is given, and a tile's logit for class k is
    the mean of channel k over the tile, so every expected score can be worked out by hand."""

    def __init__(self, spec: torch.Tensor):
        super().__init__()
        self.spec = spec
        self.tile_widths: list[int] = []

    def forward_frontend(self, wave: torch.Tensor) -> torch.Tensor:
        assert wave.shape[0] == self.spec.shape[0]
        return self.spec

    def forward_features(self, spec: torch.Tensor) -> torch.Tensor:
        self.tile_widths.append(spec.shape[-1])
        return spec

    def forward_head(self, features: torch.Tensor) -> dict[str, torch.Tensor]:
        return {"logits": features.mean(dim=(2, 3))}


def _track(length: int, spans: list[tuple[int, int, float]]) -> list[float]:
    values = [0.0] * length
    for start, stop, value in spans:
        values[start:stop] = [value] * (stop - start)
    return values


def _sigmoid(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-x))


def _stub(*tracks: list[float]) -> TrackModel:
    """One example, one class per track."""
    return TrackModel(torch.tensor([tracks], dtype=torch.float64).unsqueeze(2))


WAVE = torch.zeros(1, 10)


def test_tile_starts_stride_end_aligned_and_half_shifted():
    assert tile_starts(64, 16) == [0, 16, 32, 48]
    assert tile_starts(40, 16) == [0, 16, 24]  # the last tile ends at frame 40, no padding
    assert tile_starts(64, 16, half_shift=True) == [0, 8, 16, 24, 32, 40, 48]
    assert tile_starts(40, 16, half_shift=True) == [0, 8, 16, 24]
    assert tile_starts(30, 30) == tile_starts(30, 64) == [0]
    with pytest.raises(ValueError, match="must be positive"):
        tile_starts(0, 16)


def test_max_over_tiles_then_mean_over_widths_by_hand():
    # Class 0: a loud 16-frame call at 32..48; class 1: a faint call over 0..64.
    model = _stub(_track(64, [(32, 48, 4.0)]), _track(64, [(0, 64, 1.0)]))
    scores = tile_scores(model, WAVE, [16, 32])
    # width 16: tiles 0-16, 16-32, 32-48, 48-64 -> class 0 best mean 4, class 1 mean 1 everywhere
    # width 32: tiles 0-32, 32-64               -> class 0 best mean 2, class 1 mean 1
    expected = [(_sigmoid(4.0) + _sigmoid(2.0)) / 2, _sigmoid(1.0)]
    torch.testing.assert_close(scores, torch.tensor([expected], dtype=torch.float64))
    assert sorted(set(model.tile_widths)) == [16, 32]


def test_half_shift_adds_tiles_across_the_boundaries():
    # A call at frames 12..20 straddles the boundary at 16: each plain tile holds half of it.
    model = _stub(_track(64, [(12, 20, 8.0)]))
    plain = tile_scores(model, WAVE, [16])
    shifted = tile_scores(model, WAVE, [16], half_shift=True)
    torch.testing.assert_close(plain, torch.tensor([[_sigmoid(8.0 * 4 / 16)]], dtype=torch.float64))
    torch.testing.assert_close(shifted, torch.tensor([[_sigmoid(8.0 * 8 / 16)]], dtype=torch.float64))


def test_last_tile_is_aligned_to_the_end_not_padded():
    # 40 frames, width 16: the call at 36..40 is scored in tile 24..40, averaged over 16 real frames.
    model = _stub(_track(40, [(36, 40, 8.0)]))
    scores = tile_scores(model, WAVE, [16])
    torch.testing.assert_close(scores, torch.tensor([[_sigmoid(8.0 * 4 / 16)]], dtype=torch.float64))
    assert model.tile_widths == [16]


def test_softmax_activation_per_tile():
    a = _track(32, [(0, 16, 2.0)])
    b = _track(32, [(16, 32, 1.0)])
    scores = tile_scores(_stub(a, b), WAVE, [16], activation="softmax")
    # tile 0-16: logits (2, 0); tile 16-32: logits (0, 1); softmax per tile, then max per class
    first = torch.softmax(torch.tensor([2.0, 0.0], dtype=torch.float64), 0)
    second = torch.softmax(torch.tensor([0.0, 1.0], dtype=torch.float64), 0)
    torch.testing.assert_close(scores[0], torch.maximum(first, second))
    with pytest.raises(ValueError, match="activation must be one of sigmoid, softmax; got 'relu'"):
        tile_scores(_stub(a, b), WAVE, [16], activation="relu")


def test_tiles_per_batch_gives_the_same_scores():
    torch.manual_seed(0)
    model = TrackModel(torch.randn(3, 4, 2, 100, dtype=torch.float64))
    whole = tile_scores(model, torch.zeros(3, 10), [16, 40], half_shift=True)
    chunked = tile_scores(model, torch.zeros(3, 10), [16, 40], half_shift=True, tiles_per_batch=5)
    torch.testing.assert_close(whole, chunked)
    assert whole.shape == (3, 4)


def test_cut_tiles_keeps_each_examples_tiles_together():
    spec = torch.arange(2 * 3 * 4 * 10, dtype=torch.float32).reshape(2, 3, 4, 10)
    tiles = cut_tiles(spec, 4, [0, 4, 6])
    assert tiles.shape == (6, 3, 4, 4)
    torch.testing.assert_close(tiles[4], spec[1, :, :, 4:8])
    torch.testing.assert_close(tiles[2], spec[0, :, :, 6:10])


@pytest.fixture(scope="module")
def tagger():
    cfg = {
        "frontend": {"name": "logmel", "n_fft": 512, "hop_length": 160, "n_mels": 32},
        "backbone": {"name": "tiny_cnn", "widths": [8, 8, 16, 16]},
        "head": {"name": "linear"},
    }
    torch.manual_seed(0)
    return create_tagger(cfg, num_classes=3, sample_rate=SR).eval()


@pytest.fixture(scope="module")
def wave():
    return torch.randn(2, SR // 2, generator=torch.Generator().manual_seed(1))


def test_one_tile_of_the_whole_spectrogram_equals_the_plain_model(tagger, wave):
    frames = tagger.forward_frontend(wave).shape[-1]
    with torch.no_grad():
        plain = torch.sigmoid(tagger(wave)["logits"])
        plain_softmax = torch.softmax(tagger(wave)["logits"], dim=-1)
    torch.testing.assert_close(tile_scores(tagger, wave, [frames]), plain)
    torch.testing.assert_close(tile_scores(tagger, wave, [frames + 500]), plain)
    torch.testing.assert_close(tile_scores(tagger, wave, [frames], activation="softmax"), plain_softmax)


def test_tagger_tiles_match_manually_cut_tiles(tagger, wave):
    spec = tagger.forward_frontend(wave)
    frames = spec.shape[-1]
    expected = []
    for width in (16, 24):
        starts = list(range(0, frames - width + 1, width))
        if starts[-1] + width < frames:
            starts.append(frames - width)
        probs = []
        for start in starts:
            with torch.no_grad():
                tile = spec[..., start : start + width]
                probs.append(torch.sigmoid(tagger.forward_head(tagger.forward_features(tile))["logits"]))
        expected.append(torch.stack(probs).amax(dim=0))
    scores = tile_scores(tagger, wave, [16, 24])
    torch.testing.assert_close(scores, torch.stack(expected).mean(dim=0))
    assert scores.shape == (2, 3) and not scores.requires_grad


def test_widths_too_narrow_or_bad_are_refused(tagger, wave):
    with pytest.raises(ValueError, match="tile width 8 frames .* at least 16"):
        tile_scores(tagger, wave, [64, 8])
    with pytest.raises(ValueError, match="tile width 20.5 frames"):
        tile_scores(tagger, wave, [20.5])
    with pytest.raises(ValueError, match="widths_frames is empty"):
        tile_scores(tagger, wave, [])
    with pytest.raises(ValueError, match=r"\(B, N\)"):
        tile_scores(tagger, wave[0], [32])
    with pytest.raises(ValueError, match="tile width 24 frames .* at least 32"):
        tile_scores(tagger, wave, [24], min_width_frames=32)  # e.g. for a backbone that downsamples by 32


def test_box_crop_taggers_are_refused(wave):
    cfg = {
        "frontend": {"name": "logmel", "n_fft": 512, "hop_length": 160, "n_mels": 32},
        "backbone": {"name": "tiny_cnn", "widths": [8, 8, 16, 16]},
        "head": {"name": "linear"},
        "box_crop": {"out_bins": 32, "out_frames": 64},
    }
    model = create_tagger(cfg, num_classes=3, sample_rate=SR).eval()
    with pytest.raises(ValueError, match="without box_crop"):
        tile_scores(model, wave, [32])
