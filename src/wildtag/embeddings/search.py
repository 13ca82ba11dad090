"""Search by example: the windows of an embedding store nearest (cosine) to a query clip.

    >>> store = EmbeddingStore.open("emb/")
    >>> hits = search(store, embed_query(store, "call.wav", t0_s=1.2, t1_s=2.0), k=50)
    >>> write_raven_hits(hits, "hits.selections.txt")   # open beside the recordings in Raven to listen

The search is exact: every stored vector is compared, shard by shard and in chunks of ``chunk_rows``, so
memory stays bounded (a few million 1024-d vectors take seconds with numpy). An approximate index
(FAISS, hnswlib, ScaNN) would plug in at :func:`search`: build it once per store from
:meth:`EmbeddingStore.iter_shards` (normalised vectors, inner-product metric), save it beside the shards,
and answer ``k`` nearest from it instead of the chunk loop; the returned table stays the same.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from wildtag.config import ConfigError
from wildtag.embeddings.store import EmbeddingStore

_EPS = 1e-12


def _normalise(vectors: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(vectors, axis=-1, keepdims=True)
    return vectors / np.maximum(norms, _EPS)


def search(store: EmbeddingStore, query: np.ndarray, k: int = 50, chunk_rows: int = 262_144) -> pd.DataFrame:
    """The ``k`` windows most similar to ``query`` (dim,), best first: rank, recording, t0_s, t1_s, similarity."""
    if k < 1:
        raise ConfigError(f"k must be >= 1, got {k}")
    query = np.asarray(query, dtype=np.float32).reshape(-1)
    if query.shape[0] != store.manifest.dim:
        raise ConfigError(f"query has {query.shape[0]} dimensions, the store {store.manifest.dim}")
    query = _normalise(query)
    best_scores = np.zeros(0, dtype=np.float32)
    best_rows: list[tuple[str, float, float]] = []
    for shard in store.iter_shards():
        for start in range(0, len(shard), chunk_rows):
            part = shard.select(np.arange(start, min(start + chunk_rows, len(shard))))
            scores = _normalise(part.vectors) @ query
            top = np.argpartition(-scores, min(k, len(scores)) - 1)[:k] if len(scores) > k else np.arange(len(scores))
            best_scores = np.concatenate([best_scores, scores[top]])
            best_rows += [(str(part.recording[i]), float(part.t0_s[i]), float(part.t1_s[i])) for i in top]
            if len(best_scores) > k:  # keep only the running top k
                keep = np.argpartition(-best_scores, k - 1)[:k]
                best_scores, best_rows = best_scores[keep], [best_rows[i] for i in keep]
    order = np.argsort(-best_scores, kind="stable")
    hits = pd.DataFrame([best_rows[i] for i in order], columns=["recording", "t0_s", "t1_s"])
    hits.insert(0, "rank", np.arange(1, len(hits) + 1))
    hits["similarity"] = best_scores[order].astype(np.float64)
    return hits


def embed_query(store: EmbeddingStore, path: str | Path, t0_s: float | None = None,
                t1_s: float | None = None) -> np.ndarray:
    """The query's vector, made by the store's own embedding model from ``path`` (``t0_s``..``t1_s``).

    A span longer than the model's window is embedded window by window and averaged; a shorter one is
    zero-padded (see :class:`~wildtag.embeddings.base.EmbeddingFrontend`).
    """
    from wildtag.audio import load
    from wildtag.embeddings.embed import create_embedding_model

    model = create_embedding_model(store.manifest.model)
    offset = float(t0_s or 0.0)
    duration = None if t1_s is None else float(t1_s) - offset
    if duration is not None and duration <= 0:
        raise ConfigError(f"--t1 ({t1_s}) must be after --t0 ({offset})")
    wave = load(path, sample_rate=model.sample_rate, offset_s=offset, duration_s=duration)
    return model.embed(wave[None])[0]


def write_raven_hits(hits: pd.DataFrame, path: str | Path) -> Path:
    """The hits as a Raven selection table (label ``rank N``, similarity as a column), atomically."""
    from wildtag.labels import make_events, write_raven

    events = make_events(pd.DataFrame({
        "recording_id": hits["recording"], "t0_s": hits["t0_s"], "t1_s": hits["t1_s"],
        "label": [f"rank {r}" for r in hits["rank"]], "similarity": hits["similarity"].round(6)}))
    return write_raven(events, path, label_column="Annotation")
