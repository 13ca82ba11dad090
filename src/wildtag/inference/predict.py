"""``wildtag predict``: window scores, per-recording scores and an error report for files and folders.

    >>> summary = predict("runs/demo", ["recordings/"], "predictions/")
    >>> summary.n_recordings, summary.n_errors

Outputs (each written whole or not at all):
``windows.parquet`` (recording, t0_s, t1_s, one column per class), ``recordings.csv`` (recording and one
score per class, pooled by the aggregator) and ``errors.csv`` (path, reason) for files that could not be read.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import torch
from torch.utils.data import DataLoader

from wildtag.audio import scan_audio
from wildtag.inference.aggregate import create_aggregator
from wildtag.inference.backends import create_scorer
from wildtag.inference.loading import Ensemble, load_ensemble
from wildtag.inference.stream import WindowStream, collate_stream
from wildtag.progress import make_progress


@dataclass
class PredictionSummary:
    """What a predict run wrote and skipped."""

    out_dir: Path
    n_recordings: int
    n_windows: int
    n_errors: int
    audio_s: float
    wall_s: float

    @property
    def times_real_time(self) -> float:
        return self.audio_s / self.wall_s if self.wall_s > 0 else float("inf")


def recording_names(inputs: list[Path], files: list[Path]) -> list[str]:
    """A readable id per file: its path relative to the folder it was found under, else as given."""
    folders = [p.resolve() for p in inputs if p.is_dir()]
    names = []
    for f in files:
        resolved = f.resolve()
        parent = next((d for d in folders if resolved.is_relative_to(d)), None)
        names.append(resolved.relative_to(parent).as_posix() if parent else str(f))
    return names


def _atomic_target(path: Path) -> Path:
    return path.with_name(f".{path.name}.partial")


def predict(
    run: str | Path,
    inputs: list[str | Path],
    out_dir: str | Path,
    *,
    hop_s: float | None = None,
    batch_size: int = 64,
    aggregate: str | None = None,
    top_k: int = 3,
    num_workers: int = 1,
    device: str | None = None,
    precision: str | None = None,
    backend: str = "torch",
    folds: list[int] | None = None,
    show_progress: bool = True,
) -> PredictionSummary:
    """Score every audio file under ``inputs`` with the fold-averaged models of ``run``."""
    import time

    started = time.perf_counter()
    # backend "onnx": RUN is a folder written by `wildtag export`; its card stands in for the folds
    scorer = create_scorer(run, backend="onnx") if backend == "onnx" else None
    ensemble = Ensemble([], scorer.card) if scorer else load_ensemble(run, folds)
    defaults = ensemble.card.inference
    device = device or ("cuda" if torch.cuda.is_available() else "cpu")
    ensemble.to(device)
    scored_s = defaults.window_s
    hop_s = hop_s or defaults.hop_s
    agg_spec = dict(defaults.aggregate)
    if aggregate:
        agg_spec = {"name": aggregate, **({"k": top_k} if aggregate == "topk_mean" else {})}
    aggregator = create_aggregator(agg_spec.pop("name"), **agg_spec)

    input_paths = [Path(p) for p in inputs]
    scan = scan_audio(input_paths)  # missing paths, unlistable folders, symlink loops: scan.problems
    files = scan.files
    names = recording_names(input_paths, files)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    classes = ensemble.class_names
    schema = pa.schema(
        [("recording", pa.string()), ("t0_s", pa.float64()), ("t1_s", pa.float64())]
        + [(c, pa.float32()) for c in classes]
    )

    stream = WindowStream(files, ensemble.sample_rate, scored_s, hop_s, model_window_s=ensemble.window_s)
    loader = DataLoader(stream, batch_size=batch_size, num_workers=num_workers, collate_fn=collate_stream,
                        persistent_workers=False)
    pending: dict[int, list[tuple[float, np.ndarray]]] = {}
    recording_rows, errors = [], [{"path": p.path, "reason": p.reason} for p in scan.problems]
    n_windows, audio_s = 0, 0.0
    windows_path = out_dir / "windows.parquet"
    writer = pq.ParquetWriter(_atomic_target(windows_path), schema)
    # inference_mode, channels_last, pinned batches on CUDA; bf16 autocast by default on CUDA only
    scorer = scorer or create_scorer(ensemble, backend, precision=precision, device=device)
    with make_progress() as bar:
        task = bar.add_task("predict", total=len(files), rate="", visible=show_progress)
        for batch in loader:
            if batch["wave"] is not None:
                scores = scorer.scores(batch["wave"]).numpy()
                for file_index, t0_s, row in zip(batch["file_index"], batch["t0_s"], scores, strict=True):
                    pending.setdefault(file_index, []).append((t0_s, row))
            for event in batch["events"]:
                i = event["file_index"]
                windows = pending.pop(i, [])
                if "error" in event:
                    errors.append({"path": str(files[i]), "reason": event["error"]})
                else:
                    recording_rows.append(_finish_recording(names[i], windows, scored_s, aggregator,
                                                            classes, writer, schema))
                    n_windows += len(windows)
                    audio_s += event["duration_s"]
                speed = bar.tasks[task].speed
                bar.update(task, advance=1, rate=f"{speed:.2f} files/s" if speed else "")
    writer.close()
    os.replace(_atomic_target(windows_path), windows_path)
    recordings = pd.DataFrame(recording_rows, columns=["recording", *classes])
    _write_csv(recordings, out_dir / "recordings.csv")
    _write_csv(pd.DataFrame(errors, columns=["path", "reason"]), out_dir / "errors.csv")
    return PredictionSummary(out_dir, len(recordings), n_windows, len(errors), audio_s,
                             time.perf_counter() - started)


def _finish_recording(name, windows, window_s, aggregator, classes, writer, schema) -> list:
    """Write one recording's windows and return its pooled row."""
    t0 = np.array([t for t, _ in windows], dtype=np.float64)
    scores = np.stack([s for _, s in windows]).astype(np.float32)
    columns = {"recording": [name] * len(t0), "t0_s": t0, "t1_s": t0 + window_s}
    columns.update({c: scores[:, k] for k, c in enumerate(classes)})
    writer.write_table(pa.table(columns, schema=schema))
    return [name, *aggregator(scores).tolist()]


def _write_csv(frame: pd.DataFrame, path: Path) -> None:
    tmp = _atomic_target(path)
    frame.to_csv(tmp, index=False)
    os.replace(tmp, path)


class _null:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False
