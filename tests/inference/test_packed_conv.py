import pytest
import torch
from torch import nn

from wildtag.inference.backends import TorchScorer, create_scorer, fold_batchnorm, relu_in_place
from wildtag.inference.loading import load_ensemble
from wildtag.inference.packed_conv import PackedConvReLU, pack_conv_relu, packed_conv_available
from wildtag.models.backbones import create_backbone

pytestmark = pytest.mark.skipif(not packed_conv_available(), reason="this torch build has no oneDNN fused calls")


def _packed_tiny_cnn():
    torch.manual_seed(0)
    backbone = create_backbone("tiny_cnn", in_chans=1).eval()
    for m in backbone.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.running_mean.uniform_(-1, 1)
            m.running_var.uniform_(0.5, 2)
    folded = relu_in_place(fold_batchnorm(backbone))
    return backbone, pack_conv_relu(folded)


def test_every_conv_relu_of_tiny_cnn_becomes_one_packed_call_with_the_same_features():
    backbone, packed = _packed_tiny_cnn()
    assert sum(isinstance(m, PackedConvReLU) for m in packed.modules()) == 8  # 4 blocks x 2 convolutions
    assert not any(type(m) is nn.Conv2d for m in packed.modules())
    with torch.inference_mode():
        for shape in [(8, 1, 32, 48), (3, 1, 32, 48), (8, 1, 32, 48)]:  # repacked when the shape changes
            x = torch.randn(shape)
            for memory_format in (torch.contiguous_format, torch.channels_last):
                x = x.contiguous(memory_format=memory_format)
                expected = backbone(x)
                assert expected.abs().max() > 0.01
                torch.testing.assert_close(packed(x), expected, atol=1e-5, rtol=1e-5)


def test_the_packed_weights_survive_a_change_of_memory_format():
    _, packed = _packed_tiny_cnn()
    x = torch.randn(4, 1, 32, 48)
    with torch.inference_mode():
        before = packed(x)
        packed.to(memory_format=torch.channels_last)  # what the scorer does after packing
        torch.testing.assert_close(packed(x.contiguous(memory_format=torch.channels_last)), before)


class _ConvReadTwice(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(1, 4, 3, padding=1)
        self.other = nn.Conv2d(4, 4, 3, padding="same")

    def forward(self, x):
        y = self.conv(x)
        return torch.relu(y) + y + torch.relu(self.other(torch.relu(y)))


def test_a_conv_read_twice_or_with_string_padding_is_left_alone():
    from torch import fx

    module = fx.symbolic_trace(_ConvReadTwice().eval())
    x = torch.randn(2, 1, 8, 8)
    with torch.inference_mode():
        expected = module(x)
        packed = pack_conv_relu(module)
        assert not any(isinstance(m, PackedConvReLU) for m in packed.modules())
        torch.testing.assert_close(packed(x), expected)
    eager = _ConvReadTwice()
    assert pack_conv_relu(eager) is eager  # not a torch.fx graph: unchanged


def test_a_packed_conv_falls_back_to_the_plain_call_off_fp32():
    conv = nn.Conv2d(2, 3, 3, padding=1)
    module = PackedConvReLU(conv)
    x = torch.randn(2, 2, 6, 6, dtype=torch.float64)
    with torch.inference_mode():
        got = module(x)
        assert got.dtype == torch.float64
        torch.testing.assert_close(got, torch.relu(conv.double()(x)))


def test_the_scorer_packs_in_fp32_on_cpu_only(tiny_run):
    waves = 0.1 * torch.randn(4, 16000)
    plain = TorchScorer(load_ensemble(tiny_run), pack_convs=False)
    packed = create_scorer(tiny_run, device="cpu")
    assert any(isinstance(m, PackedConvReLU) for m in packed.ensemble.models[0].backbone.modules())
    assert not any(isinstance(m, PackedConvReLU) for m in plain.ensemble.models[0].backbone.modules())
    torch.testing.assert_close(packed.scores(waves), plain.scores(waves), atol=1e-6, rtol=0)
    bf16 = create_scorer(tiny_run, device="cpu", precision="bf16")
    assert not any(isinstance(m, PackedConvReLU) for m in bf16.ensemble.models[0].backbone.modules())
