from __future__ import annotations

import math

import pytest
import torch

from wildtag.models import Tagger, create_head, create_tagger
from wildtag.models.card import ModelCard
from wildtag.models.keras_attention import KerasAttentionHead

C, K = 8, 4


def _features(batch: int = 3, num_bins: int = 5, num_frames: int = 9, seed: int = 0) -> torch.Tensor:
    return torch.randn(batch, C, num_bins, num_frames, generator=torch.Generator().manual_seed(seed))


def _head(**kwargs) -> KerasAttentionHead:
    torch.manual_seed(0)
    return create_head("keras_attention", in_features=C, num_classes=K, **kwargs).eval()


def test_uniform_attention_gives_the_mean_frame_probability():
    head = _head()
    with torch.no_grad():
        head.attention.weight.zero_()
        head.attention.bias.zero_()
    out = head(_features())
    assert out["frame_logits"].shape == (3, 9, K)
    expected = torch.sigmoid(out["frame_logits"]).mean(dim=1)
    torch.testing.assert_close(torch.sigmoid(out["logits"]), expected)


@pytest.mark.parametrize("attention_clip", [10.0, 0.5, None])
def test_clip_probability_is_the_softmax_attention_average_of_frame_probabilities(attention_clip):
    head = _head(attention_clip=attention_clip)
    with torch.no_grad():
        head.attention.weight.mul_(5.0)  # logits beyond the clip for the small bound
    seen = []
    head.attention.register_forward_hook(lambda module, args, out: seen.append(out))
    out = head(_features(seed=1))
    attention_logits = seen[0]  # (B, K, T) before clipping
    if attention_clip == 0.5:
        assert attention_logits.abs().amax() > attention_clip  # the bound is in play
    if attention_clip is not None:
        attention_logits = attention_logits.clamp(-attention_clip, attention_clip)
    weights = torch.exp(attention_logits - attention_logits.logsumexp(dim=-1, keepdim=True))
    frame_p = torch.sigmoid(out["frame_logits"]).transpose(1, 2)
    clip_p = (weights * frame_p).sum(dim=-1)
    torch.testing.assert_close(torch.sigmoid(out["logits"]), clip_p)
    if attention_clip is not None:  # no frame weighs more than exp(2 * clip) times another
        ratio = weights.detach().amax(dim=-1) / weights.detach().amin(dim=-1)
        assert float(ratio.amax()) <= math.exp(2 * attention_clip) * 1.001


def test_features_are_averaged_over_frequency():
    head = _head()
    features = _features(seed=2)
    shuffled = features[:, :, torch.randperm(5, generator=torch.Generator().manual_seed(0))]
    flat = features.mean(dim=2, keepdim=True).expand_as(features)
    expected = head(features)
    for other in (shuffled, flat):
        for key, value in head(other).items():
            torch.testing.assert_close(value, expected[key])


def test_saturated_frames_give_finite_clamped_logits():
    head = _head()
    features = _features(seed=3).requires_grad_(True)
    bound = math.log((1 - 1e-6) / 1e-6)
    for bias in (100.0, -100.0):
        with torch.no_grad():
            head.classifier.weight.zero_()
            head.classifier.bias.fill_(bias)
        logits = head(features)["logits"]
        logits.sum().backward()
        assert torch.isfinite(features.grad).all() and torch.isfinite(head.attention.weight.grad).all()
        torch.testing.assert_close(logits.detach(), torch.full((3, K), math.copysign(bound, bias)))


def test_logits_pooling_averages_frame_logits_like_the_notebook():
    head = _head(clip_pooling="logits")
    features = _features(num_frames=1, seed=4).expand(-1, -1, -1, 6)  # every frame the same
    out = head(features)
    torch.testing.assert_close(out["logits"], out["frame_logits"][:, 0])
    varied = head(_features(seed=5))
    frame = varied["frame_logits"]
    logits = varied["logits"]
    assert bool(((logits >= frame.amin(dim=1) - 1e-5) & (logits <= frame.amax(dim=1) + 1e-5)).all())


def test_dropout_acts_in_training_only():
    head = _head(dropout=0.5)
    features = _features(seed=6)
    expected = head(features)["logits"]
    head.train()
    torch.manual_seed(1)
    assert not torch.allclose(head(features)["logits"], expected)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"dropout": 1.0}, "dropout"),
        ({"attention_clip": 0.0}, "attention_clip"),
        ({"clip_pooling": "max"}, "clip_pooling='max'"),
    ],
)
def test_bad_settings_raise_naming_them(kwargs, message):
    with pytest.raises(ValueError, match=message):
        create_head("keras_attention", in_features=C, num_classes=K, **kwargs)


def test_keras_attention_tagger_round_trips_through_its_preprocessing():
    model = create_tagger(
        {"frontend": {"name": "logmel", "n_fft": 512, "hop_length": 160, "n_mels": 32},
         "backbone": {"name": "tiny_cnn", "widths": [4, 8, 8, 16]},
         "head": {"name": "keras_attention", "dropout": 0.1, "clip_pooling": "logits"}},
        num_classes=K,
        sample_rate=16000,
        window_s=1.0,
    )  # fmt: skip
    wave = torch.randn(2, 16000, generator=torch.Generator().manual_seed(7))
    model.train()
    model(wave)["logits"].sum().backward()
    clone = Tagger.from_card(ModelCard.from_json(model.card.to_json()))
    assert clone.head.clip_pooling == "logits" and clone.head.dropout.p == 0.1
    clone.load_state_dict(model.state_dict())
    model.eval()
    clone.eval()
    with torch.no_grad():
        expected, actual = model(wave), clone(wave)
    assert expected["frame_logits"].shape == (2, 101 // 16, K)
    for key in ("logits", "frame_logits"):
        assert torch.equal(expected[key], actual[key]), key
