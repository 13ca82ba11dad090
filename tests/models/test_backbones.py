from __future__ import annotations

import pytest
import timm
import torch
from safetensors.torch import save_file

from wildtag.models import BACKBONES, TinyCNN, backbones, create_backbone
from wildtag.models.backbones import PretrainedWeightsError
from wildtag.registry import UnknownNameError

TIMM_NAME = "resnet18"


def _num_params(module: torch.nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def test_tiny_cnn_is_small_and_downsamples_by_sixteen():
    backbone = create_backbone("tiny_cnn", in_chans=1)
    assert 100_000 <= _num_params(backbone) <= 300_000
    assert backbone.num_features == 128
    assert backbone(torch.zeros(2, 1, 64, 160)).shape == (2, 128, 4, 10)


def test_tiny_cnn_widths_are_configurable():
    backbone = create_backbone("tiny_cnn", in_chans=2, widths=[4, 8, 8, 24], pool="max")
    assert backbone.num_features == 24
    assert backbone(torch.zeros(1, 2, 32, 32)).shape == (1, 24, 2, 2)
    with pytest.raises(ValueError, match="four positive block widths"):
        TinyCNN(widths=[8, 16])


def test_timm_backbone_returns_a_feature_map_for_any_in_chans():
    backbone = create_backbone(TIMM_NAME, in_chans=2)
    assert backbone.num_features == 512
    features = backbone(torch.zeros(1, 2, 64, 96))
    assert features.shape == (1, 512, 2, 3)


def test_wildtag_backbones_have_no_published_weights():
    with pytest.raises(PretrainedWeightsError, match="pretrained_path"):
        create_backbone("tiny_cnn", in_chans=1, pretrained=True)


def test_pretrained_offline_names_timms_cache_and_the_local_file_option(monkeypatch, tmp_path):
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path / "empty-cache"))
    monkeypatch.setattr(backbones, "_reachable", lambda cfg: False)  # what a machine without network sees
    with pytest.raises(PretrainedWeightsError) as caught:
        create_backbone(TIMM_NAME, in_chans=1, pretrained=True)
    message = str(caught.value)
    assert "\n" not in message
    assert str(tmp_path / "empty-cache") in message and "pretrained_path" in message
    assert "timm/resnet18" in message


def _fake_hub_cache(root, repo_id: str, state: dict) -> None:
    """The layout huggingface_hub leaves after a download: refs/main -> snapshots/<rev>/model.safetensors."""
    repo = root / f"models--{repo_id.replace('/', '--')}"
    (repo / "refs").mkdir(parents=True)
    (repo / "refs" / "main").write_text("0" * 40)
    snapshot = repo / "snapshots" / ("0" * 40)
    snapshot.mkdir(parents=True)
    save_file(state, snapshot / "model.safetensors")


def test_pretrained_reads_timms_hub_cache_without_network(monkeypatch, tmp_path):
    from huggingface_hub import constants

    source = timm.create_model(TIMM_NAME, pretrained=False)
    _fake_hub_cache(tmp_path, "timm/resnet18.a1_in1k", source.state_dict())
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path))
    monkeypatch.setattr(backbones, "_reachable", lambda cfg: pytest.fail("must not go to the network"))
    backbone = create_backbone(TIMM_NAME, in_chans=3, pretrained=True)
    assert torch.equal(backbone.model.layer2[0].conv1.weight, source.layer2[0].conv1.weight)
    assert torch.equal(backbone.model.conv1.weight, source.conv1.weight)
    assert backbone.pretrained_licence == "apache-2.0"
    assert "models--timm--resnet18.a1_in1k" in backbone.pretrained_source


def test_random_weights_record_no_source():
    for name in ("tiny_cnn", TIMM_NAME):
        backbone = create_backbone(name, in_chans=1)
        assert backbone.pretrained_source is None and backbone.pretrained_licence is None


