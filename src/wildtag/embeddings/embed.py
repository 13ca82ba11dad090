"""``wildtag embed``: one embedding per window of every recording, into an :class:`EmbeddingStore`.

    >>> summary = embed_paths({"name": "birdnet", "accept_license": "cc-by-nc-sa-4.0"}, ["survey/"], "emb/")
    >>> summary.n_recordings, summary.n_errors, summary.times_real_time

Windows are streamed and batched across files as predict does (:class:`~wildtag.inference.stream.WindowStream`).
Rows go through predict's resume journal (:mod:`wildtag.inference.journal`, in ``EMB/.wildtag``): every few
hundred recordings (or hours of audio, or two minutes) one shard of whole recordings is committed, keyed
by recording id, file size and modification time under the embedding model's spec and the hop. So a rerun
of the same command after a crash or ``kill -9`` embeds only what no committed shard holds (a changed
file is embedded again), another model or hop in the same store is refused naming what differs
(``overwrite=True`` starts it afresh), and a second run on a store in use is refused. ``errors.csv`` lists
every file or path that could not be used, with the reason, and ``summary.json`` what the run did.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

import wildtag
from wildtag.config import ConfigError
from wildtag.embeddings.base import EmbeddingFrontend
from wildtag.embeddings.store import MANIFEST, TABLE, Manifest, embeddings_table
from wildtag.features.base import FRONTENDS

SHARD_RECORDINGS = 500  # recordings per committed shard at most
SHARD_WINDOWS = 8192  # and about this many windows (as audio seconds: windows x hop)
SHARD_SECONDS = 120.0  # and at least this often


@dataclass
class EmbedSummary:
    """What an embed run added to a store, skipped and could not read."""

    out_dir: Path
    n_recordings: int  # embedded by this run
    n_already: int  # in the store before this run (and unchanged)
    n_windows: int  # embedded by this run
    n_errors: int
    audio_s: float
    wall_s: float

    @property
    def times_real_time(self) -> float:
        return self.audio_s / self.wall_s if self.wall_s > 0 else float("inf")

    def to_dict(self) -> dict[str, Any]:
        """The summary as JSON-able values (``summary.json``)."""
        data = {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(self).items()}
        data.update(wall_s=round(self.wall_s, 3), times_real_time=round(self.times_real_time, 3))
        return data


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
    """The store manifest of vectors made by ``model`` (built from ``spec``) every ``hop_s`` seconds."""
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
    overwrite: bool = False,
    shard_recordings: int = SHARD_RECORDINGS,
) -> EmbedSummary:
    """Embed ``recordings`` (id -> audio file) into the store ``out``, skipping ids committed there already.

    ``problems`` (rows of path and reason: what a scan could not use) go into ``errors.csv`` with the
    files that fail to decode. ``overwrite`` forgets what ``out`` holds and embeds everything again.
    """
    from wildtag.fileio import write_text_atomic
    from wildtag.inference.journal import ArchiveJournal, FileStamp

    started = time.perf_counter()
    model = model or create_embedding_model(spec)
    hop_s = float(hop_s or model.window_s)
    if not hop_s > 0:
        raise ConfigError(f"hop_s must be > 0, got {hop_s}")
    manifest = manifest_for(spec, model, hop_s)
    out = Path(out)
    errors = list(problems or [])  # what the scan could not use: missing paths, symlink loops
    tasks: list[tuple[str, Path, FileStamp]] = []
    for rid, path in recordings.items():
        try:
            tasks.append((rid, Path(path), FileStamp.of(path)))
        except OSError as error:
            errors.append({"path": str(path), "reason": f"cannot read the file ({error.strerror or error})"})
    with ArchiveJournal(out, manifest.journal_key(), overwrite=overwrite) as journal:
        if overwrite or not (out / MANIFEST).is_file():
            write_text_atomic(out / MANIFEST, manifest.to_json())
        todo = [t for t in tasks if not journal.done(t[0], t[2].size, t[2].mtime_ns)]
        n_already = len(tasks) - len(todo)
        with journal.shard_writer(max_recordings=shard_recordings, max_audio_s=SHARD_WINDOWS * hop_s,
                                  max_wall_s=SHARD_SECONDS) as shards:
            done = _embed(model, todo, hop_s, num_workers, show_progress, errors, shards, started)
    _write_report(out, errors)
    summary = EmbedSummary(out, done["n"], n_already, done["windows"], len(errors), done["audio_s"],
                           time.perf_counter() - started)
    write_text_atomic(out / "summary.json", json.dumps(summary.to_dict(), indent=2) + "\n")
    return summary


def _embed(model: EmbeddingFrontend, todo: list, hop_s: float, num_workers: int, show_progress: bool,
           errors: list[dict[str, str]], shards: Any, started: float) -> dict[str, float]:
    """Stream ``todo``'s windows through ``model``; each finished recording goes to ``shards`` whole."""
    from torch.utils.data import DataLoader

    from wildtag.inference.stream import WindowStream, collate_stream
    from wildtag.progress import make_progress

    stream = WindowStream([path for _, path, _ in todo], model.sample_rate, model.window_s, hop_s)
    loader = DataLoader(stream, batch_size=model.batch_size, num_workers=num_workers, collate_fn=collate_stream)
    pending: dict[int, list[tuple[float, np.ndarray]]] = {}
    done = {"n": 0, "windows": 0, "audio_s": 0.0}
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
                rid, path, stamp = todo[i]
                if "error" in event:
                    errors.append({"path": str(path), "reason": event["error"]})
                else:
                    t0 = np.array([t for t, _ in windows], dtype=np.float64)
                    vectors = (np.stack([v for _, v in windows]) if windows
                               else np.zeros((0, model.dim), np.float32))
                    table = embeddings_table(np.full(len(t0), rid, dtype=object), t0, t0 + model.window_s,
                                             vectors, model.dim)
                    shards.add(rid, stamp, {TABLE: table}, audio_s=event["duration_s"],
                               extra={"duration_s": event["duration_s"]})
                    done["n"] += 1
                    done["windows"] += len(t0)
                    done["audio_s"] += event["duration_s"]
                elapsed = max(time.perf_counter() - started, 1e-9)
                bar.update(task, advance=1, rate=f"{done['audio_s'] / elapsed:.1f}x real time")
    return done


def _write_report(out: Path, errors: list[dict[str, str]]) -> None:
    import pandas as pd

    from wildtag.fileio import write_csv_atomic

    write_csv_atomic(pd.DataFrame(errors, columns=["path", "reason"]), out / "errors.csv")


def embed_paths(
    spec: dict[str, Any],
    inputs: list[str | Path],
    out: str | Path,
    **kwargs: Any,
) -> EmbedSummary:
    """Embed every audio file under ``inputs``; recording ids as predict makes them (paths relative to the
    folder given, see :mod:`wildtag.inference.inputs`)."""
    from wildtag.audio import scan_audio
    from wildtag.inference.inputs import recording_ids

    input_paths = [Path(p) for p in inputs]
    scan = scan_audio(input_paths)  # missing paths, unlistable folders, symlink loops: scan.problems
    names = recording_ids(input_paths, scan.files)
    if len(set(names)) != len(names):
        raise ConfigError("two inputs give the same recording id; pass their common parent folder instead")
    problems = [{"path": p.path, "reason": p.reason} for p in scan.problems]
    return embed_recordings(spec, dict(zip(names, scan.files, strict=True)), out, problems=problems, **kwargs)
