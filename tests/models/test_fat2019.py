from __future__ import annotations

import pytest
import torch

from wildtag.models import Tagger, create_backbone, create_head, create_tagger
from wildtag.models.card import ModelCard
from wildtag.models.fat2019 import Fat2019CNN1d, Fat2019CNN2d, MLPHead

SR = 16000


def _spec(batch: int = 2, chans: int = 1, bins: int = 32, frames: int = 40, seed: int = 0) -> torch.Tensor:
    return torch.randn(batch, chans, bins, frames, generator=torch.Generator().manual_seed(seed))


def _widths(num_blocks: int, base_width: int, growth_rate: float) -> list[int]:
    return [round(base_width * growth_rate**i) for i in range(num_blocks)]


def _assert_trains(backbone: torch.nn.Module, spec: torch.Tensor) -> torch.Tensor:
    backbone.train()
    spec = spec.clone().requires_grad_(True)
    out = backbone(spec)
    assert torch.isfinite(out).all()
    out.square().sum().backward()
    assert torch.isfinite(spec.grad).all() and spec.grad.abs().sum() > 0
    for name, param in backbone.named_parameters():
        assert param.grad is not None and torch.isfinite(param.grad).all(), name
    return out


@pytest.mark.parametrize("start", [0, 1, 3])
def test_cnn2d_deep_supervision_vector_concatenates_the_supervised_blocks(start):
    backbone = Fat2019CNN2d(
        in_chans=2, num_blocks=4, base_width=8, growth_rate=1.5, start_deep_supervision_on=start
    )
    expected_width = sum(_widths(4, 8, 1.5)[start:])  # 8, 12, 18, 27
    assert backbone.num_features == expected_width
    block_outputs = []
    for block in backbone.blocks:
        block.register_forward_hook(lambda module, args, out: block_outputs.append(out))
    out = _assert_trains(backbone, _spec(chans=2))
    assert out.shape == (2, expected_width, 1, 1)
    # Each supervised block contributes its global max over F and T, in block order.
    expected = torch.cat([b.amax(dim=(2, 3)) for b in block_outputs[start:]], dim=1)
    torch.testing.assert_close(out[:, :, 0, 0], expected)


def test_cnn2d_defaults_follow_the_write_up():
    backbone = create_backbone("fat2019_cnn2d", in_chans=1)
    assert len(backbone.blocks) == 5 and backbone.start_deep_supervision_on == 1
    assert backbone.num_features == sum(_widths(5, 32, 1.5)[1:])
    assert all(isinstance(block.pool, torch.nn.MaxPool2d) for block in backbone.blocks)


def test_cnn2d_gru_variant_appends_a_time_recurrent_summary():
    kwargs = {"in_chans": 1, "num_blocks": 3, "base_width": 8, "growth_rate": 2.0}
    plain = Fat2019CNN2d(**kwargs)
    gru = Fat2019CNN2d(**kwargs, aggregation="gru", gru_hidden_size=5)
    assert gru.num_features == plain.num_features + 10 and plain.num_features == 16 + 32
    out = _assert_trains(gru, _spec(frames=64))
    assert out.shape == (2, plain.num_features + 10, 1, 1)
    # Same conv weights: the deep-supervision part is unchanged, the GRU part follows it.
    result = gru.load_state_dict(plain.state_dict(), strict=False)
    assert result.unexpected_keys == [] and all(k.startswith("gru.") for k in result.missing_keys)
    gru.eval()
    plain.eval()
    spec = _spec(seed=1, frames=64)
    with torch.no_grad():
        torch.testing.assert_close(gru(spec)[:, : plain.num_features], plain(spec))
    # The default hidden size is the last block's width.
    assert Fat2019CNN2d(**kwargs, aggregation="gru").num_features == plain.num_features + 2 * 32


def test_cnn2d_refuses_inputs_smaller_than_its_downsampling():
    backbone = Fat2019CNN2d(num_blocks=5, base_width=4)
    with pytest.raises(ValueError, match=r"F and T >= 32, got \(1, 1, 32, 20\)"):
        backbone(_spec(batch=1, bins=32, frames=20))


@pytest.mark.parametrize(
    ("cls", "kwargs", "message"),
    [
        (Fat2019CNN2d, {"start_deep_supervision_on": 5}, "blocks 0..4"),
        (Fat2019CNN2d, {"aggregation": "mean"}, "aggregation='mean'"),
        (Fat2019CNN2d, {"growth_rate": 0.0}, "growth_rate"),
        (Fat2019CNN2d, {"num_blocks": 0}, "num_blocks >= 1"),
        (Fat2019CNN1d, {"start_deep_supervision_on": -1}, "start_deep_supervision_on=-1"),
        (Fat2019CNN1d, {"in_bins": 0}, "in_bins"),
        (MLPHead, {"in_features": 4, "num_classes": 3, "dropout": 1.0}, "dropout"),
    ],
)
def test_bad_settings_raise_naming_them(cls, kwargs, message):
    with pytest.raises(ValueError, match=message):
        cls(**kwargs)


