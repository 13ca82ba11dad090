"""The embedding store: one vector per window of many recordings, as Parquet shards of predict's journal.

    EMB/
      embeddings.json    what made the vectors: model spec, dim, sample rate, window, hop, licence
      .wildtag/          the resume journal shared with predict (:mod:`wildtag.inference.journal`):
        run.json, lock, manifest.jsonl, shards/embeddings/part-000000.parquet
                         recording (str), t0_s, t1_s (float64), embedding (fixed-size list of float32)
      errors.csv         files that could not be embedded, and why
      summary.json       what the last ``wildtag embed`` did

Only shards the journal's manifest names are read, each recording's rows from its latest committed
shard, so a store is always readable while ``wildtag embed`` adds to it (readers take no lock). Reading
loads vectors as one float32 matrix, or shard by shard (:meth:`EmbeddingStore.iter_shards`) for stores
larger than memory.
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
FORMAT = "wildtag-embeddings/2"  # /1 kept its own shards/ folder; /2 writes through the archive journal
TABLE = "embeddings"  # the journal table holding the vectors
RUNTIME_SETTINGS = ("batch_size", "num_threads", "interpreters")  # model settings that do not change the vectors


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

    def journal_key(self) -> dict[str, Any]:
        """The resume journal's key: what must match for a rerun to add to the store (not batch sizes)."""
        model = {k: v for k, v in self.model.items() if k not in RUNTIME_SETTINGS}
        return {"format": FORMAT, "model": model, "hop_s": float(self.hop_s), "dim": int(self.dim)}

    @property
    def fingerprint(self) -> str:
        return spec_fingerprint(self.journal_key())

    def to_json(self) -> str:
        return json.dumps({"format": FORMAT, **vars(self), "fingerprint": self.fingerprint}, indent=2) + "\n"

    @classmethod
    def from_json(cls, text: str, origin: str) -> Manifest:
        try:
            tree = json.loads(text)
            if tree.get("format") != FORMAT:
                raise ValueError(f"format {tree.get('format')!r}, expected {FORMAT!r}; embed it again into "
                                 "a new folder")
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


def embeddings_table(recording: np.ndarray, t0_s: np.ndarray, t1_s: np.ndarray, vectors: np.ndarray,
                     dim: int):
    """The Arrow table of windows as the store keeps them (``embedding``: fixed-size lists of float32)."""
    import pyarrow as pa

    vectors = np.ascontiguousarray(vectors, dtype=np.float32)
    if vectors.ndim != 2 or vectors.shape[1] != dim:
        raise ValueError(f"vectors shaped {vectors.shape}, this store holds {dim}-d vectors")
    return pa.table({
        "recording": pa.array(np.asarray(recording).astype(str), pa.string()),
        "t0_s": pa.array(np.asarray(t0_s, dtype=np.float64), pa.float64()),
        "t1_s": pa.array(np.asarray(t1_s, dtype=np.float64), pa.float64()),
        "embedding": pa.FixedSizeListArray.from_arrays(pa.array(vectors.reshape(-1), pa.float32()), dim),
    })


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

        root.mkdir(parents=True, exist_ok=True)
        write_text_atomic(root / MANIFEST, manifest.to_json())
        return cls(root, manifest)

    def write_shard(self, rows: Embeddings) -> None:
        """Commit ``rows`` (whole recordings, not from files: no size or time to resume by) as one shard
        through the journal; recordings already in the store are replaced."""
        from wildtag.inference.journal import ArchiveJournal, FileStamp

        with ArchiveJournal(self.root, self.manifest.journal_key()) as journal, \
                journal.shard_writer(max_recordings=max(1, len(rows))) as shards:
            for rid in dict.fromkeys(rows.recording.astype(str)):
                part = rows.select(rows.recording.astype(str) == rid)
                table = embeddings_table(part.recording, part.t0_s, part.t1_s, part.vectors, self.manifest.dim)
                shards.add(rid, FileStamp(0, 0), {TABLE: table}, audio_s=float(np.sum(part.t1_s - part.t0_s)))

    def _entries(self) -> dict[str, Any]:
        from wildtag.inference.journal import committed_entries

        return {rid: e for rid, e in committed_entries(self.root).items() if TABLE in e.rows}

    def iter_shards(self, recordings: set[str] | None = None) -> Iterator[Embeddings]:
        """One :class:`Embeddings` per committed shard (only ``recordings`` when given), in shard order."""
        import pyarrow as pa
        import pyarrow.parquet as pq

        from wildtag.inference.journal import STATE_DIR, part_path

        by_shard: dict[int, list[tuple[int, int]]] = {}
        for rid, entry in self._entries().items():
            if recordings is None or rid in recordings:
                by_shard.setdefault(entry.shard, []).append(entry.rows[TABLE])
        for shard in sorted(by_shard):
            part = pq.read_table(part_path(self.root / STATE_DIR, TABLE, shard))
            spans = sorted(by_shard[shard])
            if spans != [(0, part.num_rows)]:  # some rows replaced by a later shard, or not asked for
                part = pa.concat_tables([part.slice(offset, length) for offset, length in spans])
            if part.num_rows:
                yield _to_embeddings(part, self.manifest.dim)

    def read(self, recordings: set[str] | None = None) -> Embeddings:
        """Every window (of ``recordings`` when given) in one float32 matrix."""
        parts = list(self.iter_shards(recordings))
        if not parts:
            empty = np.zeros(0, dtype=object)
            return Embeddings(empty, np.zeros(0), np.zeros(0), np.zeros((0, self.manifest.dim), np.float32))
        return Embeddings(*(np.concatenate([getattr(p, f) for p in parts])
                            for f in ("recording", "t0_s", "t1_s", "vectors")))

    def recordings(self) -> set[str]:
        """Ids of the recordings the store holds."""
        return set(self._entries())


def _to_embeddings(table: Any, dim: int) -> Embeddings:
    recording = np.asarray(table.column("recording").to_pylist(), dtype=object)
    flat = table.column("embedding").combine_chunks().flatten().to_numpy(zero_copy_only=False)
    return Embeddings(recording, table.column("t0_s").to_numpy(), table.column("t1_s").to_numpy(),
                      flat.astype(np.float32, copy=False).reshape(len(recording), dim))


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
