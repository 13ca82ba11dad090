"""The embedding store: one vector per window of many recordings, as sharded Parquet with a manifest.

    EMB/
      embeddings.json          what made the vectors: model spec, dim, sample rate, window, hop, licence
      shards/part-00000.parquet  recording (str), t0_s, t1_s (float64), embedding (fixed-size list of float32)
      errors.csv               files that could not be embedded, and why
      (the resume journal of :mod:`wildtag.embeddings.embed`)

Each shard holds whole recordings and appears only when complete, so a store is always readable while
``wildtag embed`` adds to it. Reading loads vectors as one float32 matrix, or shard by shard
(:meth:`EmbeddingStore.iter_shards`) for stores larger than memory.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from torch import nn

from wildtag.config import ConfigError
from wildtag.features.base import FRONTENDS

MANIFEST = "embeddings.json"
FORMAT = "wildtag-embeddings/1"


def spec_fingerprint(spec: dict[str, Any]) -> str:
    """sha256 of an embedding model's spec (canonical JSON): vectors of different models never mix."""
    return hashlib.sha256(json.dumps(spec, sort_keys=True, default=str).encode()).hexdigest()


@dataclass(frozen=True)
class Manifest:
    """What made the vectors of a store."""

    model: dict[str, Any]  # the frontend spec {"name": "birdnet", **kwargs}, sample_rate included
    dim: int
    sample_rate: int
    window_s: float
    hop_s: float
    licence: str | None
    source: str | None
    wildtag_version: str

    @property
    def fingerprint(self) -> str:
        return spec_fingerprint({**self.model, "hop_s": self.hop_s})

    def to_json(self) -> str:
        return json.dumps({"format": FORMAT, **vars(self), "fingerprint": self.fingerprint}, indent=2) + "\n"

    @classmethod
    def from_json(cls, text: str, origin: str) -> Manifest:
        try:
            tree = json.loads(text)
            if tree.get("format") != FORMAT:
                raise ValueError(f"format {tree.get('format')!r}, expected {FORMAT!r}")
            return cls(**{k: tree[k] for k in cls.__dataclass_fields__})
        except (ValueError, KeyError, TypeError) as error:
            raise ConfigError(f"{origin}: not a wildtag embedding manifest ({error})") from None


@dataclass
class Embeddings:
    """Windows and their vectors: ``recording[i]``, ``t0_s[i]``, ``t1_s[i]`` and ``vectors[i]`` (float32)."""

    recording: np.ndarray
    t0_s: np.ndarray
    t1_s: np.ndarray
    vectors: np.ndarray

    def __len__(self) -> int:
        return len(self.recording)

    def select(self, mask: np.ndarray) -> Embeddings:
        return Embeddings(self.recording[mask], self.t0_s[mask], self.t1_s[mask], self.vectors[mask])


