from __future__ import annotations

import pytest
import torch
from torch import nn

from wildtag.errors import ModelLoadError
from wildtag.features import FRONTENDS
from wildtag.models import BACKBONES, HEADS, Tagger, create_tagger
from wildtag.models.card import ModelCard

SR = 16000
NUM_SAMPLES = 16000
K = 4
FRONTEND_KW = {"n_fft": 512, "hop_length": 160}
SMALL_TIMM = "resnet18"
EXTRA = {"box_crop": {"out_bins": 32, "out_frames": 48}, "input_dropout": 0.2}


def _cfg(frontend: str = "logmel", backbone: str = "tiny_cnn", head: str = "linear", **extra) -> dict:
    frontend_kw = {"name": frontend, **FRONTEND_KW, **({"n_mels": 32} if frontend == "logmel" else {})}
    backbone_kw = {"name": backbone, **({"widths": [8, 8, 16, 16]} if backbone == "tiny_cnn" else {})}
    return {"frontend": frontend_kw, "backbone": backbone_kw, "head": {"name": head}, **extra}


def _wave(batch: int = 2, seed: int = 0) -> torch.Tensor:
    return torch.randn(batch, NUM_SAMPLES, generator=torch.Generator().manual_seed(seed))


def _is_embedding(name: str) -> bool:
    return getattr(FRONTENDS.get(name), "is_embedding", False)


def _sweep() -> list[tuple[str, str, str, dict]]:
    """Each registered part once beside the defaults of the others (one small timm backbone too), each
    also with a box crop and input dropout (but the slower timm backbone)."""
    parts = [(f, "tiny_cnn", "linear") for f in FRONTENDS.list() if not _is_embedding(f)]  # tests/embeddings
    parts += [("logmel", b, "linear") for b in [*BACKBONES.list(), SMALL_TIMM]]
    parts += [("logmel", "tiny_cnn", h) for h in HEADS.list()]
    cases = [(*part, {}) for part in dict.fromkeys(parts)]
    return cases + [(*part, EXTRA) for part in dict.fromkeys(parts) if part[1] != SMALL_TIMM]


@pytest.mark.parametrize(("frontend", "backbone", "head", "extra"), _sweep())
def test_every_part_trains_and_round_trips_through_its_card(frontend, backbone, head, extra):
    model = create_tagger(
        _cfg(frontend, backbone, head, **extra),
        num_classes=K,
        sample_rate=SR,
        window_s=1.0,
        class_names=list("abcd"),
    )
    wave = _wave()
    boxes = torch.tensor([[500.0, 4000.0, 0.6], [1000.0, 7000.0, 1.0]]) if extra else None

    model.train()
    out = model(wave, boxes)
    assert out["logits"].shape == (2, K)
    if "frame_logits" in out:
        assert out["frame_logits"].shape[0] == 2 and out["frame_logits"].shape[2] == K
    assert all(torch.isfinite(v).all() for v in out.values())
    out["logits"].sum().backward()
    grads = [p.grad for p in model.parameters() if p.requires_grad]
    assert all(g is not None and torch.isfinite(g).all() for g in grads)
    assert any(g.abs().sum() > 0 for g in grads)

    # The model card survives JSON and rebuilds the same architecture.
    clone = Tagger.from_card(ModelCard.from_json(model.card.to_json()))
    clone.load_state_dict(model.state_dict())
    model.eval()
    clone.eval()
    with torch.no_grad():
        expected, actual = model(wave, boxes), clone(wave, boxes)
    assert expected.keys() == actual.keys()
    for key in expected:
        assert torch.equal(expected[key], actual[key]), key
    assert clone.class_names == ["a", "b", "c", "d"] and clone.sample_rate == SR


def test_backbone_input_channels_follow_the_frontend():
    cfg = _cfg(backbone=SMALL_TIMM) | {"frontend": {"name": "stft", "freq_coord": True}}
    model = create_tagger(cfg, num_classes=K, sample_rate=SR)
    assert model.frontend.out_channels == 2
    assert model.backbone.model.conv1.in_channels == 2
    assert model.head.fc.in_features == model.backbone.num_features == 512


def test_the_three_stages_compose_to_forward():
    model = create_tagger(_cfg(head="attention"), num_classes=K, sample_rate=SR).eval()
    wave = _wave()
    spec = model.forward_frontend(wave)
    assert spec.shape == (2, 1, 32, model.frontend.num_frames(NUM_SAMPLES))
    staged = model.forward_head(model.forward_features(spec))
    direct = model(wave)
    for key in direct:
        assert torch.equal(staged[key], direct[key])


