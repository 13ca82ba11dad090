"""Embedding models as frontends, the embedding store, probes on cached embeddings, search by example.

Registered frontends (see ``wildtag list frontend``): ``birdnet`` (BirdNET 2.4, CC BY-NC-SA 4.0, extra
``wildtag[birdnet]``), ``onnx_embedding`` (any ONNX embedding model, extra ``wildtag[onnx]``),
``wildtag_embedding`` (the penultimate layer of a wildtag run) and ``embedding_store`` (a probe's input:
vectors cached by ``wildtag embed``). Importing this package is cheap: runtimes load when a model is built.

    >>> from wildtag.embeddings.embed import embed_paths
    >>> from wildtag.embeddings.search import search
    >>> embed_paths({"name": "birdnet", "accept_license": "cc-by-nc-sa-4.0"}, ["recordings/"], "emb/")
    >>> search(EmbeddingStore.open("emb/"), query_vector, k=50)
"""

from __future__ import annotations

from wildtag.embeddings import birdnet, onnx_embedding, store, wildtag_embedding  # noqa: F401  (register)
from wildtag.embeddings.base import EmbeddingFrontend
from wildtag.embeddings.store import Embeddings, EmbeddingStore, Manifest

__all__ = ["EmbeddingFrontend", "EmbeddingStore", "Embeddings", "Manifest"]