class EmbeddingStore:
    """A folder of embedding shards (see the module docstring)."""

    def __init__(self, root: str | Path, manifest: Manifest):
        self.root, self.manifest = Path(root), manifest

    @classmethod
    def open(cls, root: str | Path) -> EmbeddingStore:
        """An existing store; a folder without a manifest is a :class:`ConfigError` naming it."""
        path = Path(root) / MANIFEST
        if not path.is_file():
            raise ConfigError(f"{root}: not an embedding store (no {MANIFEST}); create it with `wildtag embed`")
        return cls(root, Manifest.from_json(path.read_text(), str(path)))

    @classmethod
    def create(cls, root: str | Path, manifest: Manifest) -> EmbeddingStore:
        """A new store, or the existing one when it was made by the same model (else a ConfigError)."""
        root = Path(root)
        if (root / MANIFEST).is_file():
            store = cls.open(root)
            if store.manifest.fingerprint != manifest.fingerprint:
                raise ConfigError(
                    f"{root} holds embeddings of another model or hop ({store.manifest.model}, hop "
                    f"{store.manifest.hop_s} s); give another --out folder"
                )
            return store
        from wildtag.fileio import write_text_atomic  # pandas, imported only when writing

        (root / "shards").mkdir(parents=True, exist_ok=True)
        write_text_atomic(root / MANIFEST, manifest.to_json())
        return cls(root, manifest)

    @property
    def shard_paths(self) -> list[Path]:
        return sorted((self.root / "shards").glob("part-*.parquet"))

    def next_shard_path(self) -> Path:
        numbers = [int(p.stem.split("-")[1]) for p in self.shard_paths]
        return self.root / "shards" / f"part-{max(numbers, default=-1) + 1:05d}.parquet"

    def write_shard(self, rows: Embeddings) -> Path:
        """Append one shard (whole recordings only), atomically."""
        import pyarrow as pa
        import pyarrow.parquet as pq

        from wildtag.fileio import atomic_path

        dim = self.manifest.dim
        vectors = np.ascontiguousarray(rows.vectors, dtype=np.float32)
        if vectors.ndim != 2 or vectors.shape[1] != dim:
            raise ValueError(f"vectors shaped {vectors.shape}, this store holds {dim}-d vectors")
        table = pa.table({
            "recording": pa.array(rows.recording.astype(str), pa.string()),
            "t0_s": pa.array(rows.t0_s, pa.float64()),
            "t1_s": pa.array(rows.t1_s, pa.float64()),
            "embedding": pa.FixedSizeListArray.from_arrays(pa.array(vectors.reshape(-1)), dim),
        })
        path = self.next_shard_path()
        with atomic_path(path) as tmp:
            pq.write_table(table, tmp)
        return path

    def iter_shards(self, recordings: set[str] | None = None) -> Iterator[Embeddings]:
        """One :class:`Embeddings` per shard (only ``recordings`` when given), in shard order."""
        import pyarrow.parquet as pq

        for path in self.shard_paths:
            table = pq.read_table(path)
            recording = np.asarray(table.column("recording").to_pylist(), dtype=object)
            flat = table.column("embedding").combine_chunks().flatten().to_numpy(zero_copy_only=False)
            rows = Embeddings(recording, table.column("t0_s").to_numpy(), table.column("t1_s").to_numpy(),
                              flat.astype(np.float32, copy=False).reshape(len(recording), self.manifest.dim))
            if recordings is not None:
                rows = rows.select(np.isin(recording, list(recordings)))
            if len(rows):
                yield rows

    def read(self, recordings: set[str] | None = None) -> Embeddings:
        """Every window (of ``recordings`` when given) in one float32 matrix."""
        parts = list(self.iter_shards(recordings))
        if not parts:
            empty = np.zeros(0, dtype=object)
            return Embeddings(empty, np.zeros(0), np.zeros(0), np.zeros((0, self.manifest.dim), np.float32))
        return Embeddings(*(np.concatenate([getattr(p, f) for p in parts])
                            for f in ("recording", "t0_s", "t1_s", "vectors")))

    def recordings(self) -> set[str]:
        """Ids of the recordings the shards hold."""
        import pyarrow.parquet as pq

        found: set[str] = set()
        for path in self.shard_paths:
            found.update(pq.read_table(path, columns=["recording"]).column("recording").to_pylist())
        return found


@FRONTENDS.register("embedding_store")
def embedding_store(path: str, sample_rate: int, model: dict[str, Any] | None = None,
                    hop_s: float | None = None) -> nn.Module:
    """The frontend of a probe trained on an embedding store: its inputs are the cached vectors.

    ``model.frontend: {name: embedding_store, path: EMB, model: {name: birdnet, ...}, hop_s: 1.5}``
    trains the head on the vectors in ``EMB`` (embedding, with ``model``, the labelled recordings not
    there yet); the trained model's card names ``model`` as its frontend, so predict runs it on audio.
    See :mod:`wildtag.embeddings.probe`.
    """
    from wildtag.embeddings.probe import VectorInput

    if (Path(path) / MANIFEST).is_file():
        manifest = EmbeddingStore.open(path).manifest
        dim, rate = manifest.dim, manifest.sample_rate
    elif model is None:
        raise ConfigError(f"model.frontend.path: {path} is not an embedding store yet; run `wildtag embed` "
                          "first, or name the embedding model as model.frontend.model to embed it here")
    else:
        settings = {k: v for k, v in model.items() if k not in ("name", "sample_rate")}
        frontend = FRONTENDS.create(model["name"], sample_rate=sample_rate, **settings)
        dim, rate = frontend.dim, frontend.sample_rate
    if int(rate) != int(sample_rate):
        raise ConfigError(f"embedding store {path} holds {rate} Hz embeddings; set audio.sample_rate: {rate}")
    return VectorInput(dim, int(rate))


embedding_store.is_embedding = True  # not a spectrogram frontend (wildtag list, the frontend tests)
