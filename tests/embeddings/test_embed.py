from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

import wildtag.embeddings.embed as embed_module
from wildtag.config import ConfigError
from wildtag.embeddings.embed import embed_paths
from wildtag.embeddings.store import EmbeddingStore

from .conftest import RATE, write_tone


@pytest.fixture
def survey(tmp_path):
    root = tmp_path / "survey"
    for i, freq in enumerate((300.0, 900.0, 2000.0)):
        write_tone(root / f"site_{i}" / "dawn.wav", freq, seconds=2.6, seed=i)
    (root / "broken.wav").write_bytes(b"RIFF not really audio")
    return root


def test_embed_writes_one_vector_per_window_and_reports_bad_files(survey, tmp_path, onnx_spec, tiny_embedder):
    summary = embed_paths(onnx_spec, [survey], tmp_path / "emb", hop_s=0.5, show_progress=False)
    assert (summary.n_recordings, summary.n_errors) == (3, 1)
    errors = pd.read_csv(tmp_path / "emb" / "errors.csv")
    assert errors["path"].str.endswith("broken.wav").all() and errors["reason"].str.len().gt(0).all()

    store = EmbeddingStore.open(tmp_path / "emb")
    assert store.manifest.dim == 16 and store.manifest.licence == "cc0-1.0" and store.manifest.hop_s == 0.5
    rows = store.read()
    assert set(rows.recording) == {"site_0/dawn.wav", "site_1/dawn.wav", "site_2/dawn.wav"}
    one = rows.select(rows.recording == "site_1/dawn.wav")
    from wildtag.inference.plan import window_starts

    np.testing.assert_allclose(one.t0_s, window_starts(2.6, 1.0, 0.5))  # the windows predict would score
    np.testing.assert_allclose(one.t1_s - one.t0_s, 1.0)
    from wildtag.audio import load

    wave = load(survey / "site_1" / "dawn.wav", sample_rate=RATE)[RATE // 2: RATE // 2 + RATE]
    with torch.no_grad():
        expected = tiny_embedder(torch.from_numpy(wave)[None]).numpy()[0]
    np.testing.assert_allclose(one.vectors[1], expected, rtol=1e-5, atol=1e-6)


def test_embed_resumes_where_an_interrupted_run_stopped(survey, tmp_path, onnx_spec, monkeypatch):
    whole = embed_paths(onnx_spec, [survey], tmp_path / "whole", hop_s=0.5, show_progress=False)
    reference = EmbeddingStore.open(tmp_path / "whole").read()

    monkeypatch.setattr(embed_module, "SHARD_WINDOWS", 1)  # a shard after every recording
    real_embed, calls = embed_module.EmbeddingFrontend.embed, {"n": 0}

    def dies_on_the_third_batch(self, wave):
        calls["n"] += 1
        if calls["n"] == 3:
            raise KeyboardInterrupt  # kill -INT in the middle of the archive
        return real_embed(self, wave)

    monkeypatch.setattr(embed_module.EmbeddingFrontend, "embed", dies_on_the_third_batch)
    out = tmp_path / "interrupted"
    with pytest.raises(KeyboardInterrupt):
        embed_paths({**onnx_spec, "batch_size": 4}, [survey], out, hop_s=0.5, show_progress=False)
    partial = EmbeddingStore.open(out).recordings()
    assert 0 < len(partial) < 3

    monkeypatch.setattr(embed_module.EmbeddingFrontend, "embed", real_embed)
    resumed = embed_paths({**onnx_spec, "batch_size": 4}, [survey], out, hop_s=0.5, show_progress=False)
    assert resumed.n_already == len(partial) and resumed.n_recordings == 3 - len(partial)
    rows = EmbeddingStore.open(out).read()
    order, ref_order = np.lexsort((rows.t0_s, rows.recording)), np.lexsort((reference.t0_s, reference.recording))
    assert len(rows) == len(reference) == whole.n_windows  # nothing embedded twice, nothing lost
    np.testing.assert_array_equal(rows.recording[order], reference.recording[ref_order])
    np.testing.assert_allclose(rows.vectors[order], reference.vectors[ref_order], rtol=1e-5, atol=1e-6)

    again = embed_paths({**onnx_spec, "batch_size": 4}, [survey], out, hop_s=0.5, show_progress=False)
    assert again.n_recordings == 0 and again.n_already == 3


def test_a_store_refuses_vectors_of_another_model_or_hop(survey, tmp_path, onnx_spec):
    embed_paths(onnx_spec, [survey / "site_0"], tmp_path / "emb", hop_s=0.5, show_progress=False)
    with pytest.raises(ConfigError, match="another model or hop"):
        embed_paths(onnx_spec, [survey / "site_0"], tmp_path / "emb", hop_s=1.0, show_progress=False)


def test_a_spectrogram_frontend_is_not_an_embedding_model(survey, tmp_path):
    with pytest.raises(ConfigError, match="not an embedding model"):
        embed_paths({"name": "logmel", "sample_rate": RATE}, [survey], tmp_path / "emb", show_progress=False)


def test_missing_inputs_are_reported_and_the_rest_embedded(survey, tmp_path, onnx_spec):
    summary = embed_paths(onnx_spec, [survey / "site_0", tmp_path / "absent"], tmp_path / "emb", show_progress=False)
    assert summary.n_recordings == 1
    errors = pd.read_csv(tmp_path / "emb" / "errors.csv")
    assert errors["path"].str.endswith("absent").any()
