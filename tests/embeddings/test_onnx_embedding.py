from __future__ import annotations

import numpy as np
import pytest
import torch

from wildtag.config import ConfigError
from wildtag.embeddings.onnx_embedding import OnnxEmbedding
from wildtag.models import create_tagger


def test_onnx_frontend_matches_the_torch_model_it_was_exported_from(tiny_onnx, tiny_embedder):
    frontend = OnnxEmbedding(str(tiny_onnx), sample_rate=8000, window_s=1.0, output_name="embedding",
                             licence="cc0-1.0", batch_size=3)
    wave = torch.randn(7, 8000, generator=torch.Generator().manual_seed(1)) * 0.2
    with torch.no_grad():
        expected = tiny_embedder(wave).numpy()
    np.testing.assert_allclose(frontend.embed(wave), expected, rtol=1e-5, atol=1e-6)
    assert frontend.dim == 16 and frontend(wave).shape == (7, 16, 1, 1)
    assert frontend.licence == "cc0-1.0" and "sha256" in frontend.pretrained_source


def test_a_longer_wave_is_the_mean_of_its_windows_and_a_shorter_one_is_padded(tiny_onnx, tiny_embedder):
    frontend = OnnxEmbedding(str(tiny_onnx), sample_rate=8000, window_s=1.0)
    wave = torch.randn(1, 20000) * 0.2  # 2.5 windows: the last one zero-padded
    padded = torch.cat([wave, torch.zeros(1, 4000)], dim=1).reshape(3, 8000)
    with torch.no_grad():
        expected = tiny_embedder(padded).mean(0).numpy()
    np.testing.assert_allclose(frontend.embed(wave)[0], expected, rtol=1e-5, atol=1e-6)


def test_an_embedding_frontend_makes_a_tagger_with_the_identity_backbone(tiny_onnx):
    spec = {"frontend": {"name": "onnx_embedding", "path": str(tiny_onnx), "window_s": 1.0, "licence": "mit"},
            "backbone": {"name": "identity"}, "head": {"name": "linear"}}
    model = create_tagger(spec, num_classes=3, sample_rate=8000, window_s=1.0, class_names=["a", "b", "c"])
    assert model(torch.randn(2, 8000))["logits"].shape == (2, 3)
    assert model.card.provenance.licence == "mit"


def test_bad_onnx_settings_are_one_line_config_errors(tiny_onnx, tmp_path):
    with pytest.raises(ConfigError, match="no output 'emb'.*embedding"):
        OnnxEmbedding(str(tiny_onnx), sample_rate=8000, window_s=1.0, output_name="emb")
    with pytest.raises(ConfigError, match="no such file"):
        OnnxEmbedding(str(tmp_path / "absent.onnx"), sample_rate=8000, window_s=1.0)
    broken = tmp_path / "broken.onnx"
    broken.write_bytes(b"not onnx")
    with pytest.raises(ConfigError, match="broken.onnx: not a readable ONNX model"):
        OnnxEmbedding(str(broken), sample_rate=8000, window_s=1.0)
