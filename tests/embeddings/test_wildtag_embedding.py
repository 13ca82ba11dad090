from __future__ import annotations

import numpy as np
import pytest
import torch

from wildtag.config import ConfigError
from wildtag.embeddings.wildtag_embedding import WildtagEmbedding
from wildtag.inference.loading import load_ensemble


def test_the_penultimate_layer_of_a_run_is_its_pooled_backbone_features(tiny_run):
    frontend = WildtagEmbedding(str(tiny_run))
    model = load_ensemble(tiny_run).models[0]
    wave = torch.randn(3, 16000, generator=torch.Generator().manual_seed(0)) * 0.1
    with torch.no_grad():
        expected = model.forward_features(model.forward_frontend(wave)).mean(dim=(2, 3)).numpy()
    np.testing.assert_allclose(frontend.embed(wave), expected, rtol=1e-5, atol=1e-6)
    assert frontend.dim == model.head.in_features and frontend.sample_rate == 16000
    assert not list(frontend.parameters())  # the run's weights stay out of a probe's state dict


def test_a_run_at_another_rate_is_refused(tiny_run):
    with pytest.raises(ConfigError, match="16000 Hz"):
        WildtagEmbedding(str(tiny_run), sample_rate=32000)
