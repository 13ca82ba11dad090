from __future__ import annotations

import pytest
import torch

from wildtag.models import HEADS, AttentionHead, LinearHead, create_head

C, K = 16, 5


def _features(batch: int = 3, num_bins: int = 4, num_frames: int = 7, seed: int = 0) -> torch.Tensor:
    return torch.randn(batch, C, num_bins, num_frames, generator=torch.Generator().manual_seed(seed))


@pytest.mark.parametrize("name", HEADS.list())
def test_every_head_gives_finite_logits_and_gradients(name):
    head = create_head(name, in_features=C, num_classes=K).train()
    features = _features().requires_grad_(True)
    out = head(features)
    assert out["logits"].shape == (3, K)
    if "frame_logits" in out:
        assert out["frame_logits"].shape == (3, 7, K)
    assert all(torch.isfinite(v).all() for v in out.values())
    out["logits"].sum().backward()
    assert torch.isfinite(features.grad).all() and features.grad.abs().sum() > 0


@pytest.mark.parametrize(
    ("pool", "reduce"),
    [
        ("avg", lambda f: f.mean(dim=(2, 3))),
        ("max", lambda f: f.amax(dim=(2, 3))),
        ("avgmax", lambda f: (f.mean(dim=(2, 3)) + f.amax(dim=(2, 3))) / 2),
    ],
)
def test_linear_head_pools_over_frequency_and_time(pool, reduce):
    head = LinearHead(C, K, pool=pool).eval()
    features = _features()
    expected = reduce(features) @ head.fc.weight.T + head.fc.bias
    torch.testing.assert_close(head(features)["logits"], expected)


def test_concat_pool_head_feeds_average_and_max_pools_to_its_mlp():
    head = create_head("concat_pool", in_features=C, num_classes=K, hidden_features=8).eval()
    assert head.layers[-1].out_features == K
    seen = []
    head.layers[0].register_forward_hook(lambda module, args, out: seen.append(args[0]))
    features = _features()
    head(features)
    torch.testing.assert_close(
        seen[0], torch.cat([features.mean(dim=(2, 3)), features.amax(dim=(2, 3))], dim=1)
    )


@pytest.mark.parametrize("clip_pooling", ["probs", "logits"])
def test_attention_head_on_a_constant_clip_returns_the_frame_logit(clip_pooling):
    head = AttentionHead(C, K, dropout=0.0, clip_pooling=clip_pooling).eval()
    features = _features(num_frames=1).expand(-1, -1, -1, 9)  # every frame the same
    out = head(features)
    torch.testing.assert_close(out["logits"], out["frame_logits"][:, 0], atol=1e-5, rtol=1e-5)


def test_attention_clip_probability_is_an_attention_average_of_frame_probabilities():
    head = AttentionHead(C, K, dropout=0.0, clip_pooling="probs").eval()
    out = head(_features(seed=1))
    clip_p = torch.sigmoid(out["logits"])
    frame_p = torch.sigmoid(out["frame_logits"])
    assert bool((clip_p >= frame_p.amin(dim=1) - 1e-6).all() and (clip_p <= frame_p.amax(dim=1) + 1e-6).all())


def test_attention_head_does_not_saturate_on_extreme_frame_logits():
    head = AttentionHead(C, K, dropout=0.0).eval()
    with torch.no_grad():
        head.classifier.weight.mul_(1000.0)
    features = _features(seed=2).requires_grad_(True)
    out = head(features)
    assert out["frame_logits"].abs().amax() > 100  # sigmoid is 0 or 1 in float32 there
    assert torch.isfinite(out["logits"]).all()
    out["logits"].sum().backward()
    assert torch.isfinite(features.grad).all() and features.grad.abs().sum() > 0


@pytest.mark.parametrize(
    ("name", "kwargs", "message"),
    [
        ("linear", {"pool": "mean"}, "pool='mean'"),
        ("linear", {"dropout": 1.0}, "dropout"),
        ("attention", {"smooth_frames": 2}, "smooth_frames"),
        ("attention", {"clip_pooling": "max"}, "clip_pooling"),
        ("concat_pool", {"dropout2": -0.1}, "dropout2"),
    ],
)
def test_bad_head_settings_raise_naming_them(name, kwargs, message):
    with pytest.raises(ValueError, match=message):
        create_head(name, in_features=C, num_classes=K, **kwargs)


def test_heads_check_the_feature_shape():
    with pytest.raises(ValueError, match=r"\(batch, 16, F, T\)"):
        create_head("linear", in_features=C, num_classes=K)(torch.zeros(2, 8, 3, 3))