def test_timm_weights_load_from_a_local_file_adapting_the_first_conv(tmp_path):
    source = timm.create_model(TIMM_NAME, pretrained=False, num_classes=1000)  # as published: 3 channels, fc
    path = tmp_path / "resnet18.pth"
    torch.save(source.state_dict(), path)
    expected = source.state_dict()

    mono = create_backbone(TIMM_NAME, in_chans=1, pretrained=True, pretrained_path=path)
    loaded = mono.model.state_dict()
    assert "fc.weight" not in loaded
    assert torch.equal(loaded["layer3.1.conv2.weight"], expected["layer3.1.conv2.weight"])
    assert torch.equal(loaded["bn1.running_var"], expected["bn1.running_var"])
    # One channel: the RGB filters summed.
    torch.testing.assert_close(loaded["conv1.weight"], expected["conv1.weight"].sum(dim=1, keepdim=True))

    # Two channels: RGB filters repeated, cut to two, rescaled by 3/2 to keep the activation scale.
    two = create_backbone(TIMM_NAME, in_chans=2, pretrained_path=path).model.state_dict()
    torch.testing.assert_close(two["conv1.weight"], expected["conv1.weight"][:, :2] * 1.5)
    assert mono.pretrained_source == str(path) and mono.pretrained_licence == "apache-2.0"


def test_timm_weights_load_from_safetensors_through_timms_path(tmp_path):
    source = timm.create_model(TIMM_NAME, pretrained=False)
    path = tmp_path / "resnet18.safetensors"
    save_file(source.state_dict(), path)
    same = create_backbone(TIMM_NAME, in_chans=3, pretrained_path=path).model.state_dict()
    for key, value in same.items():
        assert torch.equal(value, source.state_dict()[key]), key


def test_tiny_cnn_weights_load_from_a_local_checkpoint_and_safetensors(tmp_path):
    source = TinyCNN(in_chans=1, widths=(4, 8, 8, 16))
    torch.nn.init.normal_(source.blocks[2].conv1.weight, generator=torch.Generator().manual_seed(0))
    checkpoint = tmp_path / "tiny.ckpt"
    torch.save({"state_dict": source.state_dict(), "epoch": 3}, checkpoint)
    loaded = create_backbone("tiny_cnn", in_chans=1, widths=(4, 8, 8, 16), pretrained_path=checkpoint)
    for key, value in source.state_dict().items():
        assert torch.equal(loaded.state_dict()[key], value), key

    safetensors_path = tmp_path / "tiny.safetensors"
    save_file(source.state_dict(), safetensors_path)
    coord = create_backbone("tiny_cnn", in_chans=2, widths=(4, 8, 8, 16), pretrained_path=safetensors_path)
    first = coord.blocks[0].conv1.weight
    assert first.shape[1] == 2
    torch.testing.assert_close(first, source.blocks[0].conv1.weight.repeat(1, 2, 1, 1) * 0.5)
    assert torch.equal(coord.blocks[2].conv1.weight, source.blocks[2].conv1.weight)


def test_weights_of_another_architecture_are_refused_naming_the_file(tmp_path):
    path = tmp_path / "other.pth"
    torch.save(TinyCNN(widths=(4, 8, 8, 16)).state_dict(), path)
    with pytest.raises(ValueError, match="other.pth"):
        create_backbone("tiny_cnn", in_chans=1, pretrained_path=path)  # default widths: shapes differ
    with pytest.raises(ValueError, match=r"other.pth.*missing"):
        create_backbone(TIMM_NAME, in_chans=1, pretrained_path=path)


def test_missing_or_unreadable_weight_files_are_named(tmp_path):
    with pytest.raises(FileNotFoundError, match="absent.pth"):
        create_backbone("tiny_cnn", in_chans=1, pretrained_path=tmp_path / "absent.pth")
    broken = tmp_path / "broken.pth"
    broken.write_bytes(b"not a checkpoint")
    with pytest.raises(ValueError, match="broken.pth: cannot read"):
        create_backbone("tiny_cnn", in_chans=1, pretrained_path=broken)


def test_unknown_backbone_suggests_wildtag_and_timm_names():
    with pytest.raises(UnknownNameError, match="resnet18"):
        create_backbone("resnet_18", in_chans=1)
    with pytest.raises(UnknownNameError, match="tiny_cnn"):
        create_backbone("tiny-cnn", in_chans=1)
    assert "tiny_cnn" in BACKBONES.list()
