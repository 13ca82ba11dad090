from __future__ import annotations

import numpy as np
import pytest

from wildtag.config import ConfigError
from wildtag.embeddings.embed import embed_paths
from wildtag.embeddings.search import embed_query, search, write_raven_hits
from wildtag.embeddings.store import Embeddings, EmbeddingStore, Manifest

from .conftest import write_tone


def _store(tmp_path, dim=8):
    manifest = Manifest(model={"name": "x"}, dim=dim, sample_rate=8000, window_s=1.0, hop_s=1.0, licence=None,
                        source=None, wildtag_version="0")
    return EmbeddingStore.create(tmp_path / "emb", manifest)


def test_search_ranks_by_cosine_across_shards_and_chunks(tmp_path):
    store = _store(tmp_path)
    rng = np.random.default_rng(0)
    vectors = rng.standard_normal((3000, 8)).astype(np.float32)
    for part in np.array_split(np.arange(3000), 3):  # three shards
        store.write_shard(Embeddings(np.array([f"r{i // 100}" for i in part], dtype=object), part * 1.0,
                                     part + 1.0, vectors[part]))
    query = rng.standard_normal(8).astype(np.float32)
    hits = search(store, query, k=7, chunk_rows=256)
    unit = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
    expected = np.argsort(-(unit @ (query / np.linalg.norm(query))))[:7]
    np.testing.assert_array_equal(hits["t0_s"].to_numpy(), expected * 1.0)
    assert list(hits["rank"]) == list(range(1, 8)) and hits["similarity"].is_monotonic_decreasing
    assert hits["recording"].iloc[0] == f"r{expected[0] // 100}"


def test_search_finds_an_inserted_copy_of_the_query_first(tmp_path, onnx_spec):
    survey = tmp_path / "survey"
    for i, freq in enumerate((250.0, 700.0, 1500.0, 3100.0)):
        write_tone(survey / f"rec_{i}.wav", freq, seconds=6.0, seed=i)
    query = write_tone(tmp_path / "query.wav", 1100.0, seconds=1.0, seed=9)  # a call found nowhere else
    inserted = np.concatenate([sf_read(survey / "rec_2.wav")[: 3 * 8000], sf_read(query),
                               sf_read(survey / "rec_2.wav")[4 * 8000:]])
    write_wave(survey / "rec_with_copy.wav", inserted)
    embed_paths(onnx_spec, [survey], tmp_path / "emb", hop_s=0.5, show_progress=False)
    store = EmbeddingStore.open(tmp_path / "emb")
    hits = search(store, embed_query(store, query), k=5)
    first = hits.iloc[0]
    assert (first["recording"], first["t0_s"]) == ("rec_with_copy.wav", 3.0)
    assert first["similarity"] == pytest.approx(1.0, abs=1e-5)

    table = write_raven_hits(hits, tmp_path / "hits.selections.txt")
    lines = table.read_text().splitlines()
    assert len(lines) == 6 and "rec_with_copy.wav" in lines[1] and "rank 1" in lines[1]


def test_a_query_of_another_size_or_a_bad_k_is_refused(tmp_path):
    store = _store(tmp_path)
    with pytest.raises(ConfigError, match="3 dimensions"):
        search(store, np.zeros(3), k=5)
    with pytest.raises(ConfigError, match="k must be"):
        search(store, np.zeros(8), k=0)


def sf_read(path):
    import soundfile as sf

    return sf.read(path, dtype="float32")[0]


def write_wave(path, wave, rate=8000):
    import soundfile as sf

    sf.write(path, wave, rate)
