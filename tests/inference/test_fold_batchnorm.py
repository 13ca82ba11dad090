import pytest
import torch
from torch import nn

from wildtag.inference.backends import create_scorer, fold_batchnorm, relu_in_place
from wildtag.inference.loading import load_ensemble
from wildtag.models.backbones import create_backbone


def _with_trained_looking_batchnorm(module: nn.Module) -> nn.Module:
    generator = torch.Generator().manual_seed(0)
    for m in module.modules():
        if isinstance(m, nn.BatchNorm2d):
            n = m.num_features
            m.running_mean.copy_(torch.rand(n, generator=generator) * 2 - 1)
            m.running_var.copy_(torch.rand(n, generator=generator) * 1.5 + 0.5)
            m.weight.data.copy_(torch.rand(n, generator=generator) + 0.5)
            m.bias.data.copy_(torch.rand(n, generator=generator) - 0.5)
    return module.eval()


def test_folded_tiny_cnn_has_no_batchnorm_and_gives_the_same_features():
    backbone = _with_trained_looking_batchnorm(create_backbone("tiny_cnn", in_chans=1))
    folded = fold_batchnorm(backbone)
    assert not any(isinstance(m, nn.BatchNorm2d) for m in folded.modules())
    assert folded.num_features == backbone.num_features
    x = torch.randn(3, 1, 32, 48)
    with torch.inference_mode():
        expected, got = backbone(x), folded(x)
    assert expected.abs().max() > 0.1  # non-trivial features
    torch.testing.assert_close(got, expected, atol=1e-5, rtol=1e-5)
    assert any(isinstance(m, nn.BatchNorm2d) for m in backbone.modules())  # the original is left as it was


def test_a_backbone_in_training_mode_is_not_folded():
    backbone = create_backbone("tiny_cnn", in_chans=1).train()
    assert fold_batchnorm(backbone) is backbone


@pytest.mark.parametrize("channels_last", [False, True])
def test_scorer_folds_by_default_and_scores_as_the_unfolded_model(tiny_run, channels_last):
    torch.manual_seed(0)
    waves = 0.1 * torch.randn(4, 16000)
    ensemble = load_ensemble(tiny_run)
    for model in ensemble.models:
        _with_trained_looking_batchnorm(model.backbone)
    reference = ensemble.scores(waves)
    scorer = create_scorer(ensemble, device="cpu", channels_last=channels_last)
    assert not any(isinstance(m, nn.BatchNorm2d) for m in scorer.ensemble.models[0].backbone.modules())
    torch.testing.assert_close(scorer.scores(waves), reference, atol=1e-5, rtol=0)


class _ConvWithSkip(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(1, 4, 3, padding=1)
        self.bn = nn.BatchNorm2d(4)
        self.skip_conv = nn.Conv2d(1, 4, 3, padding=1)

    def forward(self, x):
        y = self.skip_conv(x)
        return torch.relu(x) + torch.relu(self.bn(self.conv(x))) + torch.relu(y) + y


def test_relus_of_fresh_maps_run_in_place_and_inputs_or_maps_read_twice_are_left_alone():
    module = _with_trained_looking_batchnorm(_ConvWithSkip())
    fast = relu_in_place(fold_batchnorm(module))
    targets = [node.target for node in fast.graph.nodes if node.op == "call_function"]
    assert targets.count(torch.relu_) == 1 and targets.count(torch.relu) == 2
    x = torch.randn(2, 1, 8, 8)
    kept = x.clone()
    with torch.inference_mode():
        torch.testing.assert_close(fast(x), module(x), atol=1e-5, rtol=1e-5)
    assert torch.equal(x, kept)  # the input's ReLU did not overwrite it


def test_tiny_cnn_scores_with_every_relu_in_place():
    backbone = _with_trained_looking_batchnorm(create_backbone("tiny_cnn", in_chans=1))
    fast = relu_in_place(fold_batchnorm(backbone))
    targets = [node.target for node in fast.graph.nodes if node.op == "call_function"]
    assert targets.count(torch.relu_) == 8 and torch.relu not in targets
    x = torch.randn(3, 1, 32, 48)
    with torch.inference_mode():
        torch.testing.assert_close(fast(x), backbone(x), atol=1e-5, rtol=1e-5)
    assert relu_in_place(backbone) is backbone  # not a graph: unchanged