def test_box_crop_gives_a_fixed_image_and_boxes_need_one():
    model = create_tagger(_cfg(box_crop={"out_bins": 24, "out_frames": 40}), num_classes=K, sample_rate=SR)
    boxes = torch.tensor([[500.0, 2000.0, 0.3], [3000.0, 8000.0, 1.0]])
    assert model.forward_frontend(_wave(), boxes).shape == (2, 1, 24, 40)
    # Without boxes, the whole spectrogram is resized to the same image.
    assert model.forward_frontend(_wave()).shape == (2, 1, 24, 40)
    plain = create_tagger(_cfg(), num_classes=K, sample_rate=SR)
    with pytest.raises(ValueError, match="no box_crop"):
        plain(_wave(), boxes)


class _AddOne(nn.Module):
    def forward(self, spec: torch.Tensor) -> torch.Tensor:
        return spec + 1.0


def test_spec_augment_runs_in_training_mode_only():
    model = create_tagger(_cfg(), num_classes=K, sample_rate=SR)
    model.spec_augment = _AddOne()
    seen = []
    model.backbone.register_forward_hook(lambda module, args, out: seen.append(args[0]))
    spec = model.forward_frontend(_wave())
    model.eval()
    model.forward_features(spec)
    model.train()
    model.forward_features(spec)
    assert torch.equal(seen[0], spec)
    assert torch.equal(seen[1], spec + 1.0)


def test_input_dropout_drops_whole_channels_in_training_only():
    model = create_tagger(
        _cfg() | {"frontend": {"name": "stft", **FRONTEND_KW, "freq_coord": True}, "input_dropout": 0.5},
        num_classes=K,
        sample_rate=SR,
    )
    torch.manual_seed(0)
    seen = []
    model.backbone.register_forward_hook(lambda module, args, out: seen.append(args[0]))
    spec = model.forward_frontend(_wave(batch=16))
    model.train()
    model.forward_features(spec)
    zeroed = (seen[0] == 0).flatten(2).all(dim=2)  # (B, C): channel entirely zero
    kept = ~zeroed
    assert zeroed.any() and kept.any()
    torch.testing.assert_close(seen[0][kept], 2.0 * spec[kept])
    model.eval()
    model.forward_features(spec)
    assert torch.equal(seen[1], spec)


def test_card_records_the_architecture_and_not_the_weights_file(tmp_path):
    path = tmp_path / "tiny.pth"
    torch.save(create_tagger(_cfg(), num_classes=K, sample_rate=SR).backbone.state_dict(), path)
    cfg = _cfg()
    cfg["backbone"]["pretrained_path"] = str(path)
    model = create_tagger(cfg, num_classes=K, sample_rate=SR, window_s=2.5)
    card = model.card
    assert card.sample_rate == SR and card.window_s == 2.5 and card.num_classes == K
    assert card.frontend == {"name": "logmel", **FRONTEND_KW, "n_mels": 32}
    assert "pretrained_path" not in card.backbone and card.provenance.pretrained == str(path)
    path.unlink()  # the file is gone at prediction time: rebuilding must not need it
    assert isinstance(Tagger.from_card(ModelCard.from_dict(card.to_dict())), Tagger)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"heads": {"name": "linear"}}, r"'heads' \(did you mean 'head'\?\)"),
        ({"backbone": "tiny_cnn"}, "'backbone' must be a mapping with a 'name'"),
        ({"box_crop": 64}, "'box_crop' must be null"),
        ({"box_crop": {"out_bins": 8, "frames": 8}}, "box_crop: unknown setting 'frames'"),
        (
            {"frontend": {"name": "logmel", "n_mel": 32}},
            r"frontend 'logmel': unknown setting 'n_mel' \(did you mean 'n_mels'",
        ),
        ({"head": {"name": "linear", "pooling": "max"}}, "head 'linear': unknown setting 'pooling'"),
    ],
)
def test_bad_model_configs_raise_naming_the_key(change, message):
    with pytest.raises(ValueError, match=message):
        create_tagger(_cfg() | change, num_classes=K, sample_rate=SR)


def test_disagreeing_sizes_raise():
    with pytest.raises(ValueError, match="3 class names given for num_classes=4"):
        create_tagger(_cfg(), num_classes=K, sample_rate=SR, class_names=["a", "b", "c"])
    with pytest.raises(ValueError, match="22050 disagrees with sample_rate=16000"):
        create_tagger(
            _cfg() | {"frontend": {"name": "stft", "sample_rate": 22050}}, num_classes=K, sample_rate=SR
        )
    with pytest.raises(ModelLoadError, match="lacks 'window_s'"):
        ModelCard.from_dict({"sample_rate": SR, "frontend": {}, "backbone": {}, "head": {}})
