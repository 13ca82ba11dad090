"""``wildtag embed``: one embedding per window of every recording, into an :class:`EmbeddingStore`.

    >>> summary = embed_paths({"name": "birdnet", "accept_license": "cc-by-nc-sa-4.0"}, ["survey/"], "emb/")
    >>> summary.n_recordings, summary.n_errors, summary.times_real_time

Windows are streamed and batched across files as predict does (:class:`~wildtag.inference.stream.WindowStream`);
a shard is written every few thousand windows, holding whole recordings only. Running it again on the
same ``--out`` embeds only what is not there yet (an interrupted run loses at most one unwritten shard);
``errors.csv`` lists the files that could not be read, with the reason.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

import wildtag
from wildtag.config import ConfigError
from wildtag.embeddings.base import EmbeddingFrontend
from wildtag.embeddings.store import Embeddings, EmbeddingStore, Manifest
from wildtag.features.base import FRONTENDS

SHARD_WINDOWS = 8192  # windows per shard: small enough to lose little when interrupted
SHARD_SECONDS = 120.0  # and at least this often


@dataclass
class EmbedSummary:
    """What an embed run added to a store, skipped and could not read."""

    out_dir: Path
    n_recordings: int  # embedded by this run
    n_already: int  # in the store before this run
    n_windows: int
    n_errors: int
    audio_s: float
    wall_s: float

    @property
    def times_real_time(self) -> float:
        return self.audio_s / self.wall_s if self.wall_s > 0 else float("inf")


def model_spec(spec: dict[str, Any]) -> dict[str, Any]:
    """A copy of an embedding model's spec with a name, checked to name an embedding frontend."""
    if not isinstance(spec, dict) or not isinstance(spec.get("name"), str):
        raise ConfigError(f"an embedding model is a mapping with a name, e.g. {{name: birdnet}}; got {spec!r}")
    return dict(spec)


def create_embedding_model(spec: dict[str, Any]) -> EmbeddingFrontend:
    """Build the embedding frontend ``spec`` names (``sample_rate`` optional where the model has its own)."""
    spec = model_spec(spec)
    name = spec.pop("name")
    model = FRONTENDS.create(name, **spec)
    if not getattr(model, "is_embedding", False):
        embedders = [n for n in FRONTENDS.list() if getattr(FRONTENDS.get(n), "is_embedding", False)]
        raise ConfigError(f"frontend {name!r} is a spectrogram, not an embedding model; "
                          f"embedding models: {', '.join(embedders)}")
    return model


def manifest_for(spec: dict[str, Any], model: EmbeddingFrontend, hop_s: float) -> Manifest:
    return Manifest(model={**model_spec(spec), "sample_rate": model.sample_rate}, dim=model.dim,
                    sample_rate=model.sample_rate, window_s=model.window_s, hop_s=float(hop_s),
                    licence=model.licence, source=model.pretrained_source, wildtag_version=wildtag.__version__)


def embed_recordings(
    spec: dict[str, Any],
    recordings: dict[str, Path],
    out: str | Path,
    *,
    hop_s: float | None = None,
    num_workers: int = 0,
    problems: list[dict[str, str]] | None = None,
    show_progress: bool = True,
    model: EmbeddingFrontend | None = None,
) -> EmbedSummary:
    """Embed ``recordings`` (id -> audio file) into the store ``out``, skipping ids already there.

    ``problems`` (rows of path and reason) go into ``errors.csv`` beside the files that fail to decode.
    """
    from torch.utils.data import DataLoader

    from wildtag.fileio import write_csv_atomic
    from wildtag.inference.stream import WindowStream, collate_stream
    from wildtag.progress import make_progress

    started = time.perf_counter()
    model = model or create_embedding_model(spec)
    hop_s = float(hop_s or model.window_s)
    if not hop_s > 0:
        raise ConfigError(f"hop_s must be > 0, got {hop_s}")
    store = EmbeddingStore.create(out, manifest_for(spec, model, hop_s))
    done = store.recordings()
    todo = [(rid, Path(path)) for rid, path in recordings.items() if rid not in done]
    errors = list(problems or [])  # what the scan could not use: missing paths, symlink loops
    stream = WindowStream([p for _, p in todo], model.sample_rate, model.window_s, hop_s)
    loader = DataLoader(stream, batch_size=model.batch_size, num_workers=num_workers, collate_fn=collate_stream)
    pending: dict[int, list[tuple[float, np.ndarray]]] = {}
    buffer: list[Embeddings] = []
    n_windows, n_done, audio_s, flushed = 0, 0, 0.0, time.perf_counter()
    with make_progress() as bar:
        task = bar.add_task("embed", total=len(todo), rate="", visible=show_progress)
        for batch in loader:
            if batch["wave"] is not None:
                vectors = model.embed(batch["wave"])
                for file_index, t0_s, vector in zip(batch["file_index"], batch["t0_s"], vectors, strict=True):
                    pending.setdefault(file_index, []).append((t0_s, vector))
            for event in batch["events"]:
                i = event["file_index"]
                windows = pending.pop(i, [])
                if "error" in event:
                    errors.append({"path": str(todo[i][1]), "reason": event["error"]})
                else:
                    t0 = np.array([t for t, _ in windows], dtype=np.float64)
                    buffer.append(Embeddings(np.full(len(t0), todo[i][0], dtype=object), t0, t0 + model.window_s,
                                             np.stack([v for _, v in windows])))
                    n_windows, n_done, audio_s = n_windows + len(t0), n_done + 1, audio_s + event["duration_s"]
                bar.update(task, advance=1, rate=f"{audio_s / max(time.perf_counter() - started, 1e-9):.1f}x real time")
            buffered = sum(len(b) for b in buffer)
            if buffered >= SHARD_WINDOWS or (buffered and time.perf_counter() - flushed > SHARD_SECONDS):
                _flush(store, buffer)
                flushed = time.perf_counter()
    _flush(store, buffer)
    write_csv_atomic(_errors_frame(errors), store.root / "errors.csv")
    return EmbedSummary(store.root, n_done, len(done), n_windows, len(errors), audio_s, time.perf_counter() - started)


def _flush(store: EmbeddingStore, buffer: list[Embeddings]) -> None:
    if buffer:
        store.write_shard(Embeddings(*(np.concatenate([getattr(b, f) for b in buffer])
                                       for f in ("recording", "t0_s", "t1_s", "vectors"))))
        buffer.clear()


def _errors_frame(errors: list[dict[str, str]]):
    import pandas as pd

    return pd.DataFrame(errors, columns=["path", "reason"])


def embed_paths(
    spec: dict[str, Any],
    inputs: list[str | Path],
    out: str | Path,
    **kwargs: Any,
) -> EmbedSummary:
    """Embed every audio file under ``inputs``; recording ids are paths relative to the folder given."""
    from wildtag.audio import scan_audio
    from wildtag.inference.predict import recording_names

    input_paths = [Path(p) for p in inputs]
    scan = scan_audio(input_paths)  # missing paths, unlistable folders, symlink loops: scan.problems
    names = recording_names(input_paths, scan.files)
    if len(set(names)) != len(names):
        raise ConfigError("two inputs give the same recording id; pass their common parent folder instead")
    problems = [{"path": p.path, "reason": p.reason} for p in scan.problems]
    return embed_recordings(spec, dict(zip(names, scan.files, strict=True)), out, problems=problems, **kwargs)
