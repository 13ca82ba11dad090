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


def file_windows(
    path: Path, sample_rate: int, window_s: float, hop_s: float, block_s: float = 30.0,
    stats: dict[str, float] | None = None,
) -> Iterator[tuple[float, np.ndarray]]:
    """``(t0_s, samples)`` for each window of one file, as :func:`~wildtag.inference.plan.window_starts` plans them.

    Holds at most one window plus one decode block in memory, whatever the recording's length: windows are
    emitted as soon as their samples have arrived, the last one (aligned to the end) once the file is read.
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
        while emitted * hop_n + window_n <= received:
            start = emitted * hop_n - buffer_start
            yield emitted * hop_n / sample_rate, buffer[start : start + window_n].copy()
            emitted += 1
        # keep what the next window needs, and the last window_n samples for an end-aligned last window
        keep_from = min(emitted * hop_n, max(0, received - window_n))
        drop = max(0, keep_from - buffer_start)
        buffer, buffer_start = buffer[drop:], buffer_start + drop
    if received == 0:
        raise AudioError(str(path), "no audio samples")
    if stats is not None:
        stats["duration_s"] = received / sample_rate
    starts = window_start_samples(received, window_n, hop_n)
    for start in starts[emitted:]:
        tail = buffer[start - buffer_start : start - buffer_start + window_n]
        yield int(start) / sample_rate, np.pad(tail, (0, window_n - len(tail)))


class WindowStream(IterableDataset):
    """Iterable over window records of many files; split across DataLoader workers by file."""

    def __init__(self, files: list[Path], sample_rate: int, window_s: float, hop_s: float,
                 model_window_s: float | None = None):
        self.files, self.sample_rate, self.window_s, self.hop_s = files, sample_rate, window_s, hop_s
        # windows shorter than the model's input are zero-padded to it (BirdCLEF: 5-s windows into a 7-s model)
        self.model_n = int(round((model_window_s or window_s) * sample_rate))

    def __iter__(self) -> Iterator[dict[str, Any]]:
        info = get_worker_info()
        worker, workers = (info.id, info.num_workers) if info else (0, 1)
        for file_index in range(worker, len(self.files), workers):
            path = self.files[file_index]
            stats: dict[str, float] = {}
            try:
                for t0_s, samples in file_windows(path, self.sample_rate, self.window_s, self.hop_s, stats=stats):
                    if len(samples) < self.model_n:
                        samples = np.pad(samples, (0, self.model_n - len(samples)))
                    yield {"file_index": file_index, "t0_s": t0_s, "wave": samples}
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
        "wave": torch.from_numpy(np.stack([r["wave"] for r in windows])) if windows else None,
        "file_index": [r["file_index"] for r in windows],
        "t0_s": [r["t0_s"] for r in windows],
        "events": [r for r in records if "wave" not in r],
    }