@pytest.mark.parametrize("frames", [1, 37, 64])
def test_cnn1d_reads_channels_and_bins_as_one_sequence_of_any_length(frames):
    backbone = Fat2019CNN1d(in_chans=2, num_blocks=3, base_width=6, growth_rate=1.5)
    assert backbone.num_features == sum(_widths(3, 6, 1.5)[1:])
    block_outputs = []
    for block in backbone.blocks:
        block.register_forward_hook(lambda module, args, out: block_outputs.append(out))
    out = _assert_trains(backbone, _spec(chans=2, bins=10, frames=frames))
    assert backbone.blocks[0].conv1.in_channels == 2 * 10  # the lazy conv took C * F rows
    assert out.shape == (2, backbone.num_features, 1, 1)
    expected = torch.cat([b.amax(dim=2) for b in block_outputs[1:]], dim=1)
    torch.testing.assert_close(out[:, :, 0, 0], expected)


def test_cnn1d_with_in_bins_is_built_at_once_and_checks_its_input():
    backbone = create_backbone("fat2019_cnn1d", in_chans=1, in_bins=12, num_blocks=2, base_width=4)
    assert not any(isinstance(p, torch.nn.UninitializedParameter) for p in backbone.parameters())
    assert backbone(_spec(bins=12)).shape == (2, 6, 1, 1)
    with pytest.raises(ValueError, match=r"channels x bins = 12 input rows, got 1 x 16"):
        backbone(_spec(bins=16))


def test_lazy_cnn1d_trains_with_an_optimiser_made_before_its_first_batch():
    model = create_tagger(
        {
            "frontend": {"name": "stft", "n_fft": 64, "hop_length": 32, "f_max": 2000.0},
            "backbone": {"name": "fat2019_cnn1d", "num_blocks": 2, "base_width": 4},
            "head": {"name": "mlp", "hidden_features": 8},
        },
        num_classes=3,
        sample_rate=SR,
    )
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-2)  # as training does: before any forward
    wave = torch.randn(2, 4000, generator=torch.Generator().manual_seed(0))
    torch.nn.functional.binary_cross_entropy_with_logits(model(wave)["logits"], torch.ones(2, 3)).backward()
    before = model.backbone.blocks[0].conv1.weight.detach().clone()
    assert before.shape == (4, model.frontend.n_bins, 3)
    optimizer.step()
    assert not torch.equal(model.backbone.blocks[0].conv1.weight, before)


def test_mlp_head_is_max_pool_then_two_linear_layers():
    head = create_head("mlp", in_features=6, num_classes=3, hidden_features=5).eval()
    features = _spec(chans=6, bins=3, frames=4)
    first, second = head.layers[0], head.layers[3]
    pooled = features.amax(dim=(2, 3))
    expected = torch.relu(pooled @ first.weight.T + first.bias) @ second.weight.T + second.bias
    torch.testing.assert_close(head(features)["logits"], expected)
    head.train()
    torch.manual_seed(0)
    assert not torch.allclose(head(features)["logits"], expected)  # dropout 0.5 in training


@pytest.mark.parametrize(
    ("backbone", "head"),
    [
        ({"name": "fat2019_cnn2d", "base_width": 4, "aggregation": "gru"}, {"name": "mlp"}),
        ({"name": "fat2019_cnn1d", "base_width": 4, "num_blocks": 3}, {"name": "linear"}),
        ({"name": "fat2019_cnn1d", "base_width": 4, "num_blocks": 3, "in_bins": 32}, {"name": "mlp"}),
    ],
)
def test_fat2019_taggers_round_trip_through_their_preprocessing(backbone, head):
    model = create_tagger(
        {"frontend": {"name": "logmel", "n_fft": 512, "hop_length": 160, "n_mels": 32, "freq_coord": True},
         "backbone": backbone, "head": head},
        num_classes=4,
        sample_rate=SR,
        window_s=1.0,
    )  # fmt: skip
    wave = torch.randn(2, SR, generator=torch.Generator().manual_seed(3))
    model.train()
    model(wave)["logits"].sum().backward()  # also sets BatchNorm statistics away from their defaults
    clone = Tagger.from_card(ModelCard.from_json(model.card.to_json()))
    clone.load_state_dict(model.state_dict())
    model.eval()
    clone.eval()
    with torch.no_grad():
        expected, actual = model(wave)["logits"], clone(wave)["logits"]
    assert torch.isfinite(expected).all() and torch.equal(expected, actual)


def test_cnn1d_in_bins_that_disagree_with_the_frontend_fail_at_the_first_batch():
    model = create_tagger(
        {"frontend": {"name": "logmel", "n_fft": 512, "hop_length": 160, "n_mels": 32},
         "backbone": {"name": "fat2019_cnn1d", "in_bins": 64, "num_blocks": 2}, "head": {"name": "linear"}},
        num_classes=2,
        sample_rate=SR,
    )  # fmt: skip
    with pytest.raises(ValueError, match="set in_bins to the frontend's bins"):
        model(torch.zeros(1, 4000))
