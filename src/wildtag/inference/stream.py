"""Windows streamed out of many recordings, for batching across files with bounded memory.

Worker processes each take every n-th file, decode it block by block (never whole), and emit its
windows in order, then one ``done`` record (or one ``error`` record if the file turned out bad, after
which that file's windows are discarded by the consumer).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import IterableDataset, get_worker_info

from wildtag.audio import AudioError, stream_blocks
from wildtag.inference.plan import window_start_samples


def file_chunks(
    path: Path, sample_rate: int, window_s: float, hop_s: float, block_s: float = 30.0,
    stats: dict[str, float] | None = None,
) -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """``(t0_s, starts, signal)`` per decoded block: the windows of one file whose samples have arrived, as
    start times in seconds and start indices into ``signal`` (each window is ``signal[s : s + window_n]``,
    ``window_n`` = ``window_s`` in samples).

    Windows are those :func:`~wildtag.inference.plan.window_starts` plans, in order; ``signal`` holds at
    most one decode block plus one window, whatever the recording's length (the last window, aligned to
    the end, comes once the file is read; a file shorter than a window comes zero-padded to one window).
    ``stats["duration_s"]`` is set once the file has been read to its end.
    """
    window_n = int(round(window_s * sample_rate))
    hop_n = int(round(hop_s * sample_rate))
    buffer = np.zeros(0, dtype=np.float32)
    buffer_start = 0  # absolute sample index of buffer[0]
    emitted = 0
    received = 0
    for block in stream_blocks(path, sample_rate, int(block_s * sample_rate)):
        buffer = np.concatenate([buffer, block])
        received += len(block)
        ready = max(0, (received - window_n) // hop_n + 1)  # windows [emitted, ready) have all their samples
        if ready > emitted:
            starts = np.arange(emitted, ready, dtype=np.int64) * hop_n
            yield starts / sample_rate, starts - buffer_start, buffer
            emitted = ready
        # keep what the next window needs, and the last window_n samples for an end-aligned last window
        keep_from = min(emitted * hop_n, max(0, received - window_n))
        drop = max(0, keep_from - buffer_start)
        buffer, buffer_start = buffer[drop:], buffer_start + drop
    if received == 0:
        raise AudioError(str(path), "no audio samples")
    if stats is not None:
        stats["duration_s"] = received / sample_rate
    starts = window_start_samples(received, window_n, hop_n)[emitted:]
    if len(starts):
        if len(buffer) < window_n:  # shorter than one window
            buffer = np.pad(buffer, (0, window_n - len(buffer)))
        yield starts / sample_rate, starts - buffer_start, buffer


def file_windows(
    path: Path, sample_rate: int, window_s: float, hop_s: float, block_s: float = 30.0,
    stats: dict[str, float] | None = None,
) -> Iterator[tuple[float, np.ndarray]]:
    """``(t0_s, samples)`` for each window of one file (:func:`file_chunks`, one window at a time)."""
    window_n = int(round(window_s * sample_rate))
    for t0_s, starts, signal in file_chunks(path, sample_rate, window_s, hop_s, block_s, stats):
        for t0, start in zip(t0_s.tolist(), starts.tolist(), strict=True):
            yield t0, signal[start : start + window_n]


class WindowStream(IterableDataset):
    """Iterable over window records of many files; split across DataLoader workers by file.

    With a ``frontend`` (one whose :func:`~wildtag.features.base.shares_frames` is true) each record's
    ``"wave"`` is that frontend's :meth:`~wildtag.features.base.Frontend.scaled_windows` image
    ``(1, F, T)`` instead of the samples, computed from one STFT per decoded block in the worker that
    decoded it: the model then runs only :meth:`~wildtag.features.base.Frontend.finish` and its backbone.
    """

    def __init__(self, files: list[Path], sample_rate: int, window_s: float, hop_s: float,
                 model_window_s: float | None = None, frontend: Any = None):
        self.files, self.sample_rate, self.window_s, self.hop_s = files, sample_rate, window_s, hop_s
        self.window_n = int(round(window_s * sample_rate))
        # windows shorter than the model's input are zero-padded to it (BirdCLEF: 5-s windows into a 7-s model)
        self.model_n = int(round((model_window_s or window_s) * sample_rate))
        if frontend is not None and self.model_n != self.window_n:
            raise ValueError("a stream frontend needs windows as long as the model's input (no padding)")
        self.frontend = frontend

    def _rows(self, starts: np.ndarray, signal: np.ndarray) -> np.ndarray | torch.Tensor:
        """The chunk's model inputs: frontend images, or the windows' samples padded to the model's input."""
        if self.frontend is not None:
            with torch.no_grad():
                return self.frontend.scaled_windows(torch.from_numpy(signal), torch.from_numpy(starts), self.window_n)
        rows = np.stack([signal[s : s + self.window_n] for s in starts.tolist()])  # faster than fancy indexing
        return np.pad(rows, ((0, 0), (0, self.model_n - self.window_n))) if self.model_n > self.window_n else rows

    def __iter__(self) -> Iterator[dict[str, Any]]:
        info = get_worker_info()
        worker, workers = (info.id, info.num_workers) if info else (0, 1)
        for file_index in range(worker, len(self.files), workers):
            path = self.files[file_index]
            stats: dict[str, float] = {}
            try:
                for t0_s, starts, signal in file_chunks(path, self.sample_rate, self.window_s, self.hop_s,
                                                        stats=stats):
                    rows = self._rows(starts, signal)
                    for t0, row in zip(t0_s.tolist(), rows, strict=True):
                        yield {"file_index": file_index, "t0_s": t0, "wave": row}
            except AudioError as error:
                yield {"file_index": file_index, "error": error.reason}
                continue
            except Exception as error:  # a decoder fault must not end the whole archive run
                yield {"file_index": file_index, "error": f"{type(error).__name__}: {error}"}
                continue
            yield {"file_index": file_index, "done": True, "duration_s": stats["duration_s"]}


def collate_stream(records: list[dict[str, Any]]) -> dict[str, Any]:
    """Stack the windows of a batch; keep ``done`` and ``error`` records, in order, beside them."""
    windows = [r for r in records if "wave" in r]
    return {
        "wave": _stack([r["wave"] for r in windows]) if windows else None,
        "file_index": [r["file_index"] for r in windows],
        "t0_s": [r["t0_s"] for r in windows],
        "events": [r for r in records if "wave" not in r],
    }


def _stack(rows: list[np.ndarray | torch.Tensor]) -> torch.Tensor:
    if isinstance(rows[0], torch.Tensor):
        return torch.stack(rows)
    return torch.from_numpy(np.stack(rows))
